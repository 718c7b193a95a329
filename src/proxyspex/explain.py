"""Compatibility module: the estimator lives in :mod:`proxyspex.estimator`, the shared base in
:mod:`proxyspex.explainer`, the result in :mod:`proxyspex.explanation`."""

from .estimator import ProxySPEX, explain, explain_many
from .explainer import GameSpec, check_budget, resolve_game
from .explanation import Explanation

__all__ = ["Explanation", "GameSpec", "ProxySPEX", "check_budget", "explain", "explain_many", "resolve_game"]
