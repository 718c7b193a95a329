"""Querying the model: de-duplication, cache, batching, progress, output checks."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable

import numpy as np
from tqdm.auto import tqdm

from .cache import MemoryCache, QueryCache
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
                 cache=None, batch_size: int | None = None, progress: bool | None = None):
        self.value_function = value_function
        self.n = n
        self.key = key
        if key is None and cache not in (None, False):
            warnings.warn("a plain callable has no fingerprint, so its outputs are not persisted; pass "
                          "cache_key='...' to explain() to use the cache", stacklevel=3)
        self.cache = open_cache(cache) if key is not None else MemoryCache()
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
        paid: dict[bytes, float] = {}
        if self.progress is None:  # tqdm's None: shown on terminals only; one batch needs no bar
            disable = None if len(X) > self.batch_size else True
        else:
            disable = not self.progress
        bar = tqdm(total=len(X), desc="querying", unit="mask", leave=False, disable=disable)
        try:
            for start in range(0, len(X), self.batch_size):
                batch, batch_keys = X[start:start + self.batch_size], keys[start:start + self.batch_size]
                values = self._evaluate(batch, done=len(paid))
                self.cache.put(self.key or "", batch_keys, values)
                self.n_paid += len(values)
                paid.update(zip(batch_keys, values.tolist()))
                bar.update(len(values))
        finally:
            bar.close()
        return paid

    def _evaluate(self, batch: np.ndarray, done: int) -> np.ndarray:
        saved = f"{done} outputs of this call were cached before the failure"
        try:
            raw = self.value_function(batch.copy())
        except Exception as exc:
            raise ValueFunctionError(
                f"the value function raised {type(exc).__name__}: {exc} (batch of {len(batch)} masks; {saved})"
            ) from exc
        values = check_values(raw, len(batch))
        bad = ~np.isfinite(values)
        if bad.any():
            good = ~bad
            self.cache.put(self.key or "", [k for k, g in zip(mask_keys(batch), good) if g], values[good])
            first = np.flatnonzero(bad)[0]
            raise ValueFunctionError(
                f"the value function returned {values[first]} for {int(bad.sum())} of {len(batch)} masks, "
                f"e.g. the mask keeping features {np.flatnonzero(batch[first]).tolist()}; values must be "
                f"finite ({saved}, and so were the finite values of this batch)")
        return values


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
