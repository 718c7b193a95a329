"""Evaluation metrics and the LASSO baseline, on functions with known answers."""

import numpy as np
import pytest

import proxyspex as px
from proxyspex.baselines import Lasso
from proxyspex.evaluate import faithfulness, removal_curve, shapley_recall
from proxyspex.games.synthetic import SpectrumGame
from proxyspex.spectrum import Spectrum


def additive(X):
    return 3.0 + X[:, 0] * 2.0 - X[:, 3] * 1.5 + 0.25 * X[:, 7]


def test_lasso_recovers_an_additive_function():
    result = Lasso(budget=200, random_state=0, cache=False).explain(additive, n=12)
    moebius = result.moebius.to_dict()
    assert moebius[(0,)] == pytest.approx(2.0, abs=0.05)
    assert moebius[(3,)] == pytest.approx(-1.5, abs=0.05)
    assert result.faithfulness > 0.99 and result.n_queries == 200 == result.n_paid
    assert all(len(term) <= 1 for term in moebius)
    assert faithfulness(result, additive, n_test=200, random_state=1) > 0.99


def test_lasso_misses_an_interaction_that_proxyspex_finds():
    game = SpectrumGame(Spectrum.from_dict(10, {(0, 1): 2.0, (2,): 0.3}, basis="moebius"))
    lasso = Lasso(budget=300, random_state=0, cache=False).explain(game)
    ours = px.explain(game, budget=300, random_state=0, cache=False)
    assert faithfulness(ours, game, n_test=300, random_state=2) > 0.99
    assert faithfulness(lasso, game, n_test=300, random_state=2) < 0.8


def test_lasso_checks_its_budget():
    with pytest.raises(ValueError, match="budget=3 is below"):
        Lasso(budget=3, cache=False).explain(additive, n=12)


def test_removal_curve_accounts_for_interactions():
    # f = 1 + 2 x0 x1 x2 + 0.5 x5: removing any one of 0, 1, 2 loses the 2.0; a marginal
    # (Shapley) ranking would spread it over three features
    game = SpectrumGame(Spectrum.from_dict(8, {(): 1.0, (0, 1, 2): 2.0, (5,): 0.5}, basis="moebius"))
    exact = px.explain(game, budget=2 ** 8, cache=False)
    curve = removal_curve(exact, game, ks=[1, 2])
    assert len(set(curve.removed[0]) & {0, 1, 2}) == 1
    assert set(curve.removed[1]) & {5} and len(set(curve.removed[1]) & {0, 1, 2}) == 1
    assert curve.change == pytest.approx([2.0 / 3.5, 2.5 / 3.5])
    assert curve.value == pytest.approx(curve.predicted)
    with pytest.raises(ValueError, match="ks must be"):
        removal_curve(exact, game, ks=[9])


def test_shapley_recall():
    truth = np.array([5.0, -4.0, 3.0, 0.1, 0.2, 0.0])
    assert shapley_recall(truth, truth, k=3) == 1.0
    assert shapley_recall(np.array([5.0, 0.0, 3.0, 0.1, 4.0, 0.0]), truth, k=3) == pytest.approx(2 / 3)
    assert shapley_recall({(i,): v for i, v in enumerate(truth)}, truth, k=2) == 1.0
    game = SpectrumGame(Spectrum.from_dict(6, {(0, 1): 2.0, (2,): -1.0}, basis="moebius"))
    exact = px.explain(game, budget=64, cache=False)
    assert shapley_recall(exact, [1.0, 1.0, -1.0, 0, 0, 0], k=3) == 1.0
    with pytest.raises(ValueError, match="k must be"):
        shapley_recall(truth, truth, k=0)


def test_spectral_hierarchy():
    from proxyspex.evaluate import spectral_hierarchy
    spectrum = Spectrum.from_dict(6, {(): 9.0, (0,): 3.0, (0, 1): 2.0, (2, 3): 1.0, (0, 1, 4): 1.0, (5,): 1.0})
    h = spectral_hierarchy(spectrum, top_k=(2, 5))
    assert h["top2"] == pytest.approx(13 / 16)  # 9 + 4 of 16, the constant excluded
    assert h["order1"] == pytest.approx(10 / 16) and h["order2"] == pytest.approx(5 / 16)
    assert h["order3"] == pytest.approx(1 / 16) and h["order4+"] == 0
    assert h["subset2"] == 1.0  # (0, 1) with (0,)
    assert h["subset5"] == pytest.approx(2 / 3)  # (0, 1) and (0, 1, 4) have subsets; (2, 3) has none


def test_evaluation_arguments_follow_one_convention():
    from proxyspex.evaluate import faithfulness, removal_curve, shapley_recall
    game = SpectrumGame(Spectrum.from_dict(6, {(0, 1): 2.0, (2,): -1.0}, basis="moebius"))
    exact = px.explain(game, budget=64, cache=False)
    with pytest.raises(TypeError, match="^ks must be removal sizes"):
        removal_curve(exact, game, ks=[1.5])
    with pytest.raises(ValueError, match=r"^ks must be removal sizes between 0 and n=6, got \[\]"):
        removal_curve(exact, game, ks=[])
    with pytest.raises(TypeError, match="^n_test must be"):
        faithfulness(exact, game, n_test=10.0)
    with pytest.raises(ValueError, match="^n_test must be"):
        faithfulness(exact, game, n_test=1)
    with pytest.raises(TypeError, match="^k must be between 1"):
        shapley_recall(exact, exact, k="3")
