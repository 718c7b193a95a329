"""Faithfulness of an explanation against the model it explains."""

from __future__ import annotations

import numpy as np

from .masks import sample_masks
from .proxy import r2_score

__all__ = ["faithfulness", "r2_score"]


def faithfulness(result, f, n_test: int = 1000, random_state: int | None = None) -> float:
    """R^2 of ``result``'s surrogate on ``n_test`` fresh uniform masks of ``f`` (queries f)."""
    masks = sample_masks(result.n, n_test, np.random.default_rng(random_state))
    return r2_score(np.asarray(f(masks), dtype=float).reshape(-1), result.predict(masks))
