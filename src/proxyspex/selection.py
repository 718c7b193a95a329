"""Which k features to remove, judged by a sparse surrogate, interactions included.

Removing the set R (keeping every other feature) leaves the surrogate value

    g(R) = sum over Moebius terms T with T ∩ R = ∅ of m(T) = g(all) - sum_{T ∩ R ≠ ∅} m(T),

so choosing R is a covering problem over the surrogate's terms. Small problems are solved by
exhaustive search over the features the surrogate depends on; larger ones by an exact mixed-integer
program (``scipy.optimize.milp``, HiGHS). Features that appear in no term are interchangeable, so
at most k of them enter the search.
"""

from __future__ import annotations

from itertools import combinations, islice
from math import comb

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from ._validation import check_bool, check_int, check_real
from .spectrum import Spectrum

MAX_EXACT_SETS = 200_000  # above this many candidate sets, solve the integer program instead
MILP_TIME_LIMIT = 60.0  # seconds; HiGHS returns its best feasible set when it runs out

__all__ = ["best_removal", "most_influential_removal", "removal_value"]


def removal_value(surrogate: Spectrum, removed) -> float:
    """The surrogate's value with the features in ``removed`` masked and all others kept."""
    mask = np.ones((1, surrogate.n), dtype=bool)
    mask[0, list(removed)] = False
    return float(surrogate.predict(mask)[0])


def best_removal(surrogate: Spectrum, k: int, *, maximize: bool = True,
                 time_limit: float = MILP_TIME_LIMIT) -> tuple[tuple[int, ...], float]:
    """The ``k`` features whose removal gives the largest (or smallest) surrogate value.

    Returns ``(features, value)``: the sorted feature indices and the surrogate's value without them.
    Exact: exhaustive search when at most ``MAX_EXACT_SETS`` sets are possible, otherwise a
    mixed-integer program (exact unless it hits ``time_limit``).
    """
    n = surrogate.n
    k = check_int("k", k, min_value=0, max_value=n, what=f"an integer between 0 and n={n}")
    check_bool("maximize", maximize)
    check_real("time_limit", time_limit, low=0, include_low=False)
    moebius = surrogate if surrogate.basis == "moebius" else surrogate.to_moebius()
    sign = 1.0 if maximize else -1.0
    support = moebius.support.tocsr()
    nonempty = np.asarray(support.sum(axis=1)).ravel() > 0
    support, values = support[nonempty], moebius.values[nonempty]
    relevant = np.flatnonzero(np.asarray(support.sum(axis=0)).ravel() > 0)
    # features no term mentions are interchangeable: up to k of them join the search as free picks
    ignored = np.setdiff1d(np.arange(n), relevant)[:k]
    candidates = np.concatenate([relevant, ignored])
    local = support[:, candidates].tocsc().astype(float)
    # removing R costs the sum of m(T) over the terms R hits; maximizing g is minimizing that cost
    if k == 0:
        chosen = np.array([], dtype=int)
    elif comb(len(candidates), k) <= MAX_EXACT_SETS:
        chosen = _exhaustive(local, sign * values, k)
    else:
        chosen = _integer_program(local, sign * values, k, time_limit)
    chosen = candidates[chosen]
    features = tuple(sorted(int(i) for i in chosen))
    return features, removal_value(moebius, features)


def most_influential_removal(surrogate: Spectrum, k: int) -> tuple[tuple[int, ...], float]:
    """The ``k`` features whose removal changes the surrogate most, in either direction.

    Returns ``(features, value)`` as :func:`best_removal`, comparing its best increase and best decrease.
    """
    full = removal_value(surrogate, ())
    options = [best_removal(surrogate, k, maximize=True), best_removal(surrogate, k, maximize=False)]
    return max(options, key=lambda option: abs(option[1] - full))


def _exhaustive(local: sp.csc_matrix, cost_weights: np.ndarray, k: int, chunk: int = 4096) -> np.ndarray:
    """Exact minimum of sum_{T hit by R} w(T) over all |R| = k, in vectorised chunks."""
    r = local.shape[1]
    best_cost, best = np.inf, None
    sets = combinations(range(r), k)
    while True:
        batch = np.array(list(islice(sets, chunk)), dtype=int)
        if len(batch) == 0:
            break
        indicator = np.zeros((len(batch), r))
        np.put_along_axis(indicator, batch, 1.0, axis=1)
        hit = (local @ indicator.T) > 0  # (terms, sets)
        cost = cost_weights @ hit
        i = int(np.argmin(cost))
        if cost[i] < best_cost - 1e-12:
            best_cost, best = cost[i], batch[i]
    return np.asarray(best, dtype=int)


def _integer_program(local: sp.csc_matrix, cost_weights: np.ndarray, k: int, time_limit: float) -> np.ndarray:
    """Minimise sum_T w(T) y(T) with y(T) = [R hits T], |R| = k, as a MILP.

    Variables: r (one binary per feature), then y in [0, 1] per term. A term with w > 0 needs
    y(T) >= r_i for each i in T (the minimiser then sets y to the OR); a term with w < 0 needs
    y(T) <= sum_{i in T} r_i (the minimiser then sets y = 1 exactly when R hits T).
    """
    n_terms, r = local.shape
    coo = local.tocoo()
    term, feature = coo.row, coo.col
    positive = cost_weights[term] > 0
    # w > 0: r_i - y_T <= 0, one row per (T, i)
    rows_pos = np.arange(int(positive.sum()))
    lower_bound = sp.csr_matrix(
        (np.concatenate([np.ones(len(rows_pos)), -np.ones(len(rows_pos))]),
         (np.concatenate([rows_pos, rows_pos]), np.concatenate([feature[positive], r + term[positive]]))),
        shape=(len(rows_pos), r + n_terms))
    # w < 0: y_T - sum_i r_i <= 0, one row per term
    negative_terms = np.flatnonzero(cost_weights < 0)
    row_of = np.full(n_terms, -1)
    row_of[negative_terms] = np.arange(len(negative_terms))
    in_negative = cost_weights[term] < 0
    upper_bound = sp.csr_matrix(
        (np.concatenate([np.ones(len(negative_terms)), -np.ones(int(in_negative.sum()))]),
         (np.concatenate([np.arange(len(negative_terms)), row_of[term[in_negative]]]),
          np.concatenate([r + negative_terms, feature[in_negative]]))),
        shape=(len(negative_terms), r + n_terms))
    cardinality = sp.csr_matrix(np.concatenate([np.ones(r), np.zeros(n_terms)])[None, :])
    constraints = [LinearConstraint(cardinality, k, k)]
    if lower_bound.shape[0]:
        constraints.append(LinearConstraint(lower_bound, -np.inf, 0.0))
    if upper_bound.shape[0]:
        constraints.append(LinearConstraint(upper_bound, -np.inf, 0.0))
    objective = np.concatenate([np.zeros(r), cost_weights])
    integrality = np.concatenate([np.ones(r), np.zeros(n_terms)])
    result = milp(objective, constraints=constraints, integrality=integrality, bounds=Bounds(0, 1),
                  options={"time_limit": time_limit})
    if result.x is None:
        raise RuntimeError(f"the removal integer program found no feasible set: {result.message}")
    return np.flatnonzero(result.x[:r] > 0.5)[:k]
