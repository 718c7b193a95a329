"""n = 5000: conversions, indices, the Explanation and the report stay sparse, exact and fast.

A function of a few features, embedded among 5000, must have the same interaction values
as the small function itself (the other features are null players, and every index here
is a sum over Moebius or Fourier terms), and the small function is checked against brute
force in test_indices.py. Nothing of size 2^n, or dense n x n^k, may be built: at n = 5000
either would not fit in memory, so a test that finishes proves it.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import proxyspex as px
from proxyspex.games.synthetic import hierarchical_spectrum
from proxyspex.indices import INDICES, ORDERED_INDICES
from proxyspex.masks import sample_masks
from proxyspex.report import render_html
from proxyspex.spectrum import Spectrum

N = 5000


def embed(spectrum: Spectrum, features: np.ndarray, n: int) -> Spectrum:
    """The same function with feature i renamed features[i], among n features."""
    terms = {tuple(sorted(int(features[i]) for i in term)): value for term, value in spectrum.to_dict().items()}
    return Spectrum.from_dict(n, terms, basis=spectrum.basis)


def relabel(values: dict, features: np.ndarray) -> dict:
    return {tuple(sorted(int(features[i]) for i in term)): value for term, value in values.items()}


@pytest.fixture(scope="module")
def small_and_huge():
    """A random function of 12 features (300 Moebius terms of orders 1..4), and its embedding in n = 5000."""
    rng = np.random.default_rng(0)
    k = 12
    candidates = [tuple(sorted(rng.choice(k, size=d, replace=False).tolist())) for d in rng.integers(1, 5, 600)]
    terms = {term: rng.normal() for term in dict.fromkeys(candidates)}
    small = Spectrum.from_dict(k, dict(list(terms.items())[:300]) | {(): 0.5}, basis="moebius").to_fourier()
    features = np.sort(rng.choice(N, size=k, replace=False))
    return small, features, embed(small, features, N)


@pytest.mark.parametrize("index", INDICES)
def test_every_index_of_an_embedded_function_matches_the_small_one(small_and_huge, index):
    small, features, huge = small_and_huge
    orders = [None, 3] if index in ORDERED_INDICES or index in ("fourier", "moebius") else [None]
    for order in orders:
        start = time.perf_counter()
        got = px.interaction_values(huge, index, order).to_dict()
        elapsed = time.perf_counter() - start
        expected = relabel(px.interaction_values(small, index, order).to_dict(), features)
        assert got.keys() == expected.keys()
        np.testing.assert_allclose([got[t] for t in expected], list(expected.values()), rtol=1e-12, atol=1e-12)
        assert elapsed < 5.0, f"{index} order {order} took {elapsed:.1f} s at n = {N}"


def test_explanation_methods_and_report_at_n_5000(small_and_huge):
    _, features, huge = small_and_huge
    result = px.Explanation(huge, [f"f{i}" for i in range(N)], faithfulness=1.0, n_queries=0, n_paid=0)
    start = time.perf_counter()
    shapley = result.index("shapley")
    assert len(shapley) == N
    assert sum(v for (i,), v in shapley.items() if i not in features) == 0.0  # null players
    masks = np.array([np.ones(N, dtype=bool), np.zeros(N, dtype=bool)])
    full, empty = huge.predict(masks)
    assert sum(shapley.values()) == pytest.approx(full - empty, abs=1e-9)  # efficiency
    for index in ("k-sii", "fsii", "stii"):  # order-k explanations add up to f(everything)
        assert sum(result.index(index, order=3).values()) == pytest.approx(full, abs=1e-9), index
    top = result.top(20, index="moebius")
    assert len(top) == 20 and all(name.startswith("f") for names, _ in top for name in names)
    strongest = max((abs(v) for t, v in result.moebius.to_dict().items() if t), default=0.0)
    assert abs(top[0][1]) == pytest.approx(strongest)
    page = render_html(result, top=20)
    assert page.count('class="unit"') == N and page.count('class="inter"') == 20
    assert time.perf_counter() - start < 20.0


def test_wide_spectrum_conversions_round_trip_and_design_matrix():
    """300 terms on features spread over all 5000 (orders up to 4): exact round trip, exact evaluation."""
    fourier = hierarchical_spectrum(N, n_interactions=300, max_order=4, random_state=1)
    assert fourier.max_degree == 4 and len(fourier) > 300
    moebius = fourier.to_moebius()
    back = moebius.to_fourier()
    assert back.to_dict().keys() == fourier.to_dict().keys()
    np.testing.assert_allclose(back.values, fourier.values, atol=1e-12)
    X = sample_masks(N, 64, np.random.default_rng(2))
    parities = np.array([[(-1.0) ** X[r, list(t)].sum() for t in fourier.terms()] for r in range(8)])
    np.testing.assert_array_equal(fourier.design_matrix(X[:8]), parities)
    np.testing.assert_allclose(moebius.predict(X), fourier.predict(X), atol=1e-9)


def test_sampled_masks_are_distinct_and_avoid_the_excluded_ones():
    rng = np.random.default_rng(0)
    exclude = sample_masks(N, 50, rng)
    X = sample_masks(N, 2000, rng, exclude=exclude)
    keys = {row.tobytes() for row in np.packbits(X, axis=1)}
    assert len(keys) == 2000 and not keys & {row.tobytes() for row in np.packbits(exclude, axis=1)}
    assert 0.45 < X.mean() < 0.55
