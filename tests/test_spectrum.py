"""Spectrum basics and mask sampling."""

import brute
import numpy as np
import pytest

from proxyspex.masks import all_masks, default_budget, sample_masks
from proxyspex.spectrum import Spectrum


def test_from_table_is_the_walsh_hadamard_transform():
    rng = np.random.default_rng(0)
    table = rng.normal(size=2 ** 8)
    spectrum = Spectrum.from_table(table)
    expected = brute.fourier(table)
    got = spectrum.to_dict()
    assert all(got.get(k, 0) == pytest.approx(v, abs=1e-12) for k, v in expected.items())
    np.testing.assert_allclose(spectrum.predict(all_masks(8)), table, atol=1e-12)


def test_energy_is_the_variance_and_top_orders_by_magnitude():
    spectrum = Spectrum.from_dict(6, {(): 5.0, (1,): -3.0, (2, 4): 2.0, (0, 1, 5): 0.5})
    X = all_masks(6)
    assert spectrum.energy() == pytest.approx(np.var(spectrum.predict(X)))
    assert spectrum.top(2) == [((1,), -3.0), ((2, 4), 2.0)]
    assert spectrum.top(1, include_empty=True) == [((), 5.0)]
    assert spectrum.truncate(2).max_degree == 2 and len(spectrum.truncate(1)) == 2


def test_duplicates_sum_and_zeros_drop():
    spectrum = Spectrum.from_dict(4, {(0, 1): 1.0, (1, 0): 2.0, (3,): 0.0})
    assert spectrum.to_dict() == {(0, 1): 3.0}


def test_bad_spectra_and_masks():
    with pytest.raises(ValueError, match="indices must lie"):
        Spectrum.from_dict(3, {(5,): 1.0})
    with pytest.raises(ValueError, match=r"masks must have shape \(m, 3\)"):
        Spectrum.from_dict(3, {(0,): 1.0}).predict(np.ones((2, 4), dtype=bool))
    with pytest.raises(ValueError, match="basis"):
        Spectrum.zero(3, basis="haar")


@pytest.mark.parametrize("n", [5, 30, 100])
def test_masks_are_distinct_and_exclusions_respected(n):
    rng = np.random.default_rng(0)
    first = sample_masks(n, 20, rng)
    more = sample_masks(n, 10, rng, exclude=first)
    both = np.vstack([first, more])
    assert len({row.tobytes() for row in both}) == 30
    assert 0.3 < both.mean() < 0.7


def test_cannot_draw_more_masks_than_exist():
    with pytest.raises(ValueError, match="only 8 of the 2\\^3"):
        sample_masks(3, 9, np.random.default_rng(0))
    assert default_budget(3) == 8 and default_budget(128) == 896
