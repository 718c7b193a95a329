"""Matplotlib figures of an explanation: bar, network, text and waterfall (extra ``plot``).

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot, so it works
headless and leaves no global state. Only the strongest terms are drawn and long names are cut,
so the figures stay readable with hundreds of units.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_choice
from ..indices import normalize_index
from .notebook import unit_labels

POSITIVE, NEGATIVE = "#1a9850", "#d73027"
KINDS = ("bar", "network", "text", "waterfall")
EFFICIENT = ("shapley", "k-sii", "stii", "fsii", "moebius")  # values that add up to f(all) - f(empty)
MAX_LABEL = 18
LINE = 1.6  # text plot: height of a line of units, room for the arcs above it


def _figure(width: float, height: float):
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'proxyspex[plot]'") from None
    return Figure(figsize=(width, height), layout="constrained")


def colour(value: float) -> str:
    """Green for a positive value, red for a negative one."""
    return POSITIVE if value >= 0 else NEGATIVE


def cut(name: str, limit: int = MAX_LABEL) -> str:
    """``name``, shortened to ``limit`` characters with an ellipsis."""
    return name if len(name) <= limit else name[: limit - 1] + "…"


def term_label(term, labels: list[str]) -> str:
    return " × ".join(cut(labels[i]) for i in term) if term else "∅"


def _terms(result, index: str, order: int | None, top: int, *, exact_order: int | None = None):
    """The ``top`` strongest non-empty sets (of size ``exact_order`` when given), without round-off terms."""
    values = result.values(index, order)
    ranked = [(t, v) for t, v in values.top(len(values)) if exact_order is None or len(t) == exact_order]
    floor = 1e-9 * max([abs(v) for _, v in ranked] or [0.0])
    return [(t, v) for t, v in ranked if abs(v) > floor][:top]


def bar(result, *, index: str = "fsii", order: int | None = None, top: int = 10):
    """The ``top`` strongest sets of ``index``, named and signed, strongest at the top."""
    labels = unit_labels(result.feature_names)
    terms = _terms(result, index, order, top)
    fig = _figure(7, 1.2 + 0.35 * max(len(terms), 1))
    ax = fig.add_subplot()
    y = np.arange(len(terms))[::-1]
    ax.barh(y, [v for _, v in terms], color=[colour(v) for _, v in terms])
    ax.set_yticks(y, [term_label(t, labels) for t, _ in terms])
    ax.axvline(0, color="#444", lw=0.8)
    ax.set_xlabel(f"{index} value")
    ax.set_title(f"Strongest {index} terms")
    return fig


def network(result, *, index: str = "fsii", order: int | None = None, top: int = 10, nodes: int = 20):
    """Features as nodes sized by first-order value, the ``top`` pairs as edges coloured by sign."""
    from matplotlib.patches import Circle

    values = result.values(index, order)
    first = values.first_order() if hasattr(values, "first_order") else _first(values, result.n)
    pairs = _terms(result, index, order, top, exact_order=2)
    shown = list(dict.fromkeys([i for t, _ in pairs for i in t]))
    shown += [int(i) for i in np.argsort(-np.abs(first), kind="stable") if int(i) not in shown]
    shown = sorted(shown[: max(nodes, len({i for t, _ in pairs for i in t}))])
    angle = np.linspace(0, 2 * np.pi, len(shown), endpoint=False)
    where = {i: (np.cos(a), np.sin(a)) for i, a in zip(shown, angle)}
    fig = _figure(7, 7)
    ax = fig.add_subplot()
    strongest = max([abs(v) for _, v in pairs] or [1.0])
    for (i, j), value in pairs:
        (x0, y0), (x1, y1) = where[i], where[j]
        ax.plot([x0, x1], [y0, y1], color=colour(value), lw=1 + 5 * abs(value) / strongest, alpha=0.8,
                gid=f"edge {i} {j}", zorder=1)
    biggest = max(float(np.max(np.abs(first[shown]))) if shown else 0.0, 1e-12)
    labels = unit_labels(result.feature_names)
    for i in shown:
        x, y = where[i]
        ax.add_patch(Circle((x, y), 0.03 + 0.09 * abs(first[i]) / biggest, color=colour(first[i]), alpha=0.9,
                            gid=f"node {i}", zorder=2))
        ax.text(1.22 * x, 1.22 * y, cut(labels[i]), ha="center", va="center", fontsize=9)
    ax.set_xlim(-1.5, 1.5)
    ax.set_ylim(-1.5, 1.5)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(f"{index}: nodes = first order, edges = pairs (green +, red −)")
    return fig


def text(result, *, index: str = "shapley", pair_index: str = "fsii", top: int = 5, per_line: int = 16):
    """The units, shaded by ``index`` value, with the ``top`` pairs of ``pair_index`` drawn as arcs."""
    from matplotlib.patches import FancyArrowPatch

    first = result.values(index).first_order()
    labels = [cut(name, 14) for name in result.feature_names]
    lines = int(np.ceil(result.n / per_line))
    fig = _figure(12, 1.2 + 0.8 * LINE * lines)
    ax = fig.add_subplot()
    scale = max(float(np.max(np.abs(first))), 1e-12)
    where = {}
    for i, name in enumerate(labels):
        x, y = (i % per_line) + 0.5, -LINE * (i // per_line)
        where[i] = (x, y)
        alpha = min(abs(first[i]) / scale, 1.0) * 0.85
        ax.text(x, y, name, ha="center", va="center", fontsize=10, gid=f"unit {i}",
                bbox={"boxstyle": "round,pad=0.25", "facecolor": colour(first[i]), "alpha": max(alpha, 0.05),
                      "edgecolor": "none"})
    pairs = _terms(result, pair_index, None, top, exact_order=2)
    strongest = max([abs(v) for _, v in pairs] or [1.0])
    for (i, j), value in pairs:
        (x0, y0), (x1, y1) = where[i], where[j]
        bend = -min(0.5, 1.5 / max(np.hypot(x1 - x0, y1 - y0), 1.0))  # the arc rises at most about 0.75
        ax.add_patch(FancyArrowPatch((x0, y0 + 0.25), (x1, y1 + 0.25), connectionstyle=f"arc3,rad={bend}",
                                     arrowstyle="-", color=colour(value), lw=1 + 3 * abs(value) / strongest,
                                     alpha=0.8, gid=f"arc {i} {j}"))
    ax.set_xlim(0, per_line)
    ax.set_ylim(-LINE * (lines - 1) - 0.6, 1.2)
    ax.axis("off")
    ax.set_title(f"Units shaded by {index}; arcs: top {len(pairs)} {pair_index} pairs (green +, red −)")
    return fig


def waterfall(result, *, index: str = "fsii", order: int | None = None, top: int = 10):
    """From f(empty) to f(all) through the ``top`` strongest terms; the rest are summed in one step."""
    index = normalize_index(index)
    if index not in EFFICIENT or (index == "moebius" and order is not None):
        raise ValueError(f"a waterfall needs values that add up to f(all) - f(empty); index must be one of "
                         f"{', '.join(EFFICIENT)} (moebius without an order), got {index!r}")
    values = result.values(index, order)
    terms = dict(values.to_dict())
    start = terms.pop((), None)
    floor = 1e-9 * max([abs(v) for v in terms.values()] or [0.0])
    terms = {t: v for t, v in terms.items() if abs(v) > floor}  # round-off of an exact spectrum
    ends = result.predict(np.array([np.zeros(result.n, bool), np.ones(result.n, bool)]))
    start = ends[0] if start is None else start
    strongest = sorted(terms.items(), key=lambda item: -abs(item[1]))[:top]
    rest = sum(terms.values()) - sum(v for _, v in strongest)
    labels = unit_labels(result.feature_names)
    steps = [(term_label(t, labels), v) for t, v in strongest] + [(f"{len(terms) - len(strongest)} other terms", rest)]
    fig = _figure(7, 1.5 + 0.35 * (len(steps) + 2))
    ax = fig.add_subplot()
    level, rows = start, len(steps) + 1
    ax.barh(rows, start, color="#888", gid="f(empty)")
    levels = [0.0, start]
    for k, (label, value) in enumerate(steps):
        ax.barh(rows - 1 - k, value, left=level, color=colour(value), gid=f"step {k}")
        level += value
        levels.append(level)
    low, high = min(levels), max(levels)
    ax.set_xlim(low - 0.05 * (high - low or 1.0), high + 0.05 * (high - low or 1.0))
    ax.barh(0, level, color="#444", gid="f(all)")
    ax.set_yticks(np.arange(rows, -1, -1), ["f(∅)"] + [label for label, _ in steps] + ["f(all)"])
    ax.axvline(0, color="#444", lw=0.8)
    ax.set_xlabel(f"value ({index}); f(∅) = {start:+.3f}, f(all) = {level:+.3f}")
    ax.set_title(f"From the empty input to the full input, by {index}")
    return fig


def plot(result, kind: str = "bar", **kwargs):
    """Dispatch to :func:`bar`, :func:`network`, :func:`text` or :func:`waterfall`."""
    return {"bar": bar, "network": network, "text": text, "waterfall": waterfall}[
        check_choice("kind", kind, KINDS)](result, **kwargs)


def _first(spectrum, n: int) -> np.ndarray:
    out = np.zeros(n)
    for term, value in spectrum.to_dict().items():
        if len(term) == 1:
            out[term[0]] = value
    return out
