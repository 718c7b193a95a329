"""Candidate terms for the refit, in the order the support search takes them, with their basis columns.

Candidates are all first-order terms first (when the sample can afford them), then the trees'
higher-order terms by |F(k)|. A :class:`Candidates` carries the basis functions of its terms on
every mask, built once per fold and sliced by every step after it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..spectrum import Spectrum

MAX_REFIT_TERMS = 3000  # the refit factorises a Gram matrix of this size


def candidate_terms(spectrum: Spectrum, n: int, m: int, max_terms: int | None, by_energy: bool = False) -> Spectrum:
    """Terms ordered for the refit: first order first, then by |F(k)| (or all by |F(k)|).

    All n first-order terms join when the sample can afford them, so the refit is never
    worse than a first-order (LASSO-like) model. At most ``max_terms`` terms (default: a
    cap that grows with n and the ``m`` masks).
    """
    pool = spectrum.select(spectrum.degrees > 0)  # the constant is the refit's intercept
    if by_energy:
        return ordered(pool, np.argsort(-np.abs(pool.values), kind="stable")[: max_terms or MAX_REFIT_TERMS])
    if n <= MAX_REFIT_TERMS:  # a negligible value keeps every first-order term in the (zero-dropping) spectrum
        pool = pool + Spectrum(n, sp.eye(n, format="csr", dtype=bool), np.full(n, 1e-300))
    low = np.flatnonzero(pool.degrees == 1)
    high = np.flatnonzero(pool.degrees > 1)
    low = low[np.argsort(-np.abs(pool.values[low]), kind="stable")]
    high = high[np.argsort(-np.abs(pool.values[high]), kind="stable")]
    cap = max_terms or min(MAX_REFIT_TERMS, max(2 * n, m // 4))
    return ordered(pool, np.concatenate([low, high])[:cap])


def ordered(spectrum: Spectrum, order: np.ndarray) -> Spectrum:
    """A view of ``spectrum`` whose terms keep the given order (the constructor would sort)."""
    return Spectrum.from_canonical(spectrum.n, spectrum.support[order], spectrum.values[order], spectrum.basis)


def energy_size(terms: Spectrum, share: float) -> int:
    """Fewest leading terms holding ``share`` of the terms' energy."""
    energy = np.cumsum(terms.values ** 2)
    return int(np.searchsorted(energy, share * energy[-1]) + 1) if energy.size else 0


@dataclass
class Candidates:
    """Ordered candidate terms and their basis functions on every mask (built once)."""

    terms: Spectrum
    columns: np.ndarray  # (m, len(terms)) column-major: column j is terms[j] on every mask

    @classmethod
    def on(cls, terms: Spectrum, X: np.ndarray) -> Candidates:
        """Candidates ``terms`` with their basis functions on the masks ``X``."""
        return cls(terms, terms.design_matrix(X))

    def __len__(self) -> int:
        return len(self.terms)

    def leading(self, size: int) -> Spectrum:
        """The first ``size`` terms."""
        return self.terms.select(np.arange(min(size, len(self))))

    def design(self, rows: np.ndarray | None, size: int) -> np.ndarray:
        """Basis columns of the first ``size`` terms on the masks ``rows`` (all masks for None), a fresh copy."""
        size = min(size, len(self))
        block = self.columns[:, :size] if rows is None else self.columns[rows, :size]
        return np.array(block, order="F")

    def with_pairs(self, pairs: Spectrum, X: np.ndarray) -> Candidates:
        """These candidates with the screened ``pairs`` (strongest first) right after the first-order terms."""
        if not len(pairs):
            return self
        pairs = ordered(pairs, np.argsort(-np.abs(pairs.values), kind="stable"))
        fresh = set(pairs.terms())
        terms = self.terms
        rest = np.array([term not in fresh for term in terms.terms()], dtype=bool)
        low = np.flatnonzero(rest & (terms.degrees == 1))
        high = np.flatnonzero(rest & (terms.degrees != 1))
        support = sp.vstack([terms.support[low], pairs.support, terms.support[high]], format="csr")
        values = np.concatenate([terms.values[low], pairs.values, terms.values[high]])
        columns = np.empty((self.columns.shape[0], values.size), order="F")
        columns[:, :low.size] = self.columns[:, low]
        columns[:, low.size:low.size + len(pairs)] = pairs.design_matrix(X)
        columns[:, low.size + len(pairs):] = self.columns[:, high]
        return Candidates(Spectrum.from_canonical(terms.n, support, values, terms.basis), columns)
