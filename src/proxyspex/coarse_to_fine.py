"""Coarse-to-fine features: explain sentences (or documents) first, then split the strongest ones.

The game stays at its finest level (words, say). A coarser level is a partition of the fine
features into groups (the words of each sentence); a mask over groups expands to a fine mask
by copying each group's bit to its units. Every level is explained through ONE
:class:`~proxyspex.query.Queries` on the fine game, so the cache is keyed by fine masks and any
output paid at one level serves every other level, and every rerun.

Level by level: explain the current features; score each group by
``importance(g) = Σ_{T ∋ g} |m(T)| / |T|`` over the Moebius terms (the Shapley value with
every term's share taken in absolute value, so a strong interaction counts even where it
cancels in φ); split the ``keep`` strongest groups into their units of the next level, leave
the rest whole, and explain again. The masks of earlier levels are masks of the next level
too (a whole group's units are all kept or all dropped), so they join its first round for free.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import pairwise

import numpy as np

from ._validation import check_int, is_int
from .estimator import ProxySPEX
from .explainer import check_game, resolve_game
from .explanation import Explanation, describe_game
from .masks import MIN_BUDGET, mask_keys


class GroupedQueries:
    """Queries over features that each stand for a set of fine units, answered by the fine queries.

    ``owner[j]`` is the feature that fine unit ``j`` belongs to. Every fine mask asked for is
    remembered, so a later level can reuse it.
    """

    def __init__(self, fine, owner: np.ndarray, asked: dict[bytes, np.ndarray]):
        self.fine = fine
        self.owner = np.asarray(owner)
        self.asked = asked  # fine mask key -> fine mask, shared by every level

    @property
    def n_paid(self) -> int:
        return self.fine.n_paid

    def __call__(self, X: np.ndarray) -> np.ndarray:
        fine_X = np.asarray(X, dtype=bool)[:, self.owner]
        for key, row in zip(mask_keys(fine_X), fine_X):
            self.asked.setdefault(key, row)
        return self.fine(fine_X)


def explain_coarse_to_fine(game, *, levels: Sequence[str] = ("sentence", "word"), keep: int = 3,
                           budget: int | Sequence[int | None] | None = None,
                           groups: Mapping[str, Sequence[Sequence[int]]] | None = None, n: int | None = None,
                           feature_names: Sequence[str] | None = None, cache_key: str | None = None,
                           **params) -> Explanation:
    """Explain ``game`` (at its finest level) from coarse units down, splitting the ``keep`` strongest.

    ``levels`` runs coarse to fine; the last is the game's own unit. The groups of a coarser
    level come from ``groups[level]`` (lists of fine feature indices that partition them) or
    from ``game.feature_groups(level)``. ``budget`` is the number of new masks in all
    (shared in proportion to each level's expected n·log2 n), one budget per level, or ``None``
    for adaptive rounds at every level. ``params`` go to :class:`ProxySPEX`. The result names
    its features at mixed levels ("sentence 3", "never", "fails"); ``details`` records
    ``levels``, ``groups`` (the fine units of each feature), ``feature_levels`` and ``stages``
    (one summary per level).
    """
    n, _ = check_game(game, n, feature_names)
    levels = _check_levels(levels)
    keep = check_int("keep", keep, min_value=1)
    partitions = [_partition(level, groups, game, n) for level in levels[:-1]]
    partitions.append([[j] for j in range(n)])
    budgets = _level_budgets(budget, [len(p) for p in partitions], keep)
    estimators = [ProxySPEX(budget=b, **params) for b in budgets]
    for estimator in estimators:  # before the cache opens; a level has at least as many features as the first
        estimator.check(len(partitions[0]))
    spec = resolve_game(game, n, feature_names, cache_key)  # the fingerprint (it may run the model) comes last
    features = [(0, tuple(g), index) for index, g in enumerate(partitions[0])]  # (level, fine units, group index)
    queries, asked, stages = estimators[0].open_queries(spec), {}, []
    try:
        for depth, estimator in enumerate(estimators):
            names = [_name(levels, spec.feature_names, feature) for feature in features]
            estimator.check(len(features))
            level_queries = GroupedQueries(queries, _owner(features, spec.n), asked)
            prior = _to_level(np.array(list(asked.values()), dtype=bool).reshape(-1, spec.n), features)
            paid_before = queries.n_paid
            result = estimator.explain_queries(level_queries, names, prior_masks=prior)
            scores = importance(result)
            stage = {"level": levels[depth], "n": len(features), "feature_names": names,
                     "faithfulness": result.faithfulness, "n_queries": result.n_queries,
                     "n_paid": queries.n_paid - paid_before, "n_reused": len(prior),
                     "importance": scores.tolist(), "split": []}
            stages.append(stage)
            if depth + 1 < len(levels):
                features, stage["split"] = _refine(features, scores, partitions[depth + 1], depth + 1, keep, names)
    finally:
        queries.close()
    result.n_paid = queries.n_paid
    result.game_info = describe_game(game)
    result.details.update({
        "levels": list(levels), "groups": [list(f[1]) for f in features],
        "feature_levels": [levels[f[0]] for f in features], "stages": stages,
    })
    return result


def importance(result: Explanation) -> np.ndarray:
    """Per feature, ``Σ_{T ∋ i} |m(T)| / |T|``: main effect and interaction strength together."""
    scores = np.zeros(result.n)
    for degree, rows, values in result.moebius.by_degree():
        if degree:
            np.add.at(scores, rows.ravel(), np.repeat(np.abs(values) / degree, degree))
    return scores


def _refine(features, scores, finer: list[list[int]], depth: int, keep: int, names: list[str]):
    """Split the ``keep`` strongest features that have more than one unit at level ``depth``."""
    children = [_children(units, finer) for _, units, _ in features]
    splittable = [i for i, parts in enumerate(children) if len(parts) > 1]
    chosen = set(sorted(splittable, key=lambda i: -scores[i])[:keep])
    refined = []
    for i, feature in enumerate(features):
        if i in chosen:
            refined.extend((depth, tuple(part), index) for index, part in children[i])
        else:
            refined.append(feature)
    return refined, [names[i] for i in sorted(chosen)]


def _children(units: tuple[int, ...], finer: list[list[int]]) -> list[tuple[int, list[int]]]:
    """The groups of the next level inside ``units``, with their index in that level."""
    inside = set(units)
    return [(index, [j for j in group if j in inside]) for index, group in enumerate(finer)
            if inside.intersection(group)]


def _name(levels: Sequence[str], fine_names: list[str], feature) -> str:
    level, units, index = feature
    if level == len(levels) - 1:
        return fine_names[units[0]]
    return f"{levels[level]} {index + 1}"


def _owner(features, n: int) -> np.ndarray:
    owner = np.empty(n, dtype=np.int64)
    for i, (_, units, _) in enumerate(features):
        owner[list(units)] = i
    return owner


def _to_level(fine_X: np.ndarray, features) -> np.ndarray:
    """The fine masks constant on every feature's units, read as masks of those features."""
    level_X = fine_X[:, [units[0] for _, units, _ in features]]
    expands = np.all(level_X[:, _owner(features, fine_X.shape[1])] == fine_X, axis=1)
    return level_X[expands]


def _check_levels(levels) -> tuple[str, ...]:
    if isinstance(levels, str) or not isinstance(levels, Sequence) or not all(isinstance(v, str) for v in levels):
        raise TypeError(f"levels must be a sequence of level names, coarse to fine, got {levels!r}")
    if len(levels) < 2 or len(set(levels)) != len(levels):
        raise ValueError(f"levels must name at least two distinct levels, coarse to fine, got {tuple(levels)!r}")
    return tuple(levels)


def _level_budgets(budget, sizes: Sequence[int], keep: int) -> list[int | None]:
    """One budget per level: ``None`` for all, the given list, or a total shared in proportion to
    each level's n·log2 n (the shape of the default budget), n being the features the level is
    expected to have: a coarse level of 10 sentences needs far fewer masks than the words after it."""
    n_levels = len(sizes)
    if budget is None:
        return [None] * n_levels
    if is_int(budget):
        total = check_int("budget", budget, min_value=MIN_BUDGET * n_levels,
                          what=f"an integer number of masks, at least {MIN_BUDGET} per level")
        weights = [n * math.log2(max(n, 2)) for n in expected_features(sizes, keep)]
        shares, left = [], total
        for level, weight in enumerate(weights[:-1]):
            reserved = MIN_BUDGET * (n_levels - level - 1)  # every later level keeps at least MIN_BUDGET
            shares.append(min(max(MIN_BUDGET, int(total * weight / sum(weights))), left - reserved))
            left -= shares[-1]
        return shares + [left]
    if isinstance(budget, str) or not isinstance(budget, Sequence):
        raise TypeError(f"budget must be None, an integer or one budget per level, got {budget!r}")
    if len(budget) != n_levels:
        raise ValueError(f"budget has {len(budget)} entries but there are {n_levels} levels")
    return [check_int("budget", b, allow_none=True, what="None or an integer number of masks") for b in budget]


def expected_features(sizes: Sequence[int], keep: int) -> list[int]:
    """Features each level is expected to have: level 0 has its groups; each next level splits ``keep``
    of them into (on average) ``sizes[l + 1] / sizes[l]`` units each."""
    expected = [sizes[0]]
    for coarse, fine in pairwise(sizes):
        split = min(keep, expected[-1])
        expected.append(max(1, round(expected[-1] - split + split * fine / coarse)))
    return expected


def _partition(level: str, groups, game, n: int) -> list[list[int]]:
    """The groups of ``level``: from ``groups`` or ``game.feature_groups``; they must partition range(n)."""
    if groups is not None and level in groups:
        parts = groups[level]
    elif callable(getattr(game, "feature_groups", None)):
        parts = game.feature_groups(level)
    else:
        raise ValueError(f"no groups for level {level!r}: pass groups={{{level!r}: [[0, 1, ...], ...]}} or use a "
                         f"game with feature_groups({level!r})")
    parts = [[check_int(f"groups[{level!r}]", j, min_value=0, max_value=n - 1) for j in g] for g in parts]
    flat = sorted(j for g in parts for j in g)
    if flat != list(range(n)) or not all(parts):
        raise ValueError(f"the groups of level {level!r} must be non-empty and hold each of the {n} features "
                         f"exactly once")
    return [sorted(g) for g in parts]
