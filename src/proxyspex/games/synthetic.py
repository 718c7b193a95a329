"""Synthetic games with a known spectrum, for tests, benchmarks and the demo."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from ..spectrum import Spectrum
from .base import Game, check_feature_names


class SpectrumGame(Game):
    """A game whose value is a known sparse spectrum, plus optional Gaussian noise.

    ``noise`` is the noise standard deviation relative to the standard deviation of the
    clean function under uniform masks (0.1 = 1% of the variance is noise). Noise is
    drawn from a generator seeded by ``random_state``, so runs are reproducible.
    """

    def __init__(self, spectrum: Spectrum, noise: float = 0.0, feature_names: Sequence[str] | None = None,
                 random_state: int | None = None):
        if noise < 0:
            raise ValueError(f"noise must be >= 0, got {noise}")
        self.spectrum = spectrum.to_fourier()
        self.noise = float(noise)
        self.random_state = random_state
        self.feature_names = check_feature_names(feature_names, spectrum.n)
        self._noise_rng = np.random.default_rng(random_state)
        self._noise_std = self.noise * np.sqrt(self.spectrum.energy())

    def value(self, masks: np.ndarray) -> np.ndarray:
        clean = self.spectrum.predict(masks)
        if self._noise_std == 0:
            return clean
        return clean + self._noise_rng.normal(scale=self._noise_std, size=clean.shape)

    def r2(self, estimate: Spectrum) -> float:
        """Exact R^2 of ``estimate`` against the clean function under uniform masks (Parseval)."""
        error = (self.spectrum + estimate.to_fourier() * -1.0).energy()
        return 1.0 - error / self.spectrum.energy()

    def fingerprint_data(self) -> dict:
        terms = [[list(term), value] for term, value in self.spectrum.to_dict().items()]
        return {"terms": terms, "noise": self.noise, "seed": self.random_state}


def hierarchical_spectrum(
    n: int,
    n_interactions: int = 32,
    max_order: int = 3,
    decay: float = 0.5,
    random_state: int | None = None,
) -> Spectrum:
    """A sparse, low-degree, hierarchical function: a sum of random AND terms.

    Each of ``n_interactions`` Moebius terms ``a_T * prod_{i in T} x_i`` has an order drawn
    from 1..``max_order`` (order d with probability proportional to ``decay``^(d-1)) and a
    coefficient ``a_T ~ N(0, 1)``. An AND of T has Fourier coefficients on every subset of T,
    so each high-order term comes with its lower-order subsets, as in real models.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    rng = np.random.default_rng(random_state)
    orders = np.arange(1, min(max_order, n) + 1)
    p = decay ** (orders - 1.0)
    terms: dict[tuple, float] = {}
    for d in rng.choice(orders, size=n_interactions, p=p / p.sum()):
        T = tuple(sorted(rng.choice(n, size=int(d), replace=False).tolist()))
        terms[T] = terms.get(T, 0.0) + rng.normal()
    return Spectrum.from_dict(n, terms, basis="moebius").to_fourier()


class SyntheticGame(SpectrumGame):
    """Random sparse hierarchical game; see :func:`hierarchical_spectrum`."""

    def __init__(self, n: int, n_interactions: int = 32, max_order: int = 3, noise: float = 0.0,
                 random_state: int | None = None):
        spectrum = hierarchical_spectrum(n, n_interactions, max_order, random_state=random_state)
        super().__init__(spectrum, noise=noise, random_state=random_state)


def saturating_spectrum(
    n: int,
    n_active: int = 16,
    n_or: int = 8,
    gain: float = 2.0,
    or_scale: float = 0.5,
    random_state: int | None = None,
) -> Spectrum:
    """A saturating function: tanh of a sparse sum, plus OR terms; its exact Fourier spectrum.

    f(x) = tanh(sum_{i in A} w_i (x_i - 1/2)) + sum_j c_j (x_a + x_b - x_a x_b)

    over ``n_active`` random features A, with weights scaled so that the inner sum has standard
    deviation ``gain`` under uniform masks (2 saturates: tanh(2) = 0.96), and ``n_or`` OR terms of
    random pairs (a, b) with c_j ~ N(0, ``or_scale``^2). Like a model's probability, the tanh spreads
    its energy over every order of A (decaying with the order) and is far from sparse in the Moebius
    basis; an OR is 1 - AND of the removals. The spectrum is exact (a 2^``n_active`` table).
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if not 1 <= n_active <= min(n, 20):
        raise ValueError(f"n_active must be between 1 and min(n, 20), got {n_active}")
    rng = np.random.default_rng(random_state)
    active = np.sort(rng.choice(n, size=n_active, replace=False))
    weights = rng.normal(size=n_active)
    weights *= 2.0 * gain / np.linalg.norm(weights)  # std of sum w_i (x_i - 1/2) is |w| / 2
    table_masks = (np.arange(2 ** n_active)[:, None] >> np.arange(n_active)[None, :]) & 1
    small = Spectrum.from_table(np.tanh((table_masks - 0.5) @ weights), tol=1e-12)
    rows = sp.csr_matrix((np.ones(small.support.nnz, dtype=bool), active[small.support.indices],
                          small.support.indptr), shape=(len(small), n))
    spectrum = Spectrum(n, rows, small.values)
    terms: dict[tuple, float] = {}
    for _ in range(n_or if n >= 2 else 0):
        a, b = sorted(rng.choice(n, size=2, replace=False).tolist())
        c = or_scale * rng.normal()
        for term, value in (((a,), c), ((b,), c), ((a, b), -c)):
            terms[term] = terms.get(term, 0.0) + value
    return spectrum + Spectrum.from_dict(n, terms, basis="moebius").to_fourier()


class SaturatingGame(SpectrumGame):
    """Saturating game with an exact spectrum; see :func:`saturating_spectrum`."""

    def __init__(self, n: int, n_active: int = 16, n_or: int = 8, gain: float = 2.0, noise: float = 0.0,
                 random_state: int | None = None):
        spectrum = saturating_spectrum(n, n_active, n_or, gain, random_state=random_state)
        super().__init__(spectrum, noise=noise, random_state=random_state)


DOUBLE_NEGATIVE_TEXT = "Her acting never fails to impress . She brings depth to every role ."


class DoubleNegativeGame(SpectrumGame):
    """A sentiment-like score with a planted double negative.

    "never" and "fails" each turn the review negative alone, but together they cancel:
    the Moebius pair (never, fails) is the strongest interaction.
    """

    def __init__(self, noise: float = 0.0, random_state: int | None = 0):
        words = DOUBLE_NEGATIVE_TEXT.split()
        at = {w: i for i, w in enumerate(words)}
        moebius = {(): -1.0, (at["impress"],): 2.0, (at["depth"],): 1.0, (at["acting"],): 0.3,
                   (at["never"],): -2.5, (at["fails"],): -2.5, (at["never"], at["fails"]): 5.5}
        spectrum = Spectrum.from_dict(len(words), moebius, basis="moebius").to_fourier()
        super().__init__(spectrum, noise=noise, feature_names=words, random_state=random_state)
