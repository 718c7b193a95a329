"""Skipping the tests of an optional extra that is not installed, with a reason that says how to install it."""

from __future__ import annotations

import importlib
import os

import pytest


def require_extra(module: str, extra: str):
    """``module`` imported, or the test skipped (outside CI) naming the extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        if os.environ.get("CI"):  # CI installs every extra: missing is a failure there
            raise
        pytest.skip(f"needs {module!r} from the {extra!r} extra: pip install 'proxyspex[{extra}]' ({err})")
