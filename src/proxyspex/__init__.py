"""proxyspex: find the few feature interactions that drive a black-box model.

``import proxyspex`` loads the estimator and its result only; ``proxyspex.games`` (and with it
the model back-ends) is imported on first use.
"""

from importlib import import_module

from .cache import QueryCache
from .coarse_to_fine import explain_coarse_to_fine
from .errors import CacheError, PartialOutputError, ValueFunctionError
from .estimator import ProxySPEX, explain, explain_many
from .executors import RayExecutor
from .explainer import GameSpec
from .explanation import Explanation, load
from .indices import INDICES, interaction_values
from .interaction_values import InteractionValues
from .proxy import TreeConfig
from .spectrum import Spectrum

__version__ = "0.1.0"
__all__ = [
           "INDICES",
           "CacheError",
           "Explanation",
           "GameSpec",
           "PartialOutputError",
           "InteractionValues",
           "ProxySPEX",
           "QueryCache",
           "RayExecutor",
           "Spectrum",
           "TreeConfig",
           "ValueFunctionError",
           "explain",
           "explain_coarse_to_fine",
           "explain_many",
           "games",
           "interaction_values",
           "load",
]

_LAZY = ("games", "baselines", "evaluate", "selection", "models", "report")


def __getattr__(name: str):
    """``proxyspex.games`` and the other heavier subpackages, imported when first used."""
    if name in _LAZY:
        return import_module(f".{name}", __name__)
    raise AttributeError(f"module 'proxyspex' has no attribute {name!r}")
