"""The spectrum read off a LightGBM ensemble reproduces booster.predict exactly."""

import time

import lightgbm as lgb
import numpy as np
import pytest

from proxyspex.proxy.trees import booster_spectrum, leaves_spectrum


def train(n, m, depth, rounds, seed=0, **extra):
    rng = np.random.default_rng(seed)
    X = rng.random((m, n)) < 0.5
    y = X[:, 0] * X[:, 1] * X[:, 2] + X[:, 3] - 2 * X[:, 5] * X[:, 7] + rng.normal(size=m)
    params = dict(objective="regression", max_depth=depth, num_leaves=2 ** depth, min_child_samples=5,
                  learning_rate=0.05, verbosity=-1, num_threads=1, seed=seed, **extra)
    return lgb.train(params, lgb.Dataset(X.astype(np.float32), y), num_boost_round=rounds), rng


def test_exact_at_n200_depth5_hundreds_of_trees():
    booster, rng = train(n=200, m=3000, depth=5, rounds=400)
    spectrum = booster_spectrum(booster, 200)
    assert spectrum.max_degree == 5
    X = rng.random((300, 200)) < 0.5
    np.testing.assert_allclose(spectrum.predict(X), booster.predict(X.astype(np.float32)), atol=1e-9, rtol=0)


def test_extraction_is_vectorised():
    booster, _ = train(n=200, m=3000, depth=5, rounds=1000, seed=1)
    start = time.perf_counter()
    spectrum = booster_spectrum(booster, 200)
    elapsed = time.perf_counter() - start
    assert booster.num_trees() == 1000 and len(spectrum) > 10_000
    # generous bound for a loaded CI machine; typical is ~0.3 s (see BENCHMARKS.md)
    assert elapsed < 5


def test_best_iteration_and_single_leaf_trees():
    booster, rng = train(n=30, m=400, depth=3, rounds=60, seed=2, min_gain_to_split=5.0)
    X = rng.random((200, 30)) < 0.5
    for k in (1, 7, 60):
        spectrum = booster_spectrum(booster, 30, num_iteration=k)
        np.testing.assert_allclose(spectrum.predict(X), booster.predict(X.astype(np.float32), num_iteration=k),
                                   atol=1e-9)


def test_leaf_expansion_of_one_path():
    # one leaf: value 4 where x0 = 1 and x2 = 0, i.e. 4 * (1 - chi0)/2 * (1 + chi2)/2
    spectrum = leaves_spectrum(3, np.array([[0, 2]]), np.array([[1, 0]]), np.array([2]), np.array([4.0]))
    assert spectrum.to_dict() == pytest.approx({(): 1.0, (0,): -1.0, (2,): 1.0, (0, 2): -1.0})


def test_repeated_feature_on_a_path():
    from proxyspex.proxy.trees import merge_repeated_features
    features = np.array([[0, 0, 1], [0, 0, 1]])
    outcomes = np.array([[1, 1, 0], [1, 0, 0]])
    f, o, d, v = merge_repeated_features(features, outcomes, np.array([3, 3]), np.array([2.0, 5.0]))
    assert list(d) == [2, 2] and v[0] == 2.0 and v[1] == 0.0  # contradiction: unreachable leaf
    assert list(f[0, :2]) == [0, 1] and list(o[0, :2]) == [1, 0]


@pytest.mark.parametrize("forest", [False, True])
def test_sklearn_trees_spectrum_is_exact(forest):
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.tree import DecisionTreeRegressor

    from proxyspex.proxy.trees import sklearn_trees_spectrum

    rng = np.random.default_rng(0)
    X = rng.random((400, 20)) < 0.5
    y = X[:, 0] * X[:, 1] * 2.0 - X[:, 5] + rng.normal(0, 0.1, 400)
    model = (RandomForestRegressor(n_estimators=20, max_depth=5, random_state=0) if forest
             else DecisionTreeRegressor(max_depth=6, random_state=0)).fit(X, y)
    spectrum = sklearn_trees_spectrum(model, 20)
    X_test = rng.random((300, 20)) < 0.5
    assert np.max(np.abs(spectrum.predict(X_test) - model.predict(X_test))) < 1e-9
