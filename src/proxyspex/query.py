"""Querying the model: de-duplication, cache, batching, progress, output checks.

The batch protocol
------------------
:class:`Queries` sends the masks it must pay for in batches and writes each batch's outputs
to the cache as soon as that batch returns, so a run that is killed loses at most the batch
in flight. The batch size is, in order of precedence:

1. ``batch_size=`` given to :class:`Queries` (``explain(..., batch_size=...)``);
2. the value function's ``batch_size`` attribute (a property is fine): the number of masks
   in one model batch. A game sets it to its back-end's natural batch (``Generation`` asks
   ``LocalLM.rows_per_batch``; a server back-end answers a multiple of its concurrency), so
   outputs reach the cache as each model batch finishes without making the model's batches
   smaller. ``None`` means "no preference";
3. :data:`DEFAULT_BATCH_SIZE`.

Outputs are checked by pure functions (:func:`check_values`, :func:`check_batch`); caching is
one explicit step (:meth:`Queries._store`) after the check.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable

import numpy as np
from tqdm.auto import tqdm

from ._validation import check_int
from .cache import MemoryCache, QueryCache
from .errors import PartialOutputError, ValueFunctionError
from .executors import LocalExecutor, RayExecutor, resolve_executor
from .masks import mask_keys

__all__ = ["DEFAULT_BATCH_SIZE", "PartialOutputError", "Queries", "ValueFunctionError", "check_batch",
           "check_values", "open_cache"]

DEFAULT_BATCH_SIZE = 1024
MAX_REASONS = 3  # failure reasons quoted in an error message


def open_cache(cache) -> QueryCache | MemoryCache:
    """``None``/``True``: the per-user SQLite file; ``False``: memory only; a path; or a cache object."""
    if cache is None or cache is True:
        return QueryCache()
    if cache is False:
        return MemoryCache()
    if isinstance(cache, (str, os.PathLike)):
        return QueryCache(cache)
    if all(hasattr(cache, name) for name in ("get", "put")):
        return cache
    raise TypeError(f"cache must be None, a bool, a path or a QueryCache, got {type(cache).__name__}")


def batch_size_of(value_function, batch_size: int | None = None) -> int:
    """Masks per batch: ``batch_size``, else ``value_function.batch_size``, else the default."""
    if batch_size is not None:
        return check_int("batch_size", batch_size, min_value=1, what="a positive integer")
    preferred = getattr(value_function, "batch_size", None)
    if preferred is None:
        return DEFAULT_BATCH_SIZE
    return check_int(f"{type(value_function).__name__}.batch_size", preferred, min_value=1,
                     what="a positive integer (masks per model batch) or None")


class Queries:
    """Evaluates a value function on masks, paying once per distinct mask, ever.

    Every batch of outputs is checked and written to the cache before it is used, so a
    run that dies is resumed by the same call and pays only for the missing masks.
    """

    def __init__(self, value_function: Callable[[np.ndarray], np.ndarray], n: int, *, key: str | None,
                 cache=None, batch_size: int | None = None, progress: bool | None = None,
                 executor: str | LocalExecutor | RayExecutor = "local"):
        self.value_function = value_function
        self.executor = resolve_executor(executor)
        self._run = None  # started on the first batch that is not cached
        self.n = n
        self.key = key
        if key is None and cache not in (None, False):
            warnings.warn("a plain callable has no fingerprint, so its outputs are not persisted; pass "
                          "cache_key='...' to explain() to use the cache", stacklevel=3)
        self.batch_size = batch_size_of(value_function, batch_size)
        self.cache = open_cache(cache) if key is not None else MemoryCache()
        self.progress = progress
        self.n_paid = 0  # inferences run by this object (cache hits excluded)
        self.n_cached = 0  # masks answered from the cache

    def __call__(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=bool)
        keys = mask_keys(X)
        unique_index = {}
        for row, key in enumerate(keys):
            unique_index.setdefault(key, row)
        known = self.cache.get(self.key or "", list(unique_index))
        self.n_cached += len(known)
        missing = [row for key, row in unique_index.items() if key not in known]
        if missing:
            known.update(self._pay(X[missing], [keys[r] for r in missing]))
        return np.array([known[key] for key in keys])

    def _pay(self, X: np.ndarray, keys: list[bytes]) -> dict[bytes, float]:
        """Run the missing masks batch by batch; cache each batch as it arrives, then raise any failure."""
        prepare = getattr(self.cache, "prepare_to_write", None)
        if prepare is not None:
            prepare()  # a read-only or corrupt cache fails here, before anything is paid for
        if self._run is None:
            self._run = self.executor.start(self.value_function)
        paid: dict[bytes, float] = {}
        failures: list[ValueFunctionError] = []
        n_failed = 0
        starts = range(0, len(X), self.batch_size)
        bar = tqdm(total=len(X), desc="querying", unit="mask", leave=False, disable=self._bar_disabled(len(X)))
        try:
            for index, raw, error in self._run.map([X[s:s + self.batch_size] for s in starts]):
                rows = slice(starts[index], starts[index] + self.batch_size)
                values, failure = check_batch(X[rows], raw, error)
                paid.update(self._store(keys[rows], values))
                bar.update(len(values))
                if failure is not None:
                    failures.append(failure)
                    n_failed += int((~np.isfinite(values)).sum())
                    self._run.stop()  # no new batches; those already running still get cached
        finally:
            bar.close()
        if failures:
            raise _summary(failures, n_failed, len(paid)) from failures[0].__cause__
        return paid

    def _store(self, keys: list[bytes], values: np.ndarray) -> dict[bytes, float]:
        """Cache the finite values of one checked batch (they were paid for); return them by key."""
        good = np.isfinite(values)
        kept_keys = [key for key, ok in zip(keys, good) if ok]
        if kept_keys:
            self.cache.put(self.key or "", kept_keys, values[good])
        self.n_paid += len(kept_keys)
        return dict(zip(kept_keys, values[good].tolist()))

    def _bar_disabled(self, m: int) -> bool | None:
        if self.progress is None:  # tqdm's None: shown on terminals only; one batch needs no bar
            return None if m > self.batch_size else True
        return not self.progress

    def close(self) -> None:
        """Release the executor's workers (Ray actors); the next call starts new ones."""
        if self._run is not None:
            self._run.close()
            self._run = None


def check_values(raw, m: int) -> np.ndarray:
    """Coerce a value function's output to ``(m,)`` floats, or say what is wrong with it."""
    values = np.asarray(raw)
    if values.dtype == object or not (np.issubdtype(values.dtype, np.number) or values.dtype == bool):
        raise TypeError(f"the value function must return numbers, got an array of dtype {values.dtype}")
    if np.iscomplexobj(values):
        raise TypeError("the value function returned complex numbers; it must return real floats")
    if values.shape not in ((m,), (m, 1)):
        raise ValueFunctionError(
            f"the value function returned shape {values.shape} for a batch of {m} masks; expected ({m},)")
    return values.reshape(m).astype(float)


def check_batch(batch: np.ndarray, raw, error: BaseException | None) -> tuple[np.ndarray, ValueFunctionError | None]:
    """One batch's outcome as ``(values, failure)``: values are NaN where unusable. Pure: caches nothing.

    ``error`` is what the value function raised (None if it returned ``raw``). A
    :class:`PartialOutputError` keeps its finite rows; any other error loses the batch.
    Raises ``TypeError`` for outputs that are not numbers at all.
    """
    m = len(batch)
    if isinstance(error, PartialOutputError):
        try:
            values = check_values(error.values, m)
        except (TypeError, ValueFunctionError) as exc:
            failure = ValueFunctionError(f"the value function raised PartialOutputError ({error}) with unusable "
                                         f"values: {exc}; a game must give its (m,) values, see with_values()")
            return np.full(m, np.nan), failure
        values[[row for row, _ in error.failures if 0 <= row < m]] = np.nan
        bad = int((~np.isfinite(values)).sum())
        reasons = "; ".join(f"row {row}: {reason}" for row, reason in error.failures[:MAX_REASONS])
        more = f" (and {len(error.failures) - MAX_REASONS} more)" if len(error.failures) > MAX_REASONS else ""
        failure = ValueFunctionError(f"the value function failed on {bad} of {m} masks: {error} [{reasons}{more}]")
        failure.__cause__ = error
        return values, failure
    if error is not None:
        failure = ValueFunctionError(
            f"the value function raised {type(error).__name__}: {error} (batch of {m} masks)")
        failure.__cause__ = error
        return np.full(m, np.nan), failure
    values = check_values(raw, m)
    bad = ~np.isfinite(values)
    if not bad.any():
        return values, None
    first = np.flatnonzero(bad)[0]
    return values, ValueFunctionError(
        f"the value function returned {values[first]} for {int(bad.sum())} of {m} masks, e.g. the mask "
        f"keeping features {np.flatnonzero(batch[first]).tolist()}; values must be finite")


def _summary(failures: list[ValueFunctionError], n_failed: int, n_cached: int) -> ValueFunctionError:
    """One error for a call whose batches failed: the first failure, how many rows, what was kept."""
    others = f"; {len(failures) - 1} more batch(es) failed too" if len(failures) > 1 else ""
    return ValueFunctionError(f"{failures[0]}{others} ({n_failed} masks failed; {n_cached} outputs of this "
                              f"call were cached, so a rerun pays only for the rest)")
