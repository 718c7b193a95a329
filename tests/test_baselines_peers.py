"""KernelSHAP (shap) and SPEX (spectralexplain) baselines: same result type as ProxySPEX, right values."""

import sys

import brute
import numpy as np
import pytest
from extras import require_extra

from proxyspex.baselines.kernelshap import KernelSHAP
from proxyspex.baselines.spex import SPEX, spex_min_budget, spex_num_samples
from proxyspex.games import SpectrumGame, SyntheticGame
from proxyspex.masks import all_masks
from proxyspex.spectrum import Spectrum


def shapley_of(result) -> np.ndarray:
    values = result.index("shapley")
    return np.array([values[(i,)] for i in range(result.n)])


# -- KernelSHAP --------------------------------------------------------------------------

@pytest.fixture
def shap():
    return require_extra("shap", "bench")


def test_kernelshap_is_exact_on_an_additive_game(shap):
    rng = np.random.default_rng(0)
    n, weights, constant = 12, rng.normal(size=12), 0.7
    f = lambda X: constant + X @ weights
    result = KernelSHAP(budget=40, random_state=1, cache=False).explain(f, n=n)
    np.testing.assert_allclose(shapley_of(result), weights, atol=1e-9)
    X = rng.random((50, n)) < 0.5
    np.testing.assert_allclose(result.predict(X), f(X), atol=1e-9)
    assert result.n_queries <= 40 and result.n_paid == result.n_queries
    assert np.isnan(result.faithfulness) and result.details["train_r2"] == pytest.approx(1.0)


def test_kernelshap_enumerates_small_games_exactly(shap):
    game = SyntheticGame(n=8, n_interactions=12, max_order=3, random_state=3)
    table = game.value(all_masks(8))
    result = KernelSHAP(budget=1000, random_state=0, cache=False).explain(game)
    assert result.n_queries == 2 ** 8  # shap caps its sample at every coalition
    np.testing.assert_allclose(shapley_of(result), brute.shapley(table), atol=1e-9)
    full, empty = np.ones((1, 8), bool), np.zeros((1, 8), bool)  # the surrogate is efficient
    np.testing.assert_allclose(result.predict(np.vstack([full, empty])), game.value(np.vstack([full, empty])),
                               atol=1e-9)


def test_kernelshap_approaches_brute_force_within_budget(shap):
    game = SyntheticGame(n=10, n_interactions=20, max_order=3, random_state=0)
    truth = brute.shapley(game.value(all_masks(10)))
    result = KernelSHAP(budget=500, random_state=0, cache=False).explain(game)
    estimate = shapley_of(result)
    assert 400 < result.n_queries <= 500  # shap's anchors are inside the budget
    assert np.abs(estimate - truth).max() < 0.1 * np.abs(truth).max()
    assert result.details["nsamples"] == 498


def test_kernelshap_is_seeded_cached_and_leaves_global_state_alone(shap, tmp_path):
    game = SyntheticGame(n=16, n_interactions=10, random_state=2)
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    first = KernelSHAP(budget=60, random_state=5, cache=tmp_path / "c.sqlite").explain(game)
    np.testing.assert_array_equal(np.random.get_state()[1], before)
    again = KernelSHAP(budget=60, random_state=5, cache=tmp_path / "c.sqlite").explain(game)
    np.testing.assert_array_equal(shapley_of(first), shapley_of(again))
    assert first.n_paid == first.n_queries == 60 and again.n_paid == 0
    other = KernelSHAP(budget=60, random_state=6, cache=False).explain(game)
    assert not np.allclose(shapley_of(first), shapley_of(other))


def test_kernelshap_rejects_bad_arguments(shap):
    f, n = (lambda X: X.sum(axis=1)), 5
    with pytest.raises(ValueError, match="budget"):
        KernelSHAP(budget=2).explain(f, n=n)
    with pytest.raises(TypeError, match="budget"):
        KernelSHAP(budget=10.5).explain(f, n=n)
    with pytest.raises(ValueError, match="backend"):
        KernelSHAP(budget=10, backend="shapiq").explain(f, n=n)
    with pytest.raises(TypeError, match="random_state"):
        KernelSHAP(budget=10, random_state=np.random.default_rng(0)).explain(f, n=n)


def test_missing_peer_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "shap", None)  # makes `import shap` fail
    with pytest.raises(ModuleNotFoundError, match=r"proxyspex\[bench\]"):
        KernelSHAP(budget=10).explain(lambda X: X.sum(axis=1), n=4)


# -- SPEX ----------------------------------------------------------------------------------
# All SPEX tests use n = 20 and max_order = 2, so galois compiles its BCH fields once
# (about 20 s of numba compilation the first time spectralexplain decodes in a process).

N, ORDER = 20, 2
KNOWN = {(): 3.0, (0,): -2.0, (5,): 0.7, (3, 7): 1.5, (2, 11): -1.1, (4, 19): 0.4}


@pytest.fixture(scope="module")
def spex_known():
    require_extra("spectralexplain", "bench")
    game = SpectrumGame(Spectrum.from_dict(N, KNOWN))
    budget = spex_min_budget(N, ORDER)
    return budget, SPEX(budget=budget, max_order=ORDER, random_state=0, cache=False).explain(game)


def test_spex_recovers_known_fourier_terms_with_our_signs(spex_known):
    _, result = spex_known
    found = result.spectrum.to_dict()
    assert set(found) == set(KNOWN)
    for term, value in KNOWN.items():
        assert found[term] == pytest.approx(value, abs=1e-8)
    assert result.moebius.to_dict()[(3, 7)] == pytest.approx(4 * 1.5)  # m(T) = (-2)^|T| F(T) here


def test_spex_counts_distinct_queries_within_its_minimum_budget(spex_known):
    budget, result = spex_known
    assert budget == spex_num_samples(N, 3, ORDER) == result.details["samples_requested"]
    assert result.details["sparsity_b"] == 3 and result.details["min_budget"] == budget
    assert 0.8 * budget < result.n_queries <= budget  # a few structured masks repeat
    assert result.n_paid == result.n_queries


def test_spex_is_faithful_on_a_synthetic_game():
    require_extra("spectralexplain", "bench")
    game = SyntheticGame(n=N, n_interactions=12, max_order=ORDER, random_state=3)
    budget = 2 * spex_min_budget(N, ORDER)
    result = SPEX(budget=budget + 7, max_order=ORDER, decoder="hard", random_state=1, cache=False).explain(game)
    assert result.details["sparsity_b"] == 4 and result.n_queries <= budget
    X = np.random.default_rng(0).random((500, N)) < 0.5
    y = game.value(X)
    r2 = 1 - np.sum((y - result.predict(X)) ** 2) / np.sum((y - y.mean()) ** 2)
    assert r2 > 0.95 and game.r2(result.spectrum) > 0.95


def test_spex_refuses_budgets_below_its_minimum_and_bad_arguments():
    require_extra("spectralexplain", "bench")
    f = lambda X: X.sum(axis=1)
    needed = spex_min_budget(N, ORDER)
    with pytest.raises(ValueError, match=f"minimum of {needed}"):
        SPEX(budget=needed - 1, max_order=ORDER).explain(f, n=N)
    with pytest.raises(TypeError, match="budget"):
        SPEX(budget=500.0, max_order=ORDER).explain(f, n=N)
    with pytest.raises(ValueError, match="max_order"):
        SPEX(budget=1000, max_order=0).explain(f, n=N)
    with pytest.raises(ValueError, match="decoder"):
        SPEX(budget=1000, max_order=ORDER, decoder="fuzzy").explain(f, n=N)
