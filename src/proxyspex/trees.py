"""Old home of the exact tree extraction; it lives in :mod:`proxyspex.proxy.trees` now."""

from .proxy.trees import booster_spectrum, leaves_spectrum, sklearn_trees_spectrum

__all__ = ["booster_spectrum", "leaves_spectrum", "sklearn_trees_spectrum"]
