"""Value functions: synthetic games with known spectra, and (with the 'llm' extra) text games."""

from .base import Game
from .synthetic import DoubleNegativeGame, SpectrumGame, SyntheticGame, hierarchical_spectrum

__all__ = ["Game", "SpectrumGame", "SyntheticGame", "DoubleNegativeGame", "hierarchical_spectrum"]
