"""Sparse set-function representations: Fourier (Walsh-Hadamard) and Moebius terms.

A term is a set of feature indices. A :class:`Spectrum` holds ``s`` terms as a sparse
``(s, n)`` support matrix (CSR, sorted indices, one row per term) plus ``(s,)`` values.
Nothing here is ever of size 2^n.

Conventions (x_i = 1 keeps feature i):

    Fourier:  f(x) = sum_k F(k) (-1)^{|x ∩ k|}
    Moebius:  f(S) = sum_{T ⊆ S} m(T)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from itertools import combinations

import numpy as np
import scipy.sparse as sp

from ._validation import check_int
from .term_rows import canonical_terms, check_binary, rows_to_csr, sum_duplicate_rows, terms_to_support, transpose_rows

BASES = ("fourier", "moebius")
MAX_TERM_DEGREE = 24  # subset enumeration costs 2^degree per term


class Spectrum:
    """Sparse coefficients of a set function in the Fourier or Moebius basis.

    Parameters
    ----------
    n : number of features.
    support : ``(s, n)`` sparse or dense bool matrix, one row per term.
    values : ``(s,)`` coefficients.
    basis : ``"fourier"`` or ``"moebius"``; decides how :meth:`predict` evaluates terms.

    Duplicate terms are summed and exact zeros are dropped.
    """

    def __init__(self, n: int, support, values, basis: str = "fourier"):
        if basis not in BASES:
            raise ValueError(f"basis must be one of {BASES}, got {basis!r}")
        n = check_int("n", n, min_value=0)
        if not sp.issparse(support) and np.ndim(support) != 2:
            raise ValueError(f"support must be a 2-D (terms, n) matrix, got shape {np.shape(support)}")
        support = sp.csr_matrix(check_binary(support, "support"), dtype=bool)
        try:
            values = np.asarray(values, dtype=float).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"values must be real numbers: {exc}") from None
        if not np.all(np.isfinite(values)):
            raise ValueError("values must be finite (no NaN or inf)")
        if support.shape != (support.shape[0], n) or support.shape[0] != values.size:
            raise ValueError(
                f"support has shape {support.shape} but n={n} and {values.size} values were given"
            )
        self.n = int(n)
        self.basis = basis
        self.support, self.values = canonical_terms(support, values)

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_dict(cls, n: int, terms: Mapping[tuple, float], basis: str = "fourier") -> Spectrum:
        """Build from ``{(i, j, ...): value}``; ``()`` is the constant term."""
        return cls(n, terms_to_support(list(terms), n), list(terms.values()), basis=basis)

    @classmethod
    def from_table(cls, table: np.ndarray, tol: float = 0.0) -> Spectrum:
        """Exact Fourier spectrum of a full table of 2^n values (fast Walsh-Hadamard transform).

        Row s of the table is the mask whose bit i (of s) keeps feature i.
        """
        table = np.asarray(table, dtype=float)
        n = int(round(np.log2(max(table.size, 1))))
        if table.ndim != 1 or table.size != 2 ** n:
            raise ValueError(f"a full table needs 2^n values, got shape {table.shape}")
        if not np.all(np.isfinite(table)):
            raise ValueError("table values must be finite (no NaN or inf)")
        coef = table.copy()
        for i in range(n):  # butterfly on bit i, halved at each step: the same floats, and finite values
            view = coef.reshape(-1, 2, 2 ** i)  # near the float limit (7e307) no longer overflow
            half = view * 0.5
            view[:] = np.stack([half[:, 0] + half[:, 1], half[:, 0] - half[:, 1]], axis=1)
        keep = np.flatnonzero(np.abs(coef) > tol)
        rows = (keep[:, None] >> np.arange(n)[None, :]) & 1
        return cls(n, rows.astype(bool), coef[keep])

    @classmethod
    def zero(cls, n: int, basis: str = "fourier") -> Spectrum:
        return cls(n, sp.csr_matrix((0, n), dtype=bool), np.zeros(0), basis=basis)

    @classmethod
    def from_canonical(cls, n: int, support: sp.csr_matrix, values: np.ndarray, basis: str = "fourier") -> Spectrum:
        """Wrap data that is already valid, without checks or reordering (fast; for internal pipelines).

        ``support`` must be an ``(s, n)`` bool CSR matrix with sorted indices and no two equal
        rows, ``values`` an ``(s,)`` float array of finite numbers. Rows keep the given order
        (the constructor would sort them), so an ordered candidate list stays ordered.
        """
        spectrum = cls.__new__(cls)
        spectrum.n, spectrum.basis, spectrum.support, spectrum.values = n, basis, support, values
        return spectrum

    _trusted = from_canonical  # the old private name

    # -- views ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.values.size

    def __repr__(self) -> str:
        return f"Spectrum(n={self.n}, terms={len(self)}, basis={self.basis!r}, max_degree={self.max_degree})"

    @property
    def degrees(self) -> np.ndarray:
        """Order |k| of every term."""
        return np.diff(self.support.indptr)

    @property
    def max_degree(self) -> int:
        return int(self.degrees.max()) if len(self) else 0

    def terms(self) -> list[tuple[int, ...]]:
        """Each term as a sorted tuple of feature indices."""
        ind, ptr = self.support.indices, self.support.indptr
        return [tuple(int(i) for i in ind[ptr[r]:ptr[r + 1]]) for r in range(len(self))]

    def to_dict(self) -> dict[tuple[int, ...], float]:
        return dict(zip(self.terms(), self.values.tolist()))

    def by_degree(self) -> Iterable[tuple[int, np.ndarray, np.ndarray]]:
        """Yield ``(d, rows, values)`` with ``rows`` an ``(s_d, d)`` index array per degree."""
        degrees = self.degrees
        for d in np.unique(degrees):
            select = np.flatnonzero(degrees == d)
            rows = self.support[select].indices.reshape(select.size, int(d))
            yield int(d), rows, self.values[select]

    def select(self, keep) -> Spectrum:
        """Keep the terms picked by a boolean mask or index array (in this spectrum's order)."""
        keep = np.asarray(keep)
        if keep.dtype == bool and keep.shape == self.values.shape:
            keep = np.flatnonzero(keep)
        if keep.dtype.kind not in "iu" or (keep.size and (keep.min() < 0 or keep.max() >= len(self))):
            return Spectrum(self.n, self.support[keep], self.values[keep], basis=self.basis)  # let it complain
        keep = np.unique(keep)  # rows of distinct terms stay distinct, in order
        return Spectrum.from_canonical(self.n, self.support[keep], self.values[keep], self.basis)

    def truncate(self, max_order: int) -> Spectrum:
        """Drop every term of order above ``max_order``."""
        return self.select(self.degrees <= max_order)

    def energy(self) -> float:
        """Variance of f under uniform masks (Fourier basis, Parseval): sum of F(k)^2, k != {}."""
        fourier = self.to_fourier()
        return float(np.sum(fourier.values[fourier.degrees > 0] ** 2))

    def top(self, k: int = 10, include_empty: bool = False) -> list[tuple[tuple[int, ...], float]]:
        """The ``k`` terms of largest magnitude, strongest first, as ``(term, value)`` pairs."""
        k = check_int("k", k, min_value=0)
        candidates = np.arange(len(self)) if include_empty else np.flatnonzero(self.degrees > 0)
        order = candidates[np.argsort(-np.abs(self.values[candidates]), kind="stable")][:k]
        terms = self.select(order).to_dict()  # canonical order; re-sort by strength below
        return sorted(terms.items(), key=lambda item: -abs(item[1]))

    # -- evaluation -----------------------------------------------------------------------
    def predict(self, masks) -> np.ndarray:
        """Evaluate the set function on a ``(m, n)`` bool batch of masks."""
        X = self._check_masks(masks)
        out = np.empty(X.shape[0])
        chunk_size = max(1, 2 ** 22 // max(len(self), 1))  # bounds the (chunk, s) design block
        for start in range(0, X.shape[0], chunk_size):
            out[start:start + chunk_size] = self.design_matrix(X[start:start + chunk_size]) @ self.values
        return out

    def design_matrix(self, masks) -> np.ndarray:
        """The ``(m, s)`` matrix of basis functions (parities or AND indicators) on masks.

        Column-major, so that a column per term is written contiguously and BLAS and the
        LASSO solver take it without a copy. Built term by term from the kept/removed rows of
        each feature: no ``(m, n)`` float copy of the masks and no ``(m, s)`` temporary.
        """
        X = self._check_masks(masks)
        out = np.empty((X.shape[0], len(self)), order="F")
        if not len(self):
            return out
        by_feature = transpose_rows(X)  # (n, m): a feature's mask column is one contiguous row
        columns = out.T  # (s, m) C-contiguous view: one term per row
        degrees = self.degrees
        chunk = max(1, 2 ** 24 // max(X.shape[0], 1))  # terms per step: bounds the (chunk, d, m) gather
        for d in np.unique(degrees):
            terms = np.flatnonzero(degrees == d)
            rows = self.support.indices.reshape(-1)[self._term_offsets(terms)]  # (s_d, d) feature indices
            for start in range(0, terms.size, chunk):
                step = terms[start:start + chunk]
                columns[step] = self._basis_rows(by_feature[rows[start:start + chunk]], int(d))
        return out

    def _term_offsets(self, terms: np.ndarray) -> np.ndarray:
        """``(len(terms), d)`` positions in ``support.indices`` of the features of equal-degree terms."""
        d = int(self.degrees[terms[0]])
        return self.support.indptr[terms][:, None] + np.arange(d)[None, :]

    def _basis_rows(self, gathered: np.ndarray, d: int) -> np.ndarray:
        """Basis functions from ``(t, d, m)`` feature rows: (-1)^{|x ∩ k|} or [k ⊆ x]."""
        if d == 0:
            return np.ones((gathered.shape[0], gathered.shape[2]))
        if self.basis == "fourier":
            odd = np.bitwise_xor.reduce(gathered, axis=1)
            return np.where(odd, -1.0, 1.0)
        return np.logical_and.reduce(gathered, axis=1).astype(float)

    def _check_masks(self, masks) -> np.ndarray:
        X = np.asarray(check_binary(masks, "masks"), dtype=bool)
        if X.ndim != 2 or X.shape[1] != self.n:
            raise ValueError(f"masks must have shape (m, {self.n}), got {X.shape}")
        return X

    # -- change of basis ------------------------------------------------------------------
    def to_moebius(self) -> Spectrum:
        """m(T) = (-2)^{|T|} sum_{k ⊇ T} F(k)."""
        if self.basis == "moebius":
            return self
        return superset_sum(self, lambda s, t: (-2.0) ** s, basis="moebius")

    def to_fourier(self) -> Spectrum:
        """F(k) = (-1)^{|k|} sum_{T ⊇ k} m(T) / 2^{|T|}."""
        if self.basis == "fourier":
            return self
        return superset_sum(self, lambda s, t: (-1.0) ** s * 0.5 ** t, basis="fourier")

    # -- arithmetic -----------------------------------------------------------------------
    def __add__(self, other: Spectrum) -> Spectrum:
        if not isinstance(other, Spectrum):
            return NotImplemented
        if other.n != self.n or other.basis != self.basis:
            raise ValueError("can only add spectra with the same n and basis")
        return Spectrum(self.n, sp.vstack([self.support, other.support]),
                        np.concatenate([self.values, other.values]), basis=self.basis)

    def __mul__(self, scale: float) -> Spectrum:
        return Spectrum(self.n, self.support, self.values * float(scale), basis=self.basis)

    __rmul__ = __mul__


# -- subset enumeration ---------------------------------------------------------------------

def superset_sum(
    spectrum: Spectrum,
    weight: Callable[[int, int], float],
    basis: str,
    min_order: int = 0,
    max_order: int | None = None,
) -> Spectrum:
    """Phi(S) = sum_{T ⊇ S} weight(|S|, |T|) * c(T), over the terms T of ``spectrum``.

    Only sets S with ``min_order <= |S| <= max_order`` are produced. Every conversion
    between bases and every interaction index is one call of this function.
    """
    if spectrum.max_degree > MAX_TERM_DEGREE:
        raise ValueError(
            f"a term of order {spectrum.max_degree} is too large to enumerate its subsets "
            f"(limit {MAX_TERM_DEGREE})"
        )
    top = spectrum.max_degree if max_order is None else max_order
    pieces: dict[int, tuple[list, list]] = {}
    for t, rows, values in spectrum.by_degree():
        for s in range(min_order, min(t, top) + 1):
            w = weight(s, t)
            if w == 0:
                continue
            for positions in combinations(range(t), s):
                sub_rows, sub_values = pieces.setdefault(s, ([], []))
                sub_rows.append(rows[:, list(positions)])
                sub_values.append(values * w)
    supports, values = [], []
    for s, (sub_rows, sub_values) in pieces.items():
        rows, vals = sum_duplicate_rows(np.concatenate(sub_rows), np.concatenate(sub_values))
        supports.append(rows_to_csr(rows, spectrum.n))
        values.append(vals)
    if not supports:
        return Spectrum.zero(spectrum.n, basis=basis)
    return Spectrum(spectrum.n, sp.vstack(supports), np.concatenate(values), basis=basis)
