"""Reports of an explanation."""

from .html import render_html, write_html

__all__ = ["render_html", "write_html"]
