"""Errors a value function (a game or a model back-end) raises.

This module imports nothing from the package, so every layer (models, games, queries)
can raise and catch these without importing upward.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class ValueFunctionError(ValueError):
    """The value function raised or returned something unusable."""


class PartialOutputError(ValueFunctionError):
    """Some rows of a batch failed, the others are good and were paid for.

    Raise it from a value function (or a back-end's ``score``/``score_options``) instead of
    discarding a whole batch for one bad row: :class:`~proxyspex.query.Queries` caches the
    finite rows of ``values`` and reports ``failures``.

    Parameters
    ----------
    message : what went wrong, in a sentence.
    values : what the method returns normally (``(m,)`` or ``(m, k)``), NaN on failed rows.
    failures : ``(row, reason)`` pairs, one per failed row (row indices into the batch).
    """

    def __init__(self, message: str, *, values: np.ndarray, failures: Sequence[tuple[int, str]]):
        super().__init__(message)
        self.values = np.asarray(values, dtype=float)
        self.failures = [(int(row), str(reason)) for row, reason in failures]

    def with_values(self, values: np.ndarray) -> PartialOutputError:
        """The same failure carrying other values: how a game turns a back-end's ``(m, k)`` log-probs
        into its ``(m,)`` values (NaN rows stay NaN under arithmetic)."""
        return PartialOutputError(str(self), values=values, failures=self.failures)

    def __reduce__(self):  # picklable with its keyword arguments (Ray ships exceptions between processes)
        return _rebuild_partial, (str(self), self.values, self.failures)


def _rebuild_partial(message: str, values: np.ndarray, failures: list[tuple[int, str]]) -> PartialOutputError:
    return PartialOutputError(message, values=values, failures=failures)


class CacheError(OSError):
    """The query cache file cannot be used as it is: the message names the file and the fix."""
