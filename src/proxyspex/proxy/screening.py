"""Residual pair and triple screening: interactions that are small against the noise, which trees miss.

By hierarchy, the features of such a pair carry first-order terms, so the screen looks only
among the strongest first-order features of a refit model, and tests each pair's parity
against the model's residual.
"""

from __future__ import annotations

import numpy as np

from ..spectrum import Spectrum
from ..term_rows import terms_to_support

SCREEN_FEATURES = 48  # pairs missed by the trees are screened among this many strongest features
TRIPLE_FEATURES = 24  # triples among this many (C(24, 3) = 2024 triples; 32 and a lower threshold measured no better)
TRIPLE_THRESHOLD = None  # None: the universal threshold sqrt(2 ln #triples), in standard errors


def screen_pairs(model: Spectrum, X: np.ndarray, y: np.ndarray, max_features: int = SCREEN_FEATURES,
                 fitted: np.ndarray | None = None) -> Spectrum:
    """Pairs of strong features whose parity the residual of ``model`` still follows.

    Among the ``max_features`` strongest first-order features of ``model``, a pair is kept when
    its residual correlation exceeds the universal threshold sqrt(2 ln #pairs) in standard errors.
    ``fitted`` is ``model`` on ``X`` when the caller has it already. Returns the new pairs, valued
    by their estimated Fourier coefficient.
    """
    m, n = X.shape
    residual = y - (model.predict(X) if fitted is None else fitted)
    residual -= residual.mean()
    spread = float(np.sqrt(np.mean(residual ** 2)))
    top = _strongest_features(model, n, max_features)
    if top.size < 2 or spread == 0:
        return Spectrum.zero(n)
    signs = 1.0 - 2.0 * X[:, top]
    a, b = np.triu_indices(top.size, 1)
    coefficients = ((signs * residual[:, None]).T @ signs)[a, b] / m  # mean of residual * parity, per pair
    keep = np.abs(coefficients) * np.sqrt(m) / spread > np.sqrt(2 * np.log(a.size))
    pairs = np.column_stack([top[a[keep]], top[b[keep]]])
    known = set(model.select(model.degrees == 2).terms())
    new = np.array([(i, j) not in known for i, j in pairs.tolist()], dtype=bool)
    return Spectrum(n, terms_to_support([tuple(p) for p in pairs[new].tolist()], n), coefficients[keep][new])


def screen_triples(model: Spectrum, X: np.ndarray, y: np.ndarray, max_features: int | None = None,
                   fitted: np.ndarray | None = None, threshold: float | None = None) -> Spectrum:
    """Triples of strong features whose parity the residual of ``model`` still follows (as :func:`screen_pairs`).

    A saturating function (a tanh or sigmoid of a sum) spreads its third-order energy over many
    small triples of its strong features, which trees split on too rarely to report.
    """
    m, n = X.shape
    residual = y - (model.predict(X) if fitted is None else fitted)
    residual -= residual.mean()
    spread = float(np.sqrt(np.mean(residual ** 2)))
    top = _strongest_features(model, n, TRIPLE_FEATURES if max_features is None else max_features)
    if top.size < 3 or spread == 0:
        return Spectrum.zero(n)
    signs = 1.0 - 2.0 * X[:, top]
    k = top.size
    a, b, c = np.array([(i, j, h) for i in range(k) for j in range(i + 1, k) for h in range(j + 1, k)]).T
    coefficients = np.empty(a.size)
    for i in range(k - 2):
        pick = a == i
        block = ((signs * (residual * signs[:, i])[:, None]).T @ signs) / m
        coefficients[pick] = block[b[pick], c[pick]]
    threshold = TRIPLE_THRESHOLD if threshold is None else threshold
    limit = np.sqrt(2 * np.log(a.size)) if threshold is None else threshold
    keep = np.abs(coefficients) * np.sqrt(m) / spread > limit
    triples = np.column_stack([top[a[keep]], top[b[keep]], top[c[keep]]])
    known = set(model.select(model.degrees == 3).terms())
    new = np.array([tuple(t) not in known for t in triples.tolist()], dtype=bool)
    return Spectrum(n, terms_to_support([tuple(t) for t in triples[new].tolist()], n), coefficients[keep][new])


def _strongest_features(model: Spectrum, n: int, max_features: int) -> np.ndarray:
    """The (sorted) ``max_features`` features with the largest nonzero first-order terms in ``model``."""
    first = np.zeros(n)
    first_order = model.degrees == 1
    first[model.support[first_order].indices] = np.abs(model.values[first_order])
    top = np.argsort(-first, kind="stable")[: min(n, max_features)]
    return np.sort(top[first[top] > 0])
