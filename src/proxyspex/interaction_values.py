"""InteractionValues: the values of one interaction index, sparse, named, with shapiq export.

Unlike :class:`~proxyspex.spectrum.Spectrum` (Fourier and Moebius, the bases that evaluate),
these numbers are not coefficients of a basis: nothing here evaluates them as a function.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator, Sequence

import numpy as np

from ._validation import check_feature_names, check_int
from .jsonfile import write_json
from .spectrum import Spectrum

#: Our index names -> shapiq's (shapiq 1.8 ``InteractionValues.index``).
SHAPIQ_INDEX = {"shapley": "SV", "banzhaf": "BV", "sii": "SII", "bii": "BII", "k-sii": "k-SII",
                "stii": "STII", "fsii": "FSII", "fbii": "FBII", "moebius": "Moebius"}
#: shapiq names an index of order 1 by the value it generalises.
_ORDER_ONE = {"sii": "SV", "k-sii": "SV", "stii": "SV", "fsii": "SV", "bii": "BV", "fbii": "BV"}


class InteractionValues:
    """The values of ``index`` on a sparse family of feature sets.

    Attributes
    ----------
    n : number of features.
    index : canonical index name (``"sii"``, ``"k-sii"``, ``"shapley"``, ...).
    max_order : the largest set size the index was computed for.
    baseline_value : the value of the empty input, f(∅); for FBII the fit's intercept, its
        value of the empty set.
    feature_names : one name per feature.
    support : ``(s, n)`` CSR bool matrix, one row per set; values : ``(s,)`` floats.

    Sets that are not stored have value 0. The empty set is stored where the index gives it a
    value (the order-limited explanations k-SII, STII, FSII, FBII, and Moebius).
    """

    def __init__(self, n: int, support, values, *, index: str, max_order: int, baseline_value: float,
                 feature_names: Sequence[str] | None = None):
        terms = Spectrum(check_int("n", n, min_value=0), support, values, basis="moebius")  # checks, canonical rows
        self.n = terms.n
        self.support, self.values = terms.support, terms.values
        self.index = index
        self.max_order = check_int("max_order", max_order, min_value=0)
        if not isinstance(baseline_value, numbers.Real) or isinstance(baseline_value, bool):
            raise TypeError(f"baseline_value must be a real number, got {baseline_value!r}")
        self.baseline_value = float(baseline_value)
        self.feature_names = check_feature_names(feature_names, self.n)
        self._positions: dict[tuple[int, ...], int] | None = None

    @classmethod
    def from_spectrum(cls, spectrum: Spectrum, *, index: str, max_order: int | None = None,
                      baseline_value: float | None = None,
                      feature_names: Sequence[str] | None = None) -> InteractionValues:
        """Wrap the rows of ``spectrum`` (e.g. a Moebius spectrum) as the values of ``index``.

        ``baseline_value`` defaults to the stored empty-set value (0 when there is none).
        """
        if baseline_value is None:
            baseline_value = spectrum.to_dict().get((), 0.0) if len(spectrum) and spectrum.degrees.min() == 0 else 0.0
        return cls(spectrum.n, spectrum.support, spectrum.values, index=index,
                   max_order=spectrum.max_degree if max_order is None else max_order,
                   baseline_value=baseline_value, feature_names=feature_names)

    # -- views ----------------------------------------------------------------------------
    @property
    def degrees(self) -> np.ndarray:
        """Size of every stored set."""
        return np.diff(self.support.indptr)

    def __len__(self) -> int:
        return self.values.size

    def terms(self) -> list[tuple[int, ...]]:
        """Every stored set as a sorted tuple of feature indices."""
        ind, ptr = self.support.indices, self.support.indptr
        return [tuple(int(i) for i in ind[ptr[r]:ptr[r + 1]]) for r in range(len(self))]

    def __iter__(self) -> Iterator[tuple[tuple[int, ...], float]]:
        """``(set, value)`` pairs, by order then feature index."""
        return iter(zip(self.terms(), self.values.tolist()))

    def to_dict(self, names: bool = False) -> dict[tuple, float]:
        """``{(i, j): value}`` for every stored set (keys are names with ``names=True``)."""
        return {(self.names(term) if names else term): value for term, value in self}

    def names(self, term: Sequence[int]) -> tuple[str, ...]:
        """Feature names of a set of indices."""
        return tuple(self.feature_names[i] for i in term)

    def __getitem__(self, key) -> float:
        """Value of one set, by indices (``iv[(0, 3)]``, ``iv[2]``) or names (``iv[("never", "fails")]``)."""
        if self._positions is None:
            self._positions = {term: row for row, term in enumerate(self.terms())}
        row = self._positions.get(self._resolve(key))
        return 0.0 if row is None else float(self.values[row])

    def _resolve(self, key) -> tuple[int, ...]:
        items = (key,) if isinstance(key, (str, numbers.Integral)) else key
        if not isinstance(items, (tuple, list, frozenset, set)):
            raise TypeError(f"look a set up by a tuple of feature indices or names, got {key!r}")
        indices = [self._feature_index(item) for item in items]
        if len(set(indices)) != len(indices):
            raise ValueError(f"the set {key!r} names a feature twice")
        return tuple(sorted(indices))

    def _feature_index(self, item) -> int:
        if isinstance(item, str):
            matches = [i for i, name in enumerate(self.feature_names) if name == item]
            if not matches:
                raise KeyError(f"no feature is named {item!r}")
            if len(matches) > 1:
                raise KeyError(f"the name {item!r} is used by features {matches}; look the set up by index")
            return matches[0]
        if isinstance(item, numbers.Integral) and not isinstance(item, bool):
            if not 0 <= item < self.n:
                raise IndexError(f"feature index {item} is outside [0, {self.n})")
            return int(item)
        raise TypeError(f"a feature is an index or a name, got {item!r}")

    def top(self, k: int = 10, order: int | None = None, names: bool = False) -> list[tuple[tuple, float]]:
        """The ``k`` non-empty sets of largest |value| (only sets of size ``order`` when given), strongest first.

        Sets are index tuples, or name tuples with ``names=True``.
        """
        k = check_int("k", k, min_value=0)
        order = check_int("order", order, min_value=1, allow_none=True)
        degrees = self.degrees
        candidates = np.flatnonzero(degrees > 0 if order is None else degrees == order)
        chosen = candidates[np.argsort(-np.abs(self.values[candidates]), kind="stable")][:k]
        ind, ptr = self.support.indices, self.support.indptr
        out = []
        for row in chosen:
            term = tuple(int(i) for i in ind[ptr[row]:ptr[row + 1]])
            out.append((self.names(term) if names else term, float(self.values[row])))
        return out

    def first_order(self) -> np.ndarray:
        """``(n,)`` values of the single features (0 where not stored)."""
        out = np.zeros(self.n)
        singles = np.flatnonzero(self.degrees == 1)
        out[self.support.indices[self.support.indptr[singles]]] = self.values[singles]
        return out

    def __repr__(self) -> str:
        return (f"InteractionValues(index={self.index!r}, n={self.n}, max_order={self.max_order}, "
                f"sets={len(self)}, baseline_value={self.baseline_value:.4g})")

    def _repr_html_(self) -> str:
        from .report.notebook import render_values  # the report sits above this module: import on use
        return render_values(self)

    # -- shapiq ---------------------------------------------------------------------------
    def shapiq_index(self) -> str:
        """shapiq's name for this index (order 1 is named by the value it generalises, as shapiq does)."""
        if self.index not in SHAPIQ_INDEX:
            raise ValueError(f"shapiq has no counterpart of the {self.index!r} index; export one of "
                             f"{', '.join(SHAPIQ_INDEX)}")
        return _ORDER_ONE.get(self.index, SHAPIQ_INDEX[self.index]) if self.max_order == 1 else SHAPIQ_INDEX[self.index]

    def shapiq_dict(self) -> dict:
        """The JSON object shapiq 1.8's ``InteractionValues.load`` reads."""
        index, interactions = self.shapiq_index(), self._shapiq_interactions()
        return {
            "object_name": "InteractionValues", "data_type": "interaction_values", "version": "1.8.0",
            "created_from": "proxyspex", "description": f"{self.index} values from proxyspex",
            "parameters": {"feature_names": list(self.feature_names)}, "timestamp": None,
            "metadata": {"n_players": self.n, "index": index, "max_order": self.max_order,
                         "min_order": 0 if () in interactions else 1, "estimated": True,
                         "estimation_budget": None, "baseline_value": self.baseline_value},
            "data": {(",".join(map(str, term)) if term else "Empty"): value for term, value in interactions.items()},
        }

    def save_shapiq(self, path) -> None:
        """Write the JSON file that ``shapiq.InteractionValues.load(path)`` (shapiq 1.8) reads."""
        if not str(path).endswith(".json"):
            raise ValueError(f"path must end with .json (shapiq refuses other names), got {str(path)!r}")
        write_json(path, self.shapiq_dict())

    def to_shapiq(self):
        """A ``shapiq.InteractionValues`` with the same values (needs shapiq, Python >= 3.12)."""
        try:
            import shapiq
        except ImportError:
            raise ImportError("to_shapiq needs shapiq (Python >= 3.12): pip install 'proxyspex[shapiq]' "
                              "or pip install shapiq; save_shapiq(path) writes a file shapiq loads "
                              "without it") from None
        interactions = self._shapiq_interactions()
        lookup = {term: row for row, term in enumerate(interactions)}
        return shapiq.InteractionValues(np.array(list(interactions.values()), dtype=float),
                                        index=self.shapiq_index(), max_order=self.max_order, n_players=self.n,
                                        min_order=0 if () in interactions else 1, interaction_lookup=lookup,
                                        estimated=True, baseline_value=self.baseline_value)

    def _shapiq_interactions(self) -> dict[tuple[int, ...], float]:
        interactions = dict(self)
        if self.shapiq_index() == "SV" and () not in interactions:  # shapiq keeps f(empty) as SV's empty set
            interactions = {(): self.baseline_value, **interactions}
        return interactions
