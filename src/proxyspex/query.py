"""Querying the model: de-duplication, cache, batching, progress, output checks."""

from __future__ import annotations

import numbers
import os
import warnings
from collections.abc import Callable

import numpy as np
from tqdm.auto import tqdm

from .cache import MemoryCache, QueryCache
from .executors import LocalExecutor, RayExecutor, resolve_executor
from .masks import mask_keys

DEFAULT_BATCH_SIZE = 1024


class ValueFunctionError(ValueError):
    """The value function raised or returned something unusable."""


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
        self.cache = open_cache(cache) if key is not None else MemoryCache()
        if batch_size is not None and (not isinstance(batch_size, numbers.Integral) or isinstance(batch_size, bool)
                                       or batch_size < 1):
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.batch_size = int(batch_size or getattr(value_function, "batch_size", None) or DEFAULT_BATCH_SIZE)
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
        if self._run is None:
            self._run = self.executor.start(self.value_function)
        paid: dict[bytes, float] = {}
        if self.progress is None:  # tqdm's None: shown on terminals only; one batch needs no bar
            disable = None if len(X) > self.batch_size else True
        else:
            disable = not self.progress
        starts = range(0, len(X), self.batch_size)
        failure = None
        bar = tqdm(total=len(X), desc="querying", unit="mask", leave=False, disable=disable)
        try:
            for index, raw, error in self._run.map([X[s:s + self.batch_size] for s in starts]):
                rows = slice(starts[index], starts[index] + self.batch_size)
                try:
                    values = self._checked(X[rows], raw, error)
                except ValueFunctionError as exc:
                    failure = failure or exc
                    self._run.stop()  # no new batches; those already running still get cached
                    continue
                self.cache.put(self.key or "", keys[rows], values)
                self.n_paid += len(values)
                paid.update(zip(keys[rows], values.tolist()))
                bar.update(len(values))
        finally:
            bar.close()
        if failure is not None:
            saved = f"{len(paid)} outputs of this call were cached before the failure"
            raise ValueFunctionError(f"{failure} ({saved})") from failure.__cause__
        return paid

    def _checked(self, batch: np.ndarray, raw, error: Exception | None) -> np.ndarray:
        """The batch's finite values, or a ValueFunctionError (after caching the finite values)."""
        if error is not None:
            raise ValueFunctionError(
                f"the value function raised {type(error).__name__}: {error} (batch of {len(batch)} masks)"
            ) from error
        values = check_values(raw, len(batch))
        bad = ~np.isfinite(values)
        if bad.any():
            good = ~bad
            self.cache.put(self.key or "", [k for k, g in zip(mask_keys(batch), good) if g], values[good])
            self.n_paid += int(good.sum())
            first = np.flatnonzero(bad)[0]
            raise ValueFunctionError(
                f"the value function returned {values[first]} for {int(bad.sum())} of {len(batch)} masks, "
                f"e.g. the mask keeping features {np.flatnonzero(batch[first]).tolist()}; values must be "
                f"finite (the finite values of this batch were cached)")
        return values

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
