"""Residual pair screening: interactions that are small against the noise, which trees miss.

By hierarchy, the features of such a pair carry first-order terms, so the screen looks only
among the strongest first-order features of a refit model, and tests each pair's parity
against the model's residual.
"""

from __future__ import annotations

import numpy as np

from ..spectrum import Spectrum, terms_to_support

SCREEN_FEATURES = 48  # pairs missed by the trees are screened among this many strongest features


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
    first = np.zeros(n)
    first_order = model.degrees == 1
    first[model.support[first_order].indices] = np.abs(model.values[first_order])
    top = np.argsort(-first, kind="stable")[: min(n, max_features)]
    top = np.sort(top[first[top] > 0])
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
