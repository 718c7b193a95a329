"""Baselines with the same estimator shape and result type as ProxySPEX.

``Lasso`` needs only the core dependencies. ``KernelSHAP`` and ``SPEX`` wrap maintained
implementations installed by the ``bench`` extra.
"""

from .kernelshap import KernelSHAP
from .lasso import Lasso, fit_first_order
from .spex import SPEX, spex_min_budget

__all__ = ["SPEX", "KernelSHAP", "Lasso", "fit_first_order", "spex_min_budget"]
