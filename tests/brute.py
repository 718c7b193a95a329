"""Brute-force ground truth over the full 2^n table, straight from each index's definition.

Masks are integers: bit i set = feature i kept (``all_masks`` row s is the mask of s). Nothing here
uses proxyspex's conversions.
"""

from __future__ import annotations

from itertools import combinations
from math import comb, factorial

import numpy as np
from scipy.special import bernoulli

from proxyspex.masks import all_masks  # noqa: F401 (re-exported: row s is the mask of integer s)


def bits(s: int) -> tuple[int, ...]:
    return tuple(i for i in range(s.bit_length()) if s >> i & 1)


def to_int(subset) -> int:
    return sum(1 << i for i in subset)


def fourier(table: np.ndarray) -> dict:
    n = int(np.log2(table.size))
    X = all_masks(n).astype(int)
    out = {}
    for k in range(table.size):
        parity = (-1.0) ** (X[:, list(bits(k))].sum(axis=1))
        out[bits(k)] = float(np.mean(table * parity))
    return out


def moebius(table: np.ndarray) -> dict:
    return {bits(t): float(sum((-1) ** (bin(t).count("1") - bin(s).count("1")) * table[s]
                           for s in range(table.size) if s & ~t == 0))
            for t in range(table.size)}


def delta(table: np.ndarray, S: tuple, T: int) -> float:
    """Discrete derivative of f with respect to S at T (T disjoint from S)."""
    return sum((-1) ** (len(S) - len(L)) * table[T | to_int(L)]
               for r in range(len(S) + 1) for L in combinations(S, r))


def outside(n: int, S: tuple):
    rest = [i for i in range(n) if i not in S]
    for r in range(len(rest) + 1):
        for T in combinations(rest, r):
            yield len(T), to_int(T)


def sii(table: np.ndarray, S: tuple) -> float:
    n, s = int(np.log2(table.size)), len(S)
    return sum(factorial(n - t - s) * factorial(t) / factorial(n - s + 1) * delta(table, S, T)
               for t, T in outside(n, S))


def bii(table: np.ndarray, S: tuple) -> float:
    n, s = int(np.log2(table.size)), len(S)
    return sum(delta(table, S, T) for _, T in outside(n, S)) / 2 ** (n - s)


def shapley(table: np.ndarray) -> np.ndarray:
    n = int(np.log2(table.size))
    return np.array([sum(factorial(t) * factorial(n - t - 1) / factorial(n) * delta(table, (i,), T)
                         for t, T in outside(n, (i,))) for i in range(n)])


def banzhaf(table: np.ndarray) -> np.ndarray:
    n = int(np.log2(table.size))
    return np.array([bii(table, (i,)) for i in range(n)])


def k_sii(table: np.ndarray, k: int) -> dict:
    """Recursive Bernoulli definition (Fumagalli et al. 2023), for 1 <= |S| <= k."""
    n = int(np.log2(table.size))
    B = bernoulli(k)
    B[1] = -0.5
    cache = {S: sii(table, S) for r in range(1, k + 1) for S in combinations(range(n), r)}
    out = {}
    for S in cache:
        value = cache[S]
        rest = [i for i in range(n) if i not in S]
        for j in range(1, k - len(S) + 1):
            value += B[j] * sum(cache[tuple(sorted(S + extra))] for extra in combinations(rest, j))
        out[S] = value
    return out


def stii(table: np.ndarray, k: int) -> dict:
    n = int(np.log2(table.size))
    out = {}
    for r in range(1, k + 1):
        for S in combinations(range(n), r):
            if r < k:
                out[S] = delta(table, S, 0)
            else:
                out[S] = k / n * sum(delta(table, S, T) / comb(n - 1, t) for t, T in outside(n, S))
    return out


def _design(n: int, k: int):
    sets = [S for r in range(k + 1) for S in combinations(range(n), r)]
    A = np.array([[float(all(m >> i & 1 for i in S)) for S in sets] for m in range(2 ** n)])
    return sets, A


def faith_banzhaf(table: np.ndarray, k: int) -> dict:
    """Uniformly weighted least-squares fit of order k."""
    n = int(np.log2(table.size))
    sets, A = _design(n, k)
    coef = np.linalg.lstsq(A, table, rcond=None)[0]
    return dict(zip(sets, coef))


def faith_shapley(table: np.ndarray, k: int) -> dict:
    """Shapley-kernel weighted least squares of order k, exact at the empty and full sets."""
    n = int(np.log2(table.size))
    sets, A = _design(n, k)
    sizes = np.array([bin(m).count("1") for m in range(2 ** n)])
    inner = (sizes > 0) & (sizes < n)
    w = np.zeros(2 ** n)
    w[inner] = (n - 1) / (np.array([comb(n, s) for s in sizes[inner]]) * sizes[inner] * (n - sizes[inner]))
    W = np.sqrt(w)[:, None]
    C = A[~inner]
    kkt = np.block([[2 * (A * W).T @ (A * W), C.T], [C, np.zeros((C.shape[0], C.shape[0]))]])
    rhs = np.concatenate([2 * (A * W).T @ (W[:, 0] * table), table[~inner]])
    coef = np.linalg.solve(kkt, rhs)[: len(sets)]
    return dict(zip(sets, coef))
