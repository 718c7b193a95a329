"""Compatibility module: the estimator lives in :mod:`proxyspex.estimator`, the result in
:mod:`proxyspex.explanation`."""

from .estimator import ProxySPEX, check_budget, explain, explain_many, resolve_game
from .explanation import Explanation

__all__ = ["Explanation", "ProxySPEX", "check_budget", "explain", "explain_many", "resolve_game"]
