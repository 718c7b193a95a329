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


def test_adaptive_rounds_report_intervals_and_stop_on_a_plateau():
    game = px.games.SyntheticGame(64, noise=1.0, random_state=1)  # half the variance is noise: R^2 plateaus near 0.5
    result = px.explain(game, random_state=0, cache=False)
    rounds = result.details["rounds"]
    cap = px.estimator.default_budget(64, px.estimator.ADAPTIVE_CAP_ALPHA)
    assert result.details["stopped"] == "plateau" and result.n_queries <= cap / 2
    assert all(r["r2_low"] < r["r2"] < r["r2_high"] <= 1 for r in rounds)
    assert [r["n_masks"] for r in rounds] == [384 * 2 ** k for k in range(len(rounds))] and len(rounds) >= 2
    assert sum(r["n_paid"] for r in rounds) == result.n_queries == rounds[-1]["n_masks"]
    # a plateau is called only on a gain within the noise AND an interval precise enough (half-width <= 0.05)
    assert rounds[-1]["r2"] - rounds[-2]["r2"] <= max(0.01, (rounds[-1]["r2_high"] - rounds[-1]["r2_low"]) / 2)
    assert rounds[-1]["r2_high"] - rounds[-1]["r2_low"] <= 0.1
    assert game.r2(result.spectrum) > 0.7  # the clean function is still found


def test_adaptive_rounds_keep_going_while_they_gain():
    game = px.games.SyntheticGame(64, n_interactions=80, max_order=4, random_state=4)
    result = px.explain(game, random_state=0, cache=False)
    rounds = result.details["rounds"]
    assert len(rounds) >= 3 and rounds[1]["r2"] - rounds[0]["r2"] > 0.05
    assert result.details["stopped"] in ("target_r2", "diminishing gains") and game.r2(result.spectrum) > 0.98


def test_diminishing_gains_stop_before_the_doubling_that_would_gain_noise():
    from proxyspex.adaptive import Round, StoppingRule
    rounds = [Round(100 * 2 ** k, r2, r2 - 0.02, r2 + 0.02, 100, 1.0, 1.0) for k, r2 in enumerate([0.4, 0.6, 0.66])]
    rule = StoppingRule(cap=10_000)
    assert rule.next_size(rounds, 0.0) is None and rule.reason == "diminishing gains"  # next: 0.06 * 0.3 < 0.02
    rounds[-1] = Round(400, 0.75, 0.73, 0.77, 100, 1.0, 1.0)  # gains 0.2 then 0.15: the next one is worth it
    assert StoppingRule(cap=10_000).next_size(rounds, 0.0) == 800
    rounds[-1] = Round(400, 0.61, 0.53, 0.69, 100, 1.0, 1.0)  # a small gain, but too imprecise to call a plateau
    assert StoppingRule(cap=10_000).next_size(rounds, 0.0) == 800


def test_max_time_stops_before_a_round_that_would_overrun():
    game = px.games.SyntheticGame(64, n_interactions=80, max_order=4, random_state=4)
    result = px.explain(game, random_state=0, cache=False, max_time=1e-3)  # the first round alone takes longer
    assert result.details["stopped"] == "max_time" and len(result.details["rounds"]) == 1


def test_r2_interval_narrows_with_more_masks_and_is_empty_for_an_exact_fit():
    from proxyspex.adaptive import r2_interval
    rng = np.random.default_rng(0)
    small, large = r2_interval(0.5, rng.normal(size=100)), r2_interval(0.5, rng.normal(size=10_000))
    assert small[0] < large[0] < 0.5 < large[1] < small[1]
    assert r2_interval(1.0, np.zeros(50)) == (1.0, 1.0)


def test_progress_bar_covers_the_whole_explanation(capsys):
    game = px.games.SyntheticGame(64, noise=1.0, random_state=1)
    result = px.explain(game, random_state=0, cache=False, progress=True)
    err = capsys.readouterr().err
    done = f"{result.n_queries}/{result.n_queries}"  # the bar ends where the rounds stopped, below the cap
    assert "explaining" in err and done in err and "r2=" in err and len(result.details["rounds"]) >= 2


def test_exact_path_honours_max_order():
    import brute
    f = lambda X: 4.0 * X[:, 0] * X[:, 1] * X[:, 2] - 2.0 * X[:, 3] * X[:, 4] + X[:, 5]
    truth = brute.fourier(f(brute.all_masks(6)))
    full = px.explain(f, n=6, budget=64, cache=False)
    assert full.details["max_order"] is None and full.faithfulness == 1.0
    assert full.spectrum.to_dict() == pytest.approx({k: v for k, v in truth.items() if abs(v) > 1e-12})
    cut = px.explain(f, n=6, budget=64, max_order=2, cache=False)
    assert cut.details["exact"] and cut.details["max_order"] == 2 and cut.spectrum.max_degree == 2
    assert cut.spectrum.to_dict() == pytest.approx({k: v for k, v in truth.items() if abs(v) > 1e-12 and len(k) <= 2})
    lost = sum(v ** 2 for k, v in truth.items() if len(k) > 2)
    energy = sum(v ** 2 for k, v in truth.items() if k)
    assert cut.faithfulness == pytest.approx(1 - lost / energy) and cut.faithfulness < 1  # Parseval: exact R^2
    assert cut.details["truncated_energy"] == pytest.approx(lost)


def test_explain_many_checks_parameters_before_any_ray_task():
    from extras import require_extra
    ray = require_extra("ray", "ray")
    started = ray.is_initialized()
    with pytest.raises(ValueError, match="budget=-1 is below"):
        px.explain_many([px.games.SyntheticGame(8), px.games.SyntheticGame(9)], executor="ray", budget=-1)
    with pytest.raises(TypeError, match="max_order must be"):
        px.explain_many([px.games.SyntheticGame(8)], executor="ray", budget=64, max_order=2.5)
    assert ray.is_initialized() == started  # nothing was started


def test_importing_the_estimator_loads_no_game_or_model():
    import subprocess
    import sys
    code = ("import sys, proxyspex.explain, proxyspex.estimator, proxyspex.baselines; "
            "print(sorted(m for m in sys.modules if m.startswith(('proxyspex.games', 'proxyspex.models', "
            "'torch', 'transformers'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_parameters_are_checked_before_the_fingerprint_is_read():
    class Game:
        n, feature_names = 4, list("abcd")

        def __call__(self, X):
            return X.sum(axis=1) * 1.0

        @property
        def fingerprint(self):  # for an LLM game this may run the model
            raise AssertionError("the fingerprint was read before the parameters were checked")

    for call in (lambda: px.explain(Game(), budget=-1), lambda: px.explain_many([Game()], max_order=0),
                 lambda: px.explain_coarse_to_fine(Game(), groups={"sentence": [[0, 1], [2, 3]]}, keep=0),
                 lambda: px.baselines.Lasso(cv=1).explain(Game())):
        with pytest.raises(ValueError):
            call()


def test_rounds_use_the_proxys_own_interval_when_it_gives_one(monkeypatch):
    import proxyspex.estimator as estimator
    real = estimator.fit_proxy

    def with_interval(*args, **kwargs):
        fit = real(*args, **kwargs)
        fit.faithfulness_interval = (fit.faithfulness - 0.25, fit.faithfulness + 0.125)
        return fit

    monkeypatch.setattr(estimator, "fit_proxy", with_interval)
    result = px.explain(px.games.SyntheticGame(32, random_state=0), budget=200, random_state=0, cache=False)
    (round_,) = result.details["rounds"]
    assert round_["r2_high"] - round_["r2"] == pytest.approx(0.125)
    assert round_["r2"] - round_["r2_low"] == pytest.approx(0.25)
