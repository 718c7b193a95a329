"""proxyspex: find the few feature interactions that drive a black-box model."""

from . import games
from .cache import QueryCache
from .errors import CacheError, PartialOutputError, ValueFunctionError
from .estimator import ProxySPEX, explain, explain_many
from .executors import RayExecutor
from .explanation import Explanation
from .indices import INDICES, interaction_values
from .proxy import TreeConfig
from .spectrum import Spectrum

__version__ = "0.1.0"
__all__ = [
           "INDICES",
           "CacheError",
           "Explanation",
           "PartialOutputError",
           "ProxySPEX",
           "QueryCache",
           "RayExecutor",
           "Spectrum",
           "TreeConfig",
           "ValueFunctionError",
           "explain",
           "explain_many",
           "games",
           "interaction_values",
]
