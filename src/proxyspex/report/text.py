"""Plain-text views of an explanation: unit labels that stay unambiguous, the top-interaction list, what is
explained, pair tables (data attribution) and head pruning.

Pair tables and pruning moved here from the games (``proxyspex.games.top_pairs`` still works): games compute
values, reports describe explanations.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from proxyspex._validation import check_int
from proxyspex.games.mc_tasks import select_split
from proxyspex.selection import best_removal

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


def top_terms(result, k: int, *, index: str = "moebius",
              order: int | None = None) -> list[tuple[tuple[int, ...], float]]:
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


class Pair(NamedTuple):
    """One second-order interaction between features ``i`` and ``j``."""
    i: int
    j: int
    names: tuple[str, str]
    value: float


def top_pairs(explanation, k: int = 5, index: str = "moebius") -> tuple[list[Pair], list[Pair]]:
    """The ``k`` most synergistic (largest positive) and ``k`` most redundant (most negative) pairs.

    Values are the order-2 values of ``index`` in ``explanation``: by default Moebius
    coefficients, the pair's interaction on top of nothing else; ``"bii"`` averages it over all
    subsets of the others, which is where the proxy's random masks were drawn (BENCHMARKS.md shows
    the difference on digits). Pairs of the wrong sign, or zero up to round-off (1e-9 of the largest
    pair), are left out, so a list can be shorter than ``k``.
    """
    k = check_int("k", k, min_value=1)
    pairs = [Pair(t[0], t[1], explanation.names(t), v)
             for t, v in explanation.values(index, order=2).to_dict().items() if len(t) == 2]
    tol = 1e-9 * max((abs(p.value) for p in pairs), default=0.0)
    synergistic = sorted((p for p in pairs if p.value > tol), key=lambda p: -p.value)[:k]
    redundant = sorted((p for p in pairs if p.value < -tol), key=lambda p: p.value)[:k]
    return synergistic, redundant


def format_pairs(explanation, k: int = 5, index: str = "moebius") -> str:
    """The top synergistic and redundant pairs as plain text."""
    synergistic, redundant = top_pairs(explanation, k, index=index)
    lines = []
    for title, pairs in (("synergistic pairs (help together):", synergistic),
                         ("redundant pairs (get in each other's way):", redundant)):
        lines.append(title)
        lines += [f"  {p.value:+.4f}  {p.names[0]} × {p.names[1]}" for p in pairs] or ["  (none)"]
    return "\n".join(lines)


def pruning_summary(result: Any, game: Any, k: int = 3) -> str:
    """The ``k`` heads whose removal the explanation's surrogate says costs least (interactions
    included), with the surrogate's value and the measured accuracy with and without them."""

    k = min(k, game.n)
    heads, predicted = best_removal(result.spectrum, k, maximize=True)
    full = float(result.predict(np.ones((1, game.n), dtype=bool))[0])
    split = "heldout" if select_split(game.all_tasks, "heldout") else game.split
    accuracy = game.accuracy(np.vstack([np.ones(game.n, dtype=bool), game.mask_without(heads)]), split=split)
    names = ", ".join(game.feature_names[h] for h in heads) or "(none)"
    return (f"suggested heads to prune (k={k}, interactions included): {names}\n"
            f"  surrogate value {predicted:+.3f} (all heads {full:+.3f}); "
            f"{split} accuracy {accuracy[1]:.3f} (all heads {accuracy[0]:.3f}, "
            f"{_count(len(select_split(game.all_tasks, split)), 'question')})")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
