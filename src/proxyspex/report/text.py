"""Plain-text summaries of an explanation: pair tables (data attribution) and head pruning.

Moved here from the games (``proxyspex.games.top_pairs`` still works): games compute values,
reports describe explanations.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from proxyspex._validation import check_int
from proxyspex.games.mc_tasks import select_split
from proxyspex.selection import best_removal


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
