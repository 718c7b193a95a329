"""Faithfulness of an explanation against the model it explains."""

from __future__ import annotations

import numpy as np

from .masks import sample_masks


def r2_score(y: np.ndarray, prediction: np.ndarray) -> float:
    """R^2 = 1 - sum (y - yhat)^2 / sum (y - mean y)^2."""
    y, prediction = np.asarray(y, dtype=float), np.asarray(prediction, dtype=float)
    total = np.sum((y - y.mean()) ** 2)
    return float(1 - np.sum((y - prediction) ** 2) / total) if total > 0 else float(np.allclose(y, prediction))


def faithfulness(result, f, n_test: int = 1000, random_state: int | None = None) -> float:
    """R^2 of ``result``'s surrogate on ``n_test`` fresh uniform masks of ``f`` (queries f)."""
    masks = sample_masks(result.n, n_test, np.random.default_rng(random_state))
    return r2_score(np.asarray(f(masks), dtype=float).reshape(-1), result.predict(masks))
