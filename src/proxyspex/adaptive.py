"""Adaptive budgets: rounds of doubling masks, and a stopping rule that fits LLM value functions.

LLM value functions rarely reach a high R^2: on real reviews the proxy's cross-validated R^2
climbs by a few hundredths per doubling, which an absolute tolerance alone mistakes for
progress until the mask cap. A round is worth paying for only if it can gain more than the
estimate's own uncertainty, so the rule stops when

* the budget is fixed, the mask cap is reached, or the estimate reached ``target_r2``;
* the last doubling gained no more than ``max(tol, half-width of the R^2 interval)`` (a plateau:
  the gain is within the noise of the estimate);
* the next doubling, if gains keep shrinking by the ratio of the last two, would gain no more than
  that either: it would cost as many masks as all rounds so far for a gain nobody could tell from noise;

  both only once the interval is narrow (half-width at most ``PRECISE_HALF_WIDTH``): with few masks a
  small gain is no evidence of a plateau, and those rounds are the cheap ones;
* the next round, projected from the seconds per mask and per fit measured so far, would end
  after ``max_time`` seconds.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

Z_95 = 1.96  # normal quantile of a two-sided 95% interval
# Below this half-width an R^2 estimate can tell a plateau from noise. Wider (few masks), a small gain says
# nothing: on a 16-word review R^2 went 0.61, 0.62 (half-width 0.08), then 0.75 and 0.83 (adaptive_stopping.py).
PRECISE_HALF_WIDTH = 0.05


@dataclass
class Round:
    """One round of an adaptive explanation: its masks, R^2 estimate with interval, and cost."""

    n_masks: int
    r2: float
    r2_low: float
    r2_high: float  # the interval: the proxy's own where it gives one, else :func:`r2_interval`
    n_paid: int  # model outputs paid for in this round (cache hits excluded)
    query_seconds: float
    fit_seconds: float

    @property
    def half_width(self) -> float:
        return (self.r2_high - self.r2_low) / 2

    def as_dict(self) -> dict:
        return asdict(self)


def fit_interval(fit, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """A round's interval: the proxy's own for its R^2 estimate where it gives one, else :func:`r2_interval`
    from the residuals of ``fit`` on its masks ``X`` and values ``y``."""
    low, high = getattr(fit, "faithfulness_interval", (float("nan"), float("nan")))
    if np.isfinite(low) and np.isfinite(high):
        return float(low), float(high)
    return r2_interval(fit.faithfulness, y - fit.spectrum.predict(X))


def r2_interval(r2: float, residuals: np.ndarray, *, z: float = Z_95) -> tuple[float, float]:
    """A normal interval for a pooled R^2 estimate of ``m`` masks, from the spread of the squared errors.

    R^2 = 1 - MSE / Var(y), so its standard error is about (1 - R^2) · sd(e²) / (mean(e²) √m):
    the relative error of a mean of ``m`` squared residuals, scaled to the unexplained share.
    ``residuals`` are the proxy's errors on its own masks; only their shape (not their size,
    which is optimistic in-sample) enters.
    """
    squared = np.asarray(residuals, dtype=float) ** 2
    mean = float(squared.mean()) if squared.size else 0.0
    if squared.size < 2 or mean <= 0 or not math.isfinite(r2):
        return r2, r2
    half = z * max(0.0, 1.0 - r2) * float(squared.std(ddof=1)) / (mean * math.sqrt(squared.size))
    return r2 - half, min(1.0, r2 + half)


@dataclass
class StoppingRule:
    """Decides, after each round, whether to stop and how many masks the next round has."""

    cap: int  # most masks in all
    fixed: bool = False  # a fixed budget: one round
    target_r2: float = 0.99
    tol: float = 0.01
    max_time: float | None = None  # seconds for the whole explanation
    reason: str = ""  # why the rule stopped, once it has

    def next_size(self, rounds: list[Round], elapsed: float) -> int | None:
        """Masks in the next round (about twice the last), or None to stop (``reason`` says why)."""
        last = rounds[-1]
        size = min(2 * last.n_masks, self.cap)
        if self.fixed:
            return self._stop("fixed budget")
        if last.n_masks >= self.cap:
            return self._stop("mask cap")
        if last.r2 >= self.target_r2:
            return self._stop("target_r2")
        # a gain this small is within the noise of the estimate; an imprecise estimate cannot tell a plateau
        floor = max(self.tol, last.half_width)
        precise = last.half_width <= PRECISE_HALF_WIDTH
        if precise and len(rounds) >= 2 and last.r2 - rounds[-2].r2 <= floor:
            return self._stop("plateau")
        if precise and len(rounds) >= 3 and self.projected_gain(rounds) <= floor:
            return self._stop("diminishing gains")
        if self.max_time is not None and elapsed + self.projected_seconds(rounds, size) > self.max_time:
            return self._stop("max_time")
        return size

    @staticmethod
    def projected_gain(rounds: list[Round]) -> float:
        """The next doubling's gain if gains keep shrinking by the ratio of the last two (at most 1)."""
        last, previous = rounds[-1].r2 - rounds[-2].r2, rounds[-2].r2 - rounds[-3].r2
        if last <= 0 or previous <= 0:
            return last
        return last * min(1.0, last / previous)

    @staticmethod
    def projected_seconds(rounds: list[Round], size: int) -> float:
        """Seconds for a round of ``size`` masks: new masks at the measured rate, a fit scaled by size."""
        last = rounds[-1]
        paid = sum(r.n_paid for r in rounds)
        per_mask = sum(r.query_seconds for r in rounds) / paid if paid else 0.0
        return (size - last.n_masks) * per_mask + last.fit_seconds * size / max(last.n_masks, 1)

    def _stop(self, reason: str) -> None:
        self.reason = reason
        return None
