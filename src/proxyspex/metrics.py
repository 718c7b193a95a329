"""Goodness of fit: one R^2 with one convention, used by the proxy, support selection and the baselines.

    R^2 = 1 - sum (y - yhat)^2 / sum (y - mean y)^2

A constant target (total sum of squares at the level of float rounding) has no variance to
explain: its R^2 is 1 when the prediction is exact to rounding, else 0.
"""

from __future__ import annotations

import numpy as np

__all__ = ["r2_from_sums", "r2_score", "rounding_floor"]


def rounding_floor(y: np.ndarray) -> float:
    """Squared error that float rounding alone leaves on ``y``: sums of squares below it are zero."""
    y = np.asarray(y, dtype=float)
    return float(y.size * (1e-14 * float(np.max(np.abs(y), initial=0.0))) ** 2)


def r2_from_sums(residual_ss: float, total_ss: float, floor: float) -> float:
    """R^2 from the residual and total sums of squares; ``floor`` from :func:`rounding_floor`."""
    if total_ss > floor:
        return float(1.0 - residual_ss / total_ss)
    return float(residual_ss <= floor)


def r2_score(y: np.ndarray, prediction: np.ndarray) -> float:
    """R^2 of ``prediction`` against ``y`` (see the module docstring for a constant ``y``)."""
    y, prediction = np.asarray(y, dtype=float), np.asarray(prediction, dtype=float)
    residual = float(np.sum((y - prediction) ** 2))
    return r2_from_sums(residual, float(np.sum((y - y.mean()) ** 2)), rounding_floor(y))
