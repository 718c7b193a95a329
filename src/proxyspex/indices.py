"""Interaction indices from a sparse Fourier spectrum, by closed forms in Moebius coefficients.

Every index is ``Phi(S) = sum_{T ⊇ S} w(|S|, |T|) m(T)`` for a weight ``w`` given below;
:func:`proxyspex.spectrum.superset_sum` does the enumeration. Sources: Grabisch 1997
(Shapley/Banzhaf interaction), Fumagalli et al. 2023 (k-SII), Tsai, Yeh and Ravikumar 2023
(Faith-Shap, Faith-Banzhaf), Sundararajan et al. 2020 (Shapley-Taylor).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from math import comb

from scipy.special import bernoulli

from ._validation import check_int
from .interaction_values import INDICES, InteractionValues
from .spectrum import Spectrum, superset_sum

INDEX_ALIASES = {"ksii": "k-sii", "k_sii": "k-sii", "shap": "shapley", "sv": "shapley", "bv": "banzhaf",
            "mobius": "moebius", "möbius": "moebius", "walsh": "fourier"}
ORDERED_INDICES = ("sii", "bii", "k-sii", "fsii", "fbii", "stii")
DEFAULT_ORDER = 2


def normalize_index(index: str) -> str:
    """Canonical index name, or a ValueError listing the known ones."""
    if not isinstance(index, str):
        raise TypeError(f"index must be a string, got {type(index).__name__}")
    name = INDEX_ALIASES.get(index.strip().lower(), index.strip().lower())
    if name not in INDICES:
        raise ValueError(f"unknown index {index!r}; choose one of {', '.join(INDICES)}")
    return name


def interaction_values(fourier: Spectrum, index: str, order: int | None = None,
                       feature_names: Sequence[str] | None = None) -> Spectrum | InteractionValues:
    """Values of ``index`` for every set with a nonzero value.

    ``fourier`` and ``moebius`` are bases that evaluate: they come back as a sparse
    :class:`Spectrum`. Every other index comes back as :class:`InteractionValues`, which does not.
    ``order`` caps the interaction order: all orders by default for ``fourier`` and
    ``moebius``, 2 for the interaction indices. ``shapley`` and ``banzhaf`` are order 1.
    The order-limited explanations (``k-sii``, ``fsii``, ``fbii``, ``stii``) include the
    empty set, so that their values add up to the function like a Moebius expansion.
    """
    if fourier.basis != "fourier":
        raise ValueError("interaction_values expects a Fourier spectrum")
    name = normalize_index(index)
    k = check_order(name, order)
    if name == "fourier":
        return fourier if k is None else fourier.truncate(k)
    if name == "moebius":
        moebius = fourier.to_moebius()
        return moebius if k is None else moebius.truncate(k)
    baseline = float(fourier.values.sum())  # f(empty set): every parity is +1 there
    if name == "fbii":  # least-squares order-k fit under uniform masks = Fourier truncation
        truncated = fourier.truncate(k)
        values, baseline = truncated.to_moebius(), float(truncated.values.sum())  # the fit's intercept
    else:
        weight, min_order, max_order = _WEIGHTS[name](k)
        values = superset_sum(fourier.to_moebius(), weight, basis="moebius", min_order=min_order,
                              max_order=max_order)
    return InteractionValues(fourier.n, values.support, values.values, index=name, max_order=k,
                             baseline_value=baseline, feature_names=feature_names)


def check_order(name: str, order: int | None) -> int | None:
    """The interaction order to use for index ``name`` (its default when ``order`` is None)."""
    order = check_int("order", order, min_value=1, allow_none=True)
    if name in ("shapley", "banzhaf"):
        if order not in (None, 1):
            raise ValueError(f"{name} values are first order; got order={order}")
        return 1
    if name in ORDERED_INDICES:
        return DEFAULT_ORDER if order is None else int(order)
    return None if order is None else int(order)




def _shapley(k):
    return (lambda s, t: 1.0 / t), 1, 1


def _banzhaf(k):
    return (lambda s, t: 2.0 ** (1 - t)), 1, 1


def _sii(k):
    return (lambda s, t: 1.0 / (t - s + 1)), 1, k


def _bii(k):
    return (lambda s, t: 0.5 ** (t - s)), 1, k


def _stii(k):
    def weight(s, t):
        if s < k:
            return float(s == t)
        return 1.0 / comb(t, k)
    return weight, 0, k


def _fsii(k):
    def weight(s, t):
        if t <= k:
            return float(s == t)
        return (-1) ** (k - s) * s / (k + s) * comb(k, s) * comb(t - 1, k) / comb(t + k - 1, k + s)
    return weight, 0, k


def _ksii(k):
    def weight(s, t):
        if s == 0:  # the baseline f(empty set), as in the other order-k explanations
            return float(t == 0)
        return sum(_bernoulli(j) * comb(t - s, j) / (t - s - j + 1) for j in range(min(k, t) - s + 1))
    return weight, 0, k


@cache
def _bernoulli(j: int) -> float:
    """Bernoulli numbers with B_1 = -1/2."""
    return float(bernoulli(j)[j]) if j != 1 else -0.5


_WEIGHTS = {"shapley": _shapley, "banzhaf": _banzhaf, "sii": _sii, "bii": _bii,
            "stii": _stii, "fsii": _fsii, "k-sii": _ksii}
