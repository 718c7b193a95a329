"""Every conversion and index against brute force over the full 2^n table."""

import brute
import numpy as np
import pytest

from proxyspex.indices import interaction_values, normalize_index
from proxyspex.spectrum import Spectrum


def dense_spectrum(table: np.ndarray) -> Spectrum:
    n = int(np.log2(table.size))
    return Spectrum.from_dict(n, brute.fourier(table))


@pytest.fixture(params=[0, 1, 2])
def table(request):
    rng = np.random.default_rng(request.param)
    n = 6 + request.param % 2
    return rng.normal(size=2 ** n) + 3 * brute.all_masks(n)[:, 0] * brute.all_masks(n)[:, 1]


def assert_same(values: Spectrum, expected: dict, orders=None):
    got = values.to_dict()
    for S, v in expected.items():
        if orders is None or len(S) in orders:
            assert got.get(S, 0.0) == pytest.approx(v, abs=1e-9), S


def test_fourier_reproduces_table(table):
    n = int(np.log2(table.size))
    np.testing.assert_allclose(dense_spectrum(table).predict(brute.all_masks(n)), table, atol=1e-9)


def test_moebius_matches_subset_inversion(table):
    moebius = dense_spectrum(table).to_moebius()
    assert_same(moebius, brute.moebius(table))
    n = int(np.log2(table.size))
    np.testing.assert_allclose(moebius.predict(brute.all_masks(n)), table, atol=1e-9)
    back = moebius.to_fourier()
    assert_same(back, brute.fourier(table))


def test_shapley_and_banzhaf(table):
    F = dense_spectrum(table)
    n = F.n
    shap = interaction_values(F, "shapley").to_dict()
    np.testing.assert_allclose([shap.get((i,), 0) for i in range(n)], brute.shapley(table), atol=1e-9)
    banz = interaction_values(F, "banzhaf").to_dict()
    np.testing.assert_allclose([banz.get((i,), 0) for i in range(n)], brute.banzhaf(table), atol=1e-9)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_sii_and_bii(table, order):
    from itertools import combinations
    F = dense_spectrum(table)
    sets = [S for r in range(1, order + 1) for S in combinations(range(F.n), r)]
    assert_same(interaction_values(F, "sii", order), {S: brute.sii(table, S) for S in sets})
    assert_same(interaction_values(F, "bii", order), {S: brute.bii(table, S) for S in sets})


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_k_sii(table, order):
    values = interaction_values(dense_spectrum(table), "k-sii", order)
    assert_same(values, brute.k_sii(table, order))
    assert values.to_dict()[()] == pytest.approx(table[0])
    # efficiency: the values add up to f(N)
    assert values.values.sum() == pytest.approx(table[-1])


@pytest.mark.parametrize("order", [1, 2, 3])
def test_stii(table, order):
    values = interaction_values(dense_spectrum(table), "stii", order)
    assert_same(values, brute.stii(table, order))
    assert values.values.sum() == pytest.approx(table[-1])


@pytest.mark.parametrize("order", [1, 2, 3])
def test_faith_indices(table, order):
    F = dense_spectrum(table)
    assert_same(interaction_values(F, "fsii", order), brute.faith_shapley(table, order))
    assert_same(interaction_values(F, "fbii", order), brute.faith_banzhaf(table, order))


def test_order_one_indices_coincide_with_values(table):
    F = dense_spectrum(table)
    shap = interaction_values(F, "shapley").to_dict()
    for name in ("sii", "k-sii", "fsii", "stii"):
        values = interaction_values(F, name, 1).to_dict()
        for i in range(F.n):  # Faith-Shap, k-SII and Shapley-Taylor of order 1 are Shapley too
            assert values.get((i,), 0) == pytest.approx(shap.get((i,), 0), abs=1e-9)


def test_sparse_high_n_conversion_stays_sparse():
    n = 3000
    rng = np.random.default_rng(0)
    terms = {tuple(sorted(rng.choice(n, size=d, replace=False))): rng.normal() for d in (1, 2, 3, 4) for _ in range(50)}
    F = Spectrum.from_dict(n, terms)
    moebius = F.to_moebius()
    assert len(moebius) <= 50 * (2 + 4 + 8 + 16)
    np.testing.assert_allclose(moebius.to_fourier().to_dict()[max(terms, key=len)],
                               terms[max(terms, key=len)])
    X = rng.random((200, n)) < 0.5
    np.testing.assert_allclose(moebius.predict(X), F.predict(X), atol=1e-9)
    sii = interaction_values(F, "sii", 3)
    assert sii.max_order == 3 and sii.degrees.max() == 3


def test_unknown_index_and_bad_order():
    F = Spectrum.from_dict(3, {(0,): 1.0})
    with pytest.raises(ValueError, match="unknown index 'shapely'"):
        normalize_index("shapely")
    with pytest.raises(ValueError, match="order"):
        interaction_values(F, "sii", 0)
    with pytest.raises(ValueError, match="first order"):
        interaction_values(F, "shapley", 2)
    assert normalize_index("K-SII") == "k-sii"
