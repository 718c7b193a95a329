"""Term rows: the sparse (CSR) support matrices of spectra, and the checks and reductions on them.

A term is a set of feature indices; a batch of s terms is an ``(s, n)`` bool CSR matrix with one
row per term. Nothing here knows about bases or coefficients' meaning.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp


def sum_duplicate_rows(rows: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group identical rows of an int matrix and sum their values (no Python dicts)."""
    if rows.shape[1] == 0:
        return rows[:1], np.array([values.sum()])
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    base = int(rows.max()) + 1
    if rows.shape[1] * np.log2(base) < 62:  # pack each row into one int64 key
        keys = rows @ (base ** np.arange(rows.shape[1] - 1, -1, -1, dtype=np.int64))
    else:
        keys = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()
    unique_keys, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return rows[first], np.bincount(inverse.ravel(), weights=values, minlength=unique_keys.size)


def transpose_rows(X: np.ndarray, block: int = 256) -> np.ndarray:
    """``X.T`` made contiguous a block of rows at a time (several times faster than one strided copy)."""
    out = np.empty(X.shape[::-1], dtype=X.dtype)
    for start in range(0, X.shape[0], block):
        out[:, start:start + block] = X[start:start + block].T
    return out


def terms_to_support(terms: list[tuple], n: int) -> sp.csr_matrix:
    """CSR support matrix from a list of index tuples."""
    for term in terms:
        if not isinstance(term, (tuple, list, frozenset)) or not all(isinstance(i, numbers.Integral) for i in term):
            raise TypeError(f"a term must be a tuple of feature indices, got {term!r}")
        if len(set(term)) != len(term):
            raise ValueError(f"the term {term!r} repeats a feature index")
    indptr = np.cumsum([0] + [len(term) for term in terms])
    indices = np.fromiter((i for term in terms for i in term), dtype=np.int64, count=indptr[-1])
    if indices.size and (indices.min() < 0 or indices.max() >= n):
        raise ValueError(f"term indices must lie in [0, {n})")
    return sp.csr_matrix((np.ones(indices.size, dtype=bool), indices, indptr), shape=(len(terms), n))


def check_binary(array, name: str):
    """``array`` (dense or sparse) if it holds only bools or 0/1 numbers, else a clear error."""
    data = array.data if sp.issparse(array) else np.asarray(array)
    if data.dtype == bool:
        return array
    if not np.issubdtype(data.dtype, np.number):
        raise TypeError(f"{name} must hold bools or 0/1 numbers, got dtype {data.dtype}")
    if np.any((data != 0) & (data != 1)):
        raise ValueError(f"{name} must hold only 0 and 1 (or bools), got other values")
    return array


def rows_to_csr(rows: np.ndarray, n: int) -> sp.csr_matrix:
    """Bool CSR support from an ``(s, d)`` array of feature indices, one term per row."""
    s, d = rows.shape
    indptr = np.arange(0, s * d + 1, d) if d else np.zeros(s + 1, dtype=np.int64)
    return sp.csr_matrix((np.ones(s * d, dtype=bool), rows.ravel(), indptr), shape=(s, n))


def canonical_terms(support: sp.csr_matrix, values: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
    """Sorted indices, duplicate terms summed, zero values dropped, rows in canonical order."""
    support = support.copy()
    support.sum_duplicates()
    support.sort_indices()
    degrees = np.diff(support.indptr)
    supports, kept_values = [], []
    for d in np.unique(degrees):
        select = np.flatnonzero(degrees == d)
        rows = support[select].indices.reshape(select.size, int(d))
        rows, vals = sum_duplicate_rows(rows, values[select])
        nonzero = vals != 0
        supports.append(rows_to_csr(rows[nonzero], support.shape[1]))
        kept_values.append(vals[nonzero])
    if not supports:
        return sp.csr_matrix((0, support.shape[1]), dtype=bool), np.zeros(0)
    return sp.vstack(supports, format="csr"), np.concatenate(kept_values)
