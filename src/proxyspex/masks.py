"""Mask sampling and budget rules."""

from __future__ import annotations

import math

import numpy as np

MIN_BUDGET = 16  # below this there is nothing to hold out for validation
MAX_EXACT_N = 20  # 2^20 masks is the most we ever enumerate


def default_budget(n: int, alpha: float = 1.0) -> int:
    """alpha * n * log2(n) masks, at least MIN_BUDGET, at most 2^n."""
    budget = max(MIN_BUDGET, math.ceil(alpha * n * math.log2(max(n, 2))))
    return min(budget, 2 ** n) if n < 63 else budget


def all_masks(n: int) -> np.ndarray:
    """Every mask of n features, ``(2^n, n)`` bool; row s is the binary expansion of s."""
    if n > MAX_EXACT_N:
        raise ValueError(f"refusing to enumerate 2^{n} masks (limit 2^{MAX_EXACT_N})")
    s = np.arange(2 ** n, dtype=np.int64)
    return ((s[:, None] >> np.arange(n)[None, :]) & 1).astype(bool)


def sample_masks(n: int, m: int, rng: np.random.Generator, exclude: np.ndarray | None = None) -> np.ndarray:
    """``m`` distinct uniform masks, none equal to a row of ``exclude``.

    Distinctness matters: a repeated mask is an inference paid for twice. Up to n = 20, and
    whenever the masks asked for would fill more than half of the 2^n (rejection sampling
    would then crawl), integers are drawn without replacement; otherwise uniform rows are
    drawn and repeats rejected. Asking for more masks than are left is a ``ValueError``.
    """
    exclude = np.zeros((0, n), dtype=bool) if exclude is None else np.asarray(exclude, dtype=bool)
    if n <= MAX_EXACT_N:  # draw integers without replacement
        return _draw_integers(n, m, rng, exclude)
    if n < 63 and m + len(exclude) > 2 ** (n - 1):
        return _draw_integers(n, m, rng, exclude)
    taken = _row_keys(exclude)
    chosen: list[np.ndarray] = []
    while (count := sum(len(c) for c in chosen)) < m:
        draw = _uniform_rows(rng, m - count + 8, n)
        keys = _row_keys(draw)
        first = np.sort(np.unique(keys, return_index=True)[1])  # first copy of each row, in draw order
        fresh = first[~np.isin(keys[first], taken)][: m - count]
        chosen.append(draw[fresh])
        taken = np.concatenate([taken, keys[fresh]])
    return np.concatenate(chosen) if chosen else np.zeros((0, n), dtype=bool)


def _draw_integers(n: int, m: int, rng: np.random.Generator, exclude: np.ndarray) -> np.ndarray:
    """``m`` masks drawn as distinct integers below 2^n that no row of ``exclude`` encodes."""
    taken = exclude.astype(np.int64) @ (1 << np.arange(n, dtype=np.int64))
    free_count = 2 ** n - np.unique(taken).size
    if m > free_count:
        raise ValueError(f"cannot draw {m} new distinct masks of n={n} features: only {free_count} of the "
                         f"2^{n} are left; lower the budget to at most 2^{n} = {2 ** n} masks")
    is_free = np.ones(2 ** n, dtype=bool)
    is_free[taken] = False
    free = np.flatnonzero(is_free)  # ascending, as np.setdiff1d gave (which was 5x slower)
    s = rng.choice(free, size=m, replace=False)
    return ((s[:, None] >> np.arange(n)[None, :]) & 1).astype(bool)


def _uniform_rows(rng: np.random.Generator, m: int, n: int, chunk_bytes: int = 2 ** 26) -> np.ndarray:
    """``rng.random((m, n)) < 0.5`` without the ``(m, n)`` float temporary (same stream, chunked rows)."""
    out = np.empty((m, n), dtype=bool)
    step = max(1, chunk_bytes // (8 * n))
    for start in range(0, m, step):
        out[start:start + step] = rng.random((min(step, m - start), n)) < 0.5
    return out


def _row_keys(X: np.ndarray) -> np.ndarray:
    """One comparable, sortable key (packed bits) per row."""
    packed = np.ascontiguousarray(np.packbits(X, axis=1))
    return packed.view(np.dtype((np.void, max(packed.shape[1], 1)))).ravel()


def mask_keys(X: np.ndarray) -> list[bytes]:
    """A compact byte key per mask row, for caches and de-duplication."""
    return [row.tobytes() for row in np.packbits(np.asarray(X, dtype=bool), axis=1)]
