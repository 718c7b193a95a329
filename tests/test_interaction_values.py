"""InteractionValues: named, sparse values of an index that do not pretend to be a basis."""

from itertools import combinations

import brute
import numpy as np
import pytest

import proxyspex as px
from proxyspex.games.synthetic import DoubleNegativeGame


@pytest.fixture(scope="module")
def table_result():
    """An exact explanation of a random 8-feature game, and its full table."""
    n = 8
    rng = np.random.default_rng(3)
    X = brute.all_masks(n)
    table = rng.normal(size=2 ** n) + 2 * X[:, 1] * X[:, 4] - 1.5 * X[:, 0] * X[:, 2] * X[:, 5]
    names = ["the", "film", "is", "not", "bad", "at", "all", "."]
    result = px.explain(lambda M: table[(M.astype(int) << np.arange(n)).sum(axis=1)], n=n, budget=2 ** n,
                        feature_names=names, cache=False)
    return result, table


def test_double_negative_sii_no_longer_evaluates_as_moebius():
    game = DoubleNegativeGame()
    result = px.explain(game, budget=2 ** game.n, cache=False)
    full = np.ones((1, game.n), dtype=bool)
    sii = result.values("sii")
    assert isinstance(sii, px.InteractionValues)
    for method in ("predict", "energy", "to_fourier", "to_moebius", "design_matrix"):
        assert not hasattr(sii, method)  # SII numbers summed as Moebius terms gave 9.3, not f(all) = 2.8
    assert result.values("moebius").predict(full)[0] == pytest.approx(game(full)[0])
    assert result.values("fourier").predict(full)[0] == pytest.approx(game(full)[0])
    assert isinstance(result.values("moebius"), px.Spectrum)
    assert sii[("never", "fails")] == pytest.approx(5.5)  # the planted pair, all its mass at order 2
    assert sii.baseline_value == pytest.approx(game(np.zeros((1, game.n), dtype=bool))[0])


@pytest.mark.parametrize("index", ["shapley", "banzhaf", "sii", "bii", "k-sii", "stii", "fsii", "fbii"])
def test_every_index_against_brute_force(table_result, index):
    result, table = table_result
    order = 1 if index in ("shapley", "banzhaf") else 2
    values = result.values(index, order)
    assert isinstance(values, px.InteractionValues)
    assert (values.index, values.max_order, values.n) == (index, order, 8)
    if index == "shapley":
        expected = dict(zip([(i,) for i in range(8)], brute.shapley(table)))
    elif index == "banzhaf":
        expected = dict(zip([(i,) for i in range(8)], brute.banzhaf(table)))
    elif index in ("sii", "bii"):
        rule = brute.sii if index == "sii" else brute.bii
        expected = {S: rule(table, S) for r in (1, 2) for S in combinations(range(8), r)}
    else:
        expected = {"k-sii": brute.k_sii, "stii": brute.stii, "fsii": brute.faith_shapley,
                    "fbii": brute.faith_banzhaf}[index](table, order)
    for S, v in expected.items():
        assert values[S] == pytest.approx(v, abs=1e-9), S
        assert values[result.names(S)] == pytest.approx(v, abs=1e-9), S
    assert set(values.to_dict()) <= set(expected) | {()}
    if index == "fbii":
        assert values.baseline_value == pytest.approx(expected[()], abs=1e-9)  # the fit's intercept
    else:
        assert values.baseline_value == pytest.approx(table[0], abs=1e-9)
    if index in ("k-sii", "stii", "fsii"):
        assert values[()] == pytest.approx(table[0], abs=1e-9)
        assert values.values.sum() == pytest.approx(table[-1], abs=1e-9)  # efficiency


def test_lookup_iteration_top_and_dict(table_result):
    result, table = table_result
    sii = result.values("sii", 2)
    assert sii[(4, 1)] == sii[(1, 4)] == sii[("film", "bad")] == sii[["bad", "film"]]
    assert sii[3] == sii[(3,)] == sii["not"] == pytest.approx(brute.sii(table, (3,)), abs=1e-9)
    pairs = dict(sii)
    assert len(sii) == len(pairs) == len(sii.to_dict()) == 8 + 28
    assert list(sii) == list(sii.to_dict().items())
    assert sii.to_dict(names=True)[("film", "bad")] == sii[(1, 4)]
    by_hand = sorted(((S, v) for S, v in pairs.items() if len(S) == 2), key=lambda item: -abs(item[1]))[:3]
    assert sii.top(3, order=2) == by_hand
    assert sii.top(3, order=2, names=True) == [(result.names(S), v) for S, v in by_hand]
    strongest = max((S for S in pairs if S), key=lambda S: abs(pairs[S]))
    assert sii.top(1)[0][0] == strongest
    assert all(len(S) == 1 for S, _ in sii.top(8, order=1))
    np.testing.assert_allclose(sii.first_order(), [pairs[(i,)] for i in range(8)])
    assert result.top(3, index="sii", order=2) == [(result.names(S), v) for S, v in sii.top(3)]
    assert result.index("sii") == sii.to_dict()


def test_lookup_errors(table_result):
    result, _ = table_result
    sii = result.values("sii")
    with pytest.raises(KeyError, match="no feature is named 'good'"):
        sii[("good",)]
    with pytest.raises(IndexError, match="outside"):
        sii[(0, 99)]
    with pytest.raises(ValueError, match="twice"):
        sii[(1, 1)]
    with pytest.raises(TypeError, match="tuple of feature indices or names"):
        sii[1.5]
    with pytest.raises(ValueError, match="k must be"):
        sii.top(-1)
    repeated = px.InteractionValues(3, np.eye(3, dtype=bool), [1.0, 2.0, 3.0], index="sii", max_order=1,
                                    baseline_value=0.0, feature_names=["the", "cat", "the"])
    with pytest.raises(KeyError, match="used by features \\[0, 2\\]"):
        repeated["the"]
    assert repeated[(2,)] == 3.0 and repeated[(0, 1)] == 0.0


def test_sparse_at_n_5000():
    n = 5000
    rng = np.random.default_rng(0)
    terms = {tuple(sorted(rng.choice(n, size=d, replace=False).tolist())): rng.normal()
             for d in (1, 2, 3) for _ in range(40)}
    fourier = px.Spectrum.from_dict(n, terms)
    names = [f"w{i}" for i in range(n)]
    values = px.interaction_values(fourier, "k-sii", 2, feature_names=names)
    assert len(values) <= 1 + 40 * (1 + 3 + 6)  # never dense
    assert values.support.shape == (len(values), n)
    pair = next(S for S in terms if len(S) == 2)
    assert values[pair] == values[tuple(names[i] for i in pair)] != 0.0
    assert len(values.top(5, order=2)) == 5
    assert values.shapiq_dict()["metadata"]["n_players"] == n
    assert "w" in values._repr_html_()


def test_shapiq_names_follow_order(table_result):
    result, _ = table_result
    assert result.values("sii", 2).shapiq_index() == "SII"
    assert result.values("sii", 1).shapiq_index() == "SV"
    assert result.values("fbii", 1).shapiq_index() == "BV"
    assert result.values("k-sii", 3).shapiq_index() == "k-SII"
    moebius = px.InteractionValues.from_spectrum(result.values("moebius"), index="moebius",
                                                 feature_names=result.feature_names)
    assert moebius.shapiq_index() == "Moebius" and moebius.baseline_value == result.values("moebius").to_dict()[()]
    with pytest.raises(ValueError, match="shapiq has no counterpart"):
        px.InteractionValues(2, np.eye(2, dtype=bool), [1.0, 1.0], index="fourier", max_order=1,
                             baseline_value=0.0).shapiq_index()


def test_repr_and_html(table_result):
    result, _ = table_result
    sii = result.values("sii")
    assert repr(sii).startswith("InteractionValues(index='sii', n=8, max_order=2")
    page = sii._repr_html_()
    assert "film" in page and "bad" in page and "sii" in page
