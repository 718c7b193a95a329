"""Plain-text views of an explanation: unit labels that stay unambiguous, and the top-interaction list."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

_SURROGATE = re.compile("[\ud800-\udfff]")
FIRST_ORDER = ("shapley", "banzhaf")


def scrub(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD, so it always encodes as UTF-8."""
    return _SURROGATE.sub("\ufffd", str(text))


def shorten(text: str, width: int = 60) -> str:
    """``text`` on one line, cut to ``width`` characters with an ellipsis."""
    line = " ".join(str(text).split())
    return line if len(line) <= width else line[: max(width - 1, 1)].rstrip() + "…"


def unit_labels(names: Sequence[str], *, width: int = 60) -> list[str]:
    """One label per unit: the name, plus ``#i`` (its feature index) where the same name occurs twice.

    ``["the", "cat", "saw", "the", "dog"]`` gives ``["the#0", "cat", "saw", "the#3", "dog"]``, so a pair
    such as ``the#3 × dog`` names one unit. Long names (whole documents) are cut to ``width``.
    """
    short = [shorten(scrub(name), width) for name in names]
    counts = Counter(short)
    return [f"{name}#{i}" if counts[name] > 1 else name for i, name in enumerate(short)]


def top_terms(result, k: int, *, index: str = "moebius", order: int | None = None) -> list[tuple[tuple[int, ...], float]]:
    """The ``k`` strongest non-empty terms of ``index`` (at ``order``), as feature indices and values."""
    return [(tuple(term), float(value)) for term, value in result.values(index, order).top(k) if len(term)]


def strongest_pairs(result, k: int = 5, *, index: str = "moebius") -> list[tuple[tuple[int, int], float]]:
    """Up to ``k`` pairs with the largest ``|value|`` under ``index`` (Moebius for a first-order index), leaving
    out pairs below 5% of the strongest."""
    name = "moebius" if index in FIRST_ORDER else index
    order = None if name in ("moebius", "fourier") else 2
    pairs = [(tuple(term), float(value)) for term, value in result.index(name, order).items() if len(term) == 2]
    pairs = sorted(pairs, key=lambda item: -abs(item[1]))[:k]
    return [pair for pair in pairs if abs(pair[1]) >= 0.05 * abs(pairs[0][1])]  # no hairline arcs


def format_summary(result, k: int = 10, *, index: str = "moebius", order: int | None = None) -> str:
    """A short plain-text report: faithfulness and cost, then the ``k`` strongest terms, named."""
    labels = unit_labels(result.feature_names)
    plain = [shorten(scrub(name)) for name in result.feature_names]
    at = f" at order {order}" if order is not None else ""
    lines = [(f"{len(result.spectrum)} terms from {result.n_queries} queries; faithfulness R^2 = "
              f"{result.faithfulness:.3f}"), f"top {k} by {index}{at}:"]
    repeated = False
    for term, value in top_terms(result, k, index=index, order=order):
        lines.append(f"  {value:+.4f}  {' × '.join(labels[i] for i in term)}")
        repeated = repeated or any(labels[i] != plain[i] for i in term)
    if repeated:
        lines.append("  (name#i: the unit at feature index i, where a name repeats)")
    return "\n".join(lines)


def format_description(description: dict) -> str:
    """``key: value`` lines for what an explanation explains (see :mod:`proxyspex.report.describe`)."""
    return "\n".join(f"{key}: {shorten(scrub(value), 100)}" for key, value in description.items())
