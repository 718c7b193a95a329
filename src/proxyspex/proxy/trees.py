"""Exact Fourier spectrum of a LightGBM ensemble on binary features.

A leaf whose path tests features j_1..j_d with outcomes b_1..b_d and value v is the
function v * prod_t [x_{j_t} = b_t] = v * prod_t (1 + s_t (-1)^{x_{j_t}}) / 2, with
s_t = +1 when b_t = 0 and -1 when b_t = 1. It adds v * prod_{t in T} s_t / 2^d to F(T)
for every subset T of its path. All leaves of all trees are expanded at once, grouped
by path length, and equal terms are summed with integer keys.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import scipy.sparse as sp

from ..spectrum import MAX_TERM_DEGREE, Spectrum
from ..term_rows import rows_to_csr, sum_duplicate_rows


def booster_spectrum(booster, n: int | None = None, num_iteration: int | None = None) -> Spectrum:
    """Fourier spectrum that reproduces ``booster.predict`` exactly on 0/1 masks."""
    model = booster.model_to_string(num_iteration=-1 if num_iteration is None else num_iteration)
    trees = _parse_trees(model)
    if n is None:
        n = booster.num_feature()
    return leaves_spectrum(n, *_leaf_paths(trees))


def leaves_spectrum(n: int, features: np.ndarray, outcomes: np.ndarray, depths: np.ndarray,
                    values: np.ndarray) -> Spectrum:
    """Sum of leaf indicator functions, from padded ``(L, D)`` path arrays, in Fourier form."""
    pieces: dict[int, tuple[list, list]] = {0: ([np.zeros((1, 0), dtype=np.int64)], [np.array([0.0])])}
    for d in np.unique(depths):
        d = int(d)
        if d > MAX_TERM_DEGREE:
            raise ValueError(f"a tree path of depth {d} is too deep to expand (limit {MAX_TERM_DEGREE})")
        rows = depths == d
        feats, signs = features[rows, :d], 1.0 - 2.0 * outcomes[rows, :d]
        order = np.argsort(feats, axis=1)
        feats, signs = np.take_along_axis(feats, order, 1), np.take_along_axis(signs, order, 1)
        scaled = values[rows] / 2.0 ** d
        for s in range(d + 1):
            for positions in combinations(range(d), s):
                cols = list(positions)
                terms, coefs = pieces.setdefault(s, ([], []))
                terms.append(feats[:, cols])
                coefs.append(scaled * np.prod(signs[:, cols], axis=1))
    supports, coefficients = [], []
    for s, (terms, coefs) in pieces.items():
        rows, coef = sum_duplicate_rows(np.concatenate(terms), np.concatenate(coefs))
        supports.append(rows_to_csr(rows, n))
        coefficients.append(coef)
    return Spectrum(n, sp.vstack(supports), np.concatenate(coefficients), basis="fourier")


def _parse_trees(model: str) -> list[dict[str, np.ndarray]]:
    """The arrays of every tree in a LightGBM text model."""
    wanted = {"num_leaves", "split_feature", "threshold", "decision_type", "left_child",
              "right_child", "leaf_value"}
    trees = []
    for block in model.split("\nTree=")[1:]:
        fields = {}
        for line in block.split("end of trees")[0].splitlines()[1:]:
            key, _, text = line.partition("=")
            if key in wanted:
                fields[key] = np.array(text.split(), dtype=float)
        if int(fields["num_leaves"][0]) > 1 and np.any(fields["decision_type"].astype(int) & 1):
            raise ValueError("categorical splits are not supported; masks are binary features")
        trees.append(fields)
    return trees


def _leaf_paths(trees: list[dict[str, np.ndarray]]):
    """Padded path arrays for all leaves of all trees, walking every tree level by level."""
    features, thresholds, lefts, rights, leaf_values, node_offsets, leaf_offsets = [], [], [], [], [], [], []
    roots, constant = [], 0.0
    node_offset = leaf_offset = 0
    for tree in trees:
        n_leaves = int(tree["num_leaves"][0])
        leaf_values.append(tree["leaf_value"])
        if n_leaves == 1:
            constant += float(tree["leaf_value"][0])
            leaf_offset += 1
            continue
        features.append(tree["split_feature"])
        thresholds.append(tree["threshold"])
        lefts.append(tree["left_child"])
        rights.append(tree["right_child"])
        roots.append(node_offset)
        node_offsets.append((node_offset, n_leaves - 1))
        leaf_offsets.append((leaf_offset, n_leaves - 1))
        node_offset += n_leaves - 1
        leaf_offset += n_leaves
    leaf_value = np.concatenate(leaf_values) if leaf_values else np.zeros(0)
    if not roots:
        return _paths_result([], [], [], constant)
    feature, threshold = np.concatenate(features).astype(np.int64), np.concatenate(thresholds)
    node_base = np.repeat(*np.array(node_offsets).T)  # per internal node: its tree's offsets
    leaf_base = np.repeat(*np.array(leaf_offsets).T)
    left = _global_child(np.concatenate(lefts).astype(np.int64), node_base, leaf_base)
    right = _global_child(np.concatenate(rights).astype(np.int64), node_base, leaf_base)
    if np.any((threshold < 0) | (threshold >= 1)):
        raise ValueError("a split threshold outside [0, 1) does not separate 0/1 masks; "
                         "the booster was not trained on binary masks")
    # frontier: internal node ids with their path so far
    nodes = np.array(roots)
    path_f = np.zeros((nodes.size, 0), dtype=np.int64)
    path_b = np.zeros((nodes.size, 0), dtype=np.int64)
    done_f, done_b, done_v = [], [], []
    while nodes.size:
        f = feature[nodes][:, None]
        child = np.concatenate([left[nodes], right[nodes]])
        path_f = np.vstack([np.hstack([path_f, f])] * 2)
        path_b = np.vstack([np.hstack([path_b, np.zeros_like(f)]), np.hstack([path_b, np.ones_like(f)])])
        is_leaf = child < 0
        done_f.append(path_f[is_leaf])
        done_b.append(path_b[is_leaf])
        done_v.append(leaf_value[-child[is_leaf] - 1])
        nodes, path_f, path_b = child[~is_leaf], path_f[~is_leaf], path_b[~is_leaf]
    return _paths_result(done_f, done_b, done_v, constant)


def _global_child(child: np.ndarray, node_offset: np.ndarray, leaf_offset: np.ndarray) -> np.ndarray:
    """Internal children get global node ids (>= 0); leaves get -(global leaf id) - 1."""
    return np.where(child >= 0, child + node_offset, -(-child - 1 + leaf_offset) - 1)


def _paths_result(done_f, done_b, done_v, constant: float):
    depth = max((p.shape[1] for p in done_f), default=0)
    pad = lambda arrays, fill: [np.pad(a, ((0, 0), (0, depth - a.shape[1])), constant_values=fill) for a in arrays]
    features = np.concatenate(pad(done_f, 0) + [np.zeros((1, depth), dtype=np.int64)])
    outcomes = np.concatenate(pad(done_b, 0) + [np.zeros((1, depth), dtype=np.int64)])
    depths = np.concatenate([np.full(len(v), p.shape[1]) for p, v in zip(done_f, done_v)] + [[0]])
    values = np.concatenate(done_v + [np.array([constant])])
    features, outcomes, depths, values = merge_repeated_features(features, outcomes, depths, values)
    return features, outcomes, depths.astype(np.int64), values


def merge_repeated_features(features, outcomes, depths, values):
    """A feature tested twice on one path: same outcome = one test; opposite = unreachable leaf."""
    if features.shape[1] < 2:
        return features, outcomes, depths, values
    width = np.arange(features.shape[1])[None, :] < depths[:, None]
    masked = np.where(width, features, -1 - np.arange(features.shape[1])[None, :])
    sorted_f = np.sort(masked, axis=1)
    repeated = np.flatnonzero(np.any(sorted_f[:, 1:] == sorted_f[:, :-1], axis=1))
    for r in repeated:  # rare: LightGBM never splits on a feature that is constant in the node
        tests = {}
        for j, b in zip(features[r, :depths[r]], outcomes[r, :depths[r]]):
            if tests.setdefault(int(j), int(b)) != b:
                values[r] = 0.0
        features[r, :len(tests)] = list(tests)
        outcomes[r, :len(tests)] = list(tests.values())
        depths[r] = len(tests)
    return features, outcomes, depths, values


def sklearn_trees_spectrum(estimator, n: int) -> Spectrum:
    """Exact Fourier spectrum of a fitted scikit-learn tree regressor or forest on 0/1 masks.

    Forests average their trees, so each tree's leaves are weighted by 1 / (number of trees).
    A node sends ``x_j <= threshold`` left, so for a threshold in [0, 1) left means x_j = 0.
    """
    trees = [estimator] if hasattr(estimator, "tree_") else list(estimator.estimators_)
    weight = 1.0 / len(trees)
    paths_f, paths_b, leaf_values = [], [], []
    for tree in (t.tree_ for t in trees):
        if np.any((tree.threshold[tree.feature >= 0] < 0) | (tree.threshold[tree.feature >= 0] >= 1)):
            raise ValueError("a split threshold outside [0, 1) does not separate 0/1 masks")
        stack = [(0, [], [])]
        while stack:
            node, feats, outs = stack.pop()
            if tree.children_left[node] < 0:
                paths_f.append(feats)
                paths_b.append(outs)
                leaf_values.append(weight * float(tree.value[node].ravel()[0]))
                continue
            j = int(tree.feature[node])
            stack.append((int(tree.children_left[node]), feats + [j], outs + [0]))
            stack.append((int(tree.children_right[node]), feats + [j], outs + [1]))
    depth = max(len(p) for p in paths_f)
    features = np.array([p + [0] * (depth - len(p)) for p in paths_f], dtype=np.int64).reshape(-1, depth)
    outcomes = np.array([p + [0] * (depth - len(p)) for p in paths_b], dtype=np.int64).reshape(-1, depth)
    depths = np.array([len(p) for p in paths_f], dtype=np.int64)
    features, outcomes, depths, values = merge_repeated_features(features, outcomes, depths,
                                                                  np.array(leaf_values))
    return leaves_spectrum(n, features, outcomes, depths, values)
