"""Baselines with the same estimator shape and result type as ProxySPEX.

``Lasso`` needs only the core dependencies. ``KernelSHAP`` and ``SPEX`` wrap maintained
implementations installed by the ``bench`` extra.
"""

from .lasso import Lasso, fit_first_order

__all__ = ["Lasso", "fit_first_order"]
