"""Explanation: the sparse interactions of one game, with names, faithfulness and cost."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

import numpy as np

from .indices import _check_order as check_order
from .indices import interaction_values, normalize_index
from .spectrum import Spectrum


class Explanation:
    """Sparse interactions of one game, with names, faithfulness and cost.

    Attributes
    ----------
    spectrum : the sparse Fourier spectrum of the surrogate.
    feature_names : one name per feature.
    faithfulness : R^2 of the surrogate on held-out masks (1.0 when every mask was queried).
    n_queries : distinct masks whose model outputs the explanation used.
    n_paid : of those, how many this call paid for (the rest came from the cache).
    """

    def __init__(self, spectrum: Spectrum, feature_names: list[str], faithfulness: float, n_queries: int,
                 n_paid: int, details: dict | None = None):
        self.spectrum = spectrum
        self.feature_names = feature_names
        self.faithfulness = faithfulness
        self.n_queries = n_queries
        self.n_paid = n_paid
        self.details = details or {}

    @property
    def n(self) -> int:
        return self.spectrum.n

    @cached_property
    def moebius(self) -> Spectrum:
        return self.spectrum.to_moebius()

    def values(self, index: str = "fourier", order: int | None = None) -> Spectrum:
        """The values of ``index`` as a sparse :class:`Spectrum` (the fast path for large n)."""
        name = normalize_index(index)
        if name == "moebius":
            return self.moebius if order is None else self.moebius.truncate(check_order(name, order))
        return interaction_values(self.spectrum, name, order)

    def index(self, index: str = "shapley", order: int | None = None) -> dict[tuple[int, ...], float]:
        """``{(i, j, ...): value}`` for every set with a nonzero value; Shapley and Banzhaf list every feature."""
        name = normalize_index(index)
        values = self.values(name, order).to_dict()
        if name in ("shapley", "banzhaf"):
            return {(i,): values.get((i,), 0.0) for i in range(self.n)}
        return values

    def top(self, k: int = 10, index: str = "fourier", order: int | None = None) -> list[tuple[tuple[str, ...], float]]:
        """The ``k`` strongest non-empty sets of ``index``, named: ``[(("never", "fails"), 3.1), ...]``."""
        return [(self.names(term), value) for term, value in self.values(index, order).top(k)]

    def names(self, term: Sequence[int]) -> tuple[str, ...]:
        return tuple(self.feature_names[i] for i in term)

    def predict(self, masks) -> np.ndarray:
        """Surrogate values on a ``(m, n)`` bool batch of masks."""
        return self.spectrum.predict(masks)

    def to_html(self, path, **kwargs):
        """Write the self-contained HTML report (see :func:`proxyspex.report.write_html`)."""
        from .report import write_html  # the report layer sits above this one; import on use
        return write_html(self, path, **kwargs)

    def __repr__(self) -> str:
        return (f"Explanation(n={self.n}, terms={len(self.spectrum)}, faithfulness={self.faithfulness:.3f}, "
                f"n_queries={self.n_queries})")

    def summary(self, k: int = 10, index: str = "moebius") -> str:
        """A short plain-text report."""
        lines = [(f"{len(self.spectrum)} terms from {self.n_queries} queries; faithfulness R^2 = "
                  f"{self.faithfulness:.3f}"), f"top {k} by {index}:"]
        lines += [f"  {value:+.4f}  {' × '.join(names)}" for names, value in self.top(k, index=index)]
        return "\n".join(lines)
