"""How good an explanation is: faithfulness, feature removal and Shapley recall."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

import numpy as np

from ._validation import check_bool, check_int
from .masks import sample_masks
from .metrics import r2_score
from .selection import most_influential_removal

__all__ = ["RemovalCurve", "faithfulness", "r2_score", "removal_curve", "shapley_recall", "spectral_hierarchy"]


def faithfulness(result, f, n_test: int = 1000, random_state: int | None = None) -> float:
    """R^2 of ``result``'s surrogate on ``n_test`` fresh uniform masks of ``f`` (queries f)."""
    n_test = check_int("n_test", n_test, min_value=2)
    check_int("random_state", random_state, min_value=0, allow_none=True, what="None or a non-negative integer")
    masks = sample_masks(result.n, n_test, np.random.default_rng(random_state))
    return r2_score(np.asarray(f(masks), dtype=float).reshape(-1), result.predict(masks))


class RemovalCurve(NamedTuple):
    """For each k: the features removed, the surrogate's predicted value and the model's change."""

    k: np.ndarray
    removed: list[tuple[int, ...]]
    predicted: np.ndarray  # surrogate value with the k features removed
    value: np.ndarray  # model value with them removed
    change: np.ndarray  # |f(all) - f(removed)| / |f(all)| (or unscaled when relative=False)


def removal_curve(result, f, ks: Iterable[int] = range(1, 11), *, relative: bool = True) -> RemovalCurve:
    """Remove the k features the surrogate says matter most, and measure the model's real change.

    The pick accounts for interactions: for each k it is the set whose removal moves the surrogate
    furthest from its value on the full input (:func:`proxyspex.selection.most_influential_removal`).
    ``f`` is queried once, on all picked masks and the full input together.
    """
    what = f"removal sizes between 0 and n={result.n}"
    ks = list(ks)
    if not ks:
        raise ValueError(f"ks must be {what}, got []")
    ks = np.array([check_int("ks", k, min_value=0, max_value=result.n, what=what) for k in ks], dtype=int)
    check_bool("relative", relative)
    moebius = result.spectrum.to_moebius()  # once, not once per k and direction
    picks = [most_influential_removal(moebius, int(k)) for k in ks]
    masks = np.ones((len(ks) + 1, result.n), dtype=bool)
    for row, (removed, _) in enumerate(picks, start=1):
        masks[row, list(removed)] = False
    values = np.asarray(f(masks), dtype=float).reshape(-1)
    full, removed_values = values[0], values[1:]
    change = np.abs(full - removed_values)
    if relative:
        if full == 0:
            raise ValueError("f(all features) is 0, so the relative change is undefined; use relative=False")
        change = change / abs(full)
    return RemovalCurve(ks, [removed for removed, _ in picks], np.array([v for _, v in picks]),
                        removed_values, change)


def shapley_recall(estimate, truth, k: int = 10) -> float:
    """Share of the ``k`` features with the largest |Shapley value| in ``truth`` that ``estimate`` also ranks top ``k``.

    Each argument is an :class:`~proxyspex.explanation.Explanation`, a ``{(i,): value}`` dict, or a
    length-n array of values.
    """
    est, tru = _shapley_vector(estimate), _shapley_vector(truth)
    if len(est) != len(tru):
        raise ValueError(f"estimate has {len(est)} features and truth has {len(tru)}")
    check_int("k", k, min_value=1, max_value=len(tru), what=f"between 1 and the number of features ({len(tru)})")
    top = lambda v: set(np.argsort(-np.abs(v), kind="stable")[:k].tolist())
    return len(top(est) & top(tru)) / k


def spectral_hierarchy(spectrum, top_k: Iterable[int] = (5, 10, 20)) -> dict[str, float]:
    """How sparse, low-degree and hierarchical a spectrum is (its constant term excluded).

    Returns ``top{k}``: the share of energy in the k strongest terms; ``order{d}`` (d = 1, 2, 3)
    and ``order4+``: the share by interaction order; ``subset{k}``: the share of top-k terms of
    order >= 2 that have a proper, non-empty subset also in the top k (NaN when there is none).
    """
    s = spectrum.select(spectrum.degrees > 0)
    energy = s.values ** 2
    total = energy.sum() or 1.0
    order = np.argsort(-energy, kind="stable")
    out = {f"top{k}": float(energy[order[:k]].sum() / total) for k in top_k}
    for d in (1, 2, 3):
        out[f"order{d}"] = float(energy[s.degrees == d].sum() / total)
    out["order4+"] = float(energy[s.degrees >= 4].sum() / total)
    terms = s.terms()
    for k in top_k:
        top = [frozenset(terms[i]) for i in order[:k]]
        high = [t for t in top if len(t) >= 2]
        out[f"subset{k}"] = float(np.mean([any(u and u < t for u in top) for t in high])) if high else float("nan")
    return out


def _shapley_vector(values) -> np.ndarray:
    if hasattr(values, "index") and hasattr(values, "spectrum"):
        values = values.index("shapley")
    if isinstance(values, Mapping):
        n = 1 + max((i for (i,) in values), default=-1)
        vector = np.zeros(n)
        for (i,), v in values.items():
            vector[i] = v
        return vector
    return np.asarray(values, dtype=float).reshape(-1)
