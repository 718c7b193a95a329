"""Explanation: the sparse interactions of one game, with names, faithfulness and cost."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from .indices import check_order, interaction_values, normalize_index
from .interaction_values import InteractionValues
from .jsonfile import read_json, to_jsonable, write_json
from .spectrum import Spectrum, terms_to_support

#: What :meth:`Explanation.save` writes in the file's ``format`` field, and the layout's version.
FILE_FORMAT = "proxyspex-explanation"
FORMAT_VERSION = 1
_DESCRIBED = ("prompt", "target", "labels", "masking", "placeholder", "chat", "system")


class Explanation:
    """Sparse interactions of one game, with names, faithfulness and cost.

    Attributes
    ----------
    spectrum : the sparse Fourier spectrum of the surrogate.
    feature_names : one name per feature.
    faithfulness : R^2 of the surrogate on held-out masks (1.0 when every mask was queried).
    n_queries : distinct masks whose model outputs the explanation used.
    n_paid : of those, how many this call paid for (the rest came from the cache).
    details : how the estimate was made (rounds, tree configuration, ...).
    game_info : what was explained: ``{"class", "fingerprint", "description"}`` (see :func:`describe_game`).
    """

    def __init__(self, spectrum: Spectrum, feature_names: list[str], faithfulness: float, n_queries: int,
                 n_paid: int, details: dict | None = None, game_info: dict | None = None):
        self.spectrum = spectrum
        self.feature_names = feature_names
        self.faithfulness = faithfulness
        self.n_queries = n_queries
        self.n_paid = n_paid
        self.details = details or {}
        self.game_info = game_info or {}

    @property
    def n(self) -> int:
        return self.spectrum.n

    @cached_property
    def moebius(self) -> Spectrum:
        return self.spectrum.to_moebius()

    def values(self, index: str = "fourier", order: int | None = None) -> Spectrum | InteractionValues:
        """The values of ``index``: an :class:`InteractionValues`, or a :class:`Spectrum` for the bases.

        ``fourier`` and ``moebius`` are bases (their ``predict`` evaluates the surrogate); every
        other index (``shapley``, ``sii``, ``k-sii``, ...) is an :class:`InteractionValues`, which
        is named, exports to shapiq and does not evaluate.
        """
        name = normalize_index(index)
        if name == "moebius":
            return self.moebius if order is None else self.moebius.truncate(check_order(name, order))
        return interaction_values(self.spectrum, name, order, feature_names=self.feature_names)

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

    def plot(self, kind: str = "bar", **kwargs):
        """A matplotlib Figure: ``"bar"``, ``"network"``, ``"text"`` or ``"waterfall"`` (see proxyspex.report.plots)."""
        from .report.plots import plot  # the report sits above this module: import on use
        return plot(self, kind, **kwargs)

    def _repr_html_(self) -> str:
        from .report.notebook import render_explanation  # the report sits above this module: import on use
        return render_explanation(self)

    def __repr__(self) -> str:
        return (f"Explanation(n={self.n}, terms={len(self.spectrum)}, faithfulness={self.faithfulness:.3f}, "
                f"n_queries={self.n_queries})")

    def summary(self, k: int = 10, index: str = "moebius") -> str:
        """A short plain-text report."""
        lines = [(f"{len(self.spectrum)} terms from {self.n_queries} queries; faithfulness R^2 = "
                  f"{self.faithfulness:.3f}"), f"top {k} by {index}:"]
        lines += [f"  {value:+.4f}  {' × '.join(names)}" for names, value in self.top(k, index=index)]
        return "\n".join(lines)

    # -- keep and share ---------------------------------------------------------------------
    def to_dict(self) -> dict:
        """Everything needed to rebuild this explanation, as plain JSON types (the file format)."""
        return {
            "format": FILE_FORMAT,
            "format_version": FORMAT_VERSION,
            "proxyspex_version": library_version(),
            "n": self.n,
            "feature_names": list(self.feature_names),
            "spectrum": {"basis": self.spectrum.basis, "terms": [list(t) for t in self.spectrum.terms()],
                         "values": self.spectrum.values.tolist()},
            "faithfulness": to_jsonable(self.faithfulness),
            "n_queries": int(self.n_queries),
            "n_paid": int(self.n_paid),
            "details": to_jsonable(self.details),
            "game": to_jsonable(self.game_info),
        }

    @classmethod
    def from_dict(cls, payload: dict, source: str = "the explanation") -> Explanation:
        """Rebuild an explanation from :meth:`to_dict`'s output; ``source`` names it in errors."""
        if not isinstance(payload, dict) or payload.get("format") != FILE_FORMAT:
            found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
            raise ValueError(f"{source} is not a saved proxyspex explanation (format {found!r}, "
                             f"expected {FILE_FORMAT!r}); write one with Explanation.save")
        version = payload.get("format_version")
        if version != FORMAT_VERSION:
            raise ValueError(f"{source} has format_version {version!r}, but this proxyspex "
                             f"({library_version()}) reads version {FORMAT_VERSION} only; "
                             f"load it with the proxyspex version that wrote it "
                             f"({payload.get('proxyspex_version', 'unknown')})")
        try:
            n, spectrum = payload["n"], payload["spectrum"]
            support = terms_support(spectrum["terms"], n)
            faithfulness = payload["faithfulness"]
            return cls(Spectrum(n, support, spectrum["values"], basis=spectrum["basis"]),
                       list(payload["feature_names"]), float("nan") if faithfulness is None else float(faithfulness),
                       int(payload["n_queries"]), int(payload["n_paid"]), payload.get("details") or {},
                       payload.get("game") or {})
        except KeyError as exc:
            raise ValueError(f"{source} lacks the field {exc.args[0]!r}; it is not a complete saved explanation"
                             ) from None
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{source} holds a damaged explanation: {exc}") from None

    def save(self, path) -> Path:
        """Write this explanation to ``path`` as plain JSON (schema in README); read it with :func:`load`."""
        return write_json(path, self.to_dict())


def load(path) -> Explanation:
    """Read an explanation that :meth:`Explanation.save` wrote; ``predict`` gives the same values."""
    return Explanation.from_dict(read_json(path, what="a proxyspex explanation"), source=str(path))


def terms_support(terms, n: int):
    """CSR support matrix from a list of index lists (as saved)."""
    if not isinstance(terms, list):
        raise TypeError(f"terms must be a list of index lists, got {type(terms).__name__}")
    return terms_to_support([tuple(term) for term in terms], n)


def describe_game(game) -> dict:
    """``{"class", "fingerprint", "description"}`` of a game: what was explained, as plain JSON.

    The description is ``game.describe()`` where the game offers it, else what can be read off
    its attributes (model, prompt, target, masking, ...). Never raises: a plain callable gives its class.
    """
    info = {"class": type(game).__name__, "fingerprint": _attribute(game, "fingerprint")}
    describe = getattr(type(game), "describe", None)
    description = _call(game.describe) if callable(describe) else None
    if not isinstance(description, dict):
        description = {}
        model = _attribute(game, "lm")
        model = model if model is not None else _attribute(game, "model")
        if model is not None:
            description["model"] = str(model) if isinstance(model, str) else _call(lambda: repr(model))
        for key in _DESCRIBED:
            value = _attribute(game, key)
            if value is not None:
                description[key] = value
        segmentation = _attribute(game, "segmentation")
        if segmentation is not None:
            description["units"] = list(getattr(segmentation, "units", ()))
    info["description"] = to_jsonable(description)
    return to_jsonable(info)


def library_version() -> str:
    """The installed proxyspex version (``"unknown"`` when not installed)."""
    try:
        return version("proxyspex")
    except PackageNotFoundError:
        return "unknown"


def _attribute(obj, name: str):
    try:
        return getattr(obj, name, None)
    except Exception:  # noqa: BLE001 - a property that fails (e.g. a model not loaded) describes nothing
        return None


def _call(function):
    try:
        return function()
    except Exception:  # noqa: BLE001 - describing a game must never fail the explanation
        return None
