"""The public API end to end: faithfulness, exactness for small n, adaptivity, errors."""

import numpy as np
import pytest

import proxyspex as px
from proxyspex.masks import sample_masks


def test_recovers_sparse_hierarchical_function():
    game = px.games.SyntheticGame(128, random_state=0)
    result = px.explain(game, budget=900, random_state=0, cache=False)
    assert game.r2(result.spectrum) > 0.95
    assert result.faithfulness > 0.9
    assert result.n_queries == 900
    X = sample_masks(128, 500, np.random.default_rng(9))
    y = game(X)
    held_out = 1 - np.sum((y - result.predict(X)) ** 2) / np.sum((y - y.mean()) ** 2)
    assert held_out == pytest.approx(game.r2(result.spectrum), abs=0.03)


def test_api_shapes_and_names():
    f = lambda X: 2.0 * X[:, 3] * X[:, 17] + X[:, 5] - 0.5 * X[:, 9]
    result = px.explain(f, n=64, budget=400, random_state=0, cache=False)
    top = result.top(3, index="moebius")
    assert top[0][0] == ("x3", "x17") and top[0][1] == pytest.approx(2.0, abs=0.05)
    shapley = result.index("shapley")
    assert len(shapley) == 64 and all(len(k) == 1 for k in shapley)
    assert shapley[(3,)] == pytest.approx(1.0, abs=0.05) and shapley[(9,)] == pytest.approx(-0.5, abs=0.05)
    for name in px.INDICES:
        values = result.index(name)
        assert isinstance(values, dict) and values
    assert max(len(k) for k in result.index("sii", order=3)) <= 3
    assert result.predict(np.ones((2, 64), dtype=bool)) == pytest.approx([2.5, 2.5], abs=0.1)


def test_small_n_is_exact_when_budget_covers_every_mask():
    game = px.games.DoubleNegativeGame()
    result = px.explain(game, budget=2 ** game.n, cache=False)
    assert result.details["exact"] and result.faithfulness == 1.0
    assert game.r2(result.spectrum) == pytest.approx(1.0)
    (names, value), *_ = result.top(1, index="moebius")
    assert names == ("never", "fails") and value == pytest.approx(5.5)


def test_adaptive_budget_stops_when_faithful():
    game = px.games.SyntheticGame(64, n_interactions=10, random_state=3)
    result = px.explain(game, random_state=0, cache=False)  # budget=None: adaptive
    rounds = result.details["rounds"]
    assert rounds[0]["n_masks"] == 384 and result.faithfulness >= 0.95
    assert result.n_queries == rounds[-1]["n_masks"] <= 10 * 384


def test_adaptive_budget_grows_on_harder_functions():
    game = px.games.SyntheticGame(64, n_interactions=80, max_order=4, random_state=4)
    result = px.explain(game, random_state=0, max_budget=3000, cache=False)
    sizes = [r["n_masks"] for r in result.details["rounds"]]
    assert len(sizes) >= 2 and sizes == sorted(sizes) and sizes[-1] <= 3000


def test_at_least_as_good_as_first_order_at_tiny_budgets():
    from sklearn.linear_model import LassoCV
    game = px.games.SyntheticGame(64, random_state=5)
    X = sample_masks(64, 96, np.random.default_rng(0))
    result = px.explain(game, budget=96, random_state=0, cache=False)
    lasso = LassoCV(cv=5).fit(X, game(X))
    Xt = sample_masks(64, 2000, np.random.default_rng(1))
    yt = game.spectrum.predict(Xt)
    r2 = lambda p: 1 - np.sum((yt - p) ** 2) / np.sum((yt - yt.mean()) ** 2)
    assert r2(result.predict(Xt)) >= r2(lasso.predict(Xt)) - 0.05


def test_energy_rule_and_tuning_options():
    game = px.games.SyntheticGame(32, random_state=6)
    a = px.explain(game, budget=300, energy=0.95, random_state=0, cache=False)
    b = px.explain(game, budget=300, tuning="grid", max_order=3, random_state=0, cache=False)
    c = px.explain(game, budget=300, tuning=[px.TreeConfig(max_depth=2)], random_state=0, cache=False)
    assert c.spectrum.max_degree <= 2
    assert game.r2(a.spectrum) > 0.5 and game.r2(b.spectrum) > 0.8


def test_reproducible_with_random_state():
    game = px.games.SyntheticGame(40, noise=0.2, random_state=0)
    a = px.explain(game, budget=200, random_state=7, cache=False)
    b = px.explain(px.games.SyntheticGame(40, noise=0.2, random_state=0), budget=200, random_state=7, cache=False)
    np.testing.assert_array_equal(a.spectrum.values, b.spectrum.values)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(n=0), ValueError, "n must be a positive integer"),
    (dict(n=-3), ValueError, "n must be a positive integer"),
    (dict(n=2.5), TypeError, "n must be a positive integer"),
    (dict(), TypeError, "n is required"),
    (dict(n=30, budget=5), ValueError, "budget=5 is below"),
    (dict(n=30, budget=100.5), TypeError, "budget must be an integer"),
    (dict(n=30, budget=100, max_order=0), ValueError, "max_order"),
    (dict(n=30, budget=100, energy=1.5), ValueError, "energy"),
    (dict(n=30, budget=100, tuning="huge"), ValueError, "tuning"),
    (dict(n=30, budget=100, feature_names=["a"]), ValueError, "feature_names has 1 entries but n=30"),
])
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        px.explain(lambda X: X.sum(axis=1) * 1.0, cache=False, **kwargs)


def test_bad_game_and_index():
    with pytest.raises(TypeError, match="game must be"):
        px.explain("not a function", n=3)
    result = px.explain(lambda X: X[:, 0] * 1.0, n=4, budget=16, cache=False)
    with pytest.raises(ValueError, match="unknown index 'shapely'"):
        result.index("shapely")


def test_tiny_n_works():
    result = px.explain(lambda X: 3.0 * X[:, 0], n=1, cache=False)
    assert result.index("shapley") == {(0,): pytest.approx(3.0)}


def test_evaluate_faithfulness_matches_parseval():
    from proxyspex.evaluate import faithfulness
    game = px.games.SyntheticGame(48, random_state=8)
    result = px.explain(game, budget=300, random_state=0, cache=False)
    sampled = faithfulness(result, game, n_test=4000, random_state=1)
    assert sampled == pytest.approx(game.r2(result.spectrum), abs=0.03)
    assert abs(result.faithfulness - sampled) < 0.1  # the cross-validated estimate is honest


def test_adaptive_first_round_respects_max_budget():
    calls = []
    result = px.explain(lambda X: calls.append(len(X)) or X[:, 0] * 1.0, n=30, max_budget=20,
                        random_state=0, cache=False)
    assert result.n_queries == sum(calls) == 20
