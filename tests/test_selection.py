"""Feature removal by a sparse surrogate: exhaustive search and the integer program vs brute force."""

from itertools import combinations

import numpy as np
import pytest

from proxyspex import selection
from proxyspex.selection import best_removal, most_influential_removal, removal_value
from proxyspex.spectrum import Spectrum


def random_moebius(n, n_terms, max_order, rng):
    terms = {}
    for _ in range(n_terms):
        order = int(rng.integers(1, max_order + 1))
        terms[tuple(sorted(rng.choice(n, order, replace=False)))] = float(rng.normal())
    terms[()] = 1.0
    return Spectrum.from_dict(n, terms, basis="moebius")


def brute_force(surrogate, k, maximize):
    values = {R: removal_value(surrogate, R) for R in combinations(range(surrogate.n), k)}
    return (max if maximize else min)(values.values())


@pytest.mark.parametrize("use_milp", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_best_removal_matches_brute_force(monkeypatch, use_milp, seed):
    if use_milp:
        monkeypatch.setattr(selection, "MAX_EXACT_SETS", 0)
    rng = np.random.default_rng(seed)
    surrogate = random_moebius(9, 14, 3, rng)
    for k in (1, 2, 4):
        for maximize in (True, False):
            features, value = best_removal(surrogate, k, maximize=maximize)
            assert len(features) == k == len(set(features))
            assert value == pytest.approx(removal_value(surrogate, features))
            assert value == pytest.approx(brute_force(surrogate, k, maximize), abs=1e-9)


def test_interactions_change_the_pick():
    # g(all) = 1.5. Removing "never" (0) alone drops it to -0.5; removing both 0 and 1 changes nothing
    surrogate = Spectrum.from_dict(4, {(): 1.0, (0,): -2.0, (1,): -2.0, (0, 1): 4.0, (2,): 0.5},
                                   basis="moebius")
    features, value = best_removal(surrogate, 1, maximize=False)
    assert features in ((0,), (1,)) and value == pytest.approx(-0.5)
    # a marginal ranking would remove 0 and 1 (|-2| each), which changes nothing; the best pair is 0 or 1 with 2
    features, value = most_influential_removal(surrogate, 2)
    assert set(features) in ({0, 2}, {1, 2}) and value == pytest.approx(-1.0)


def test_fourier_input_and_padding_with_ignored_features():
    fourier = Spectrum.from_dict(6, {(1,): -1.0, (2, 3): 0.5})  # Fourier basis; features 0, 4, 5 unused
    features, value = best_removal(fourier, 5, maximize=True)
    assert len(features) == 5 and value == pytest.approx(removal_value(fourier, features))
    assert value == pytest.approx(brute_force(fourier, 5, True))


def test_bad_k():
    surrogate = Spectrum.from_dict(3, {(0,): 1.0}, basis="moebius")
    for k in (-1, 4):
        with pytest.raises(ValueError, match="k must be an integer between 0 and n=3"):
            best_removal(surrogate, k)
    for k in (1.5, True, "2"):  # not an integer: a type error
        with pytest.raises(TypeError, match="k must be an integer between 0 and n=3"):
            best_removal(surrogate, k)
