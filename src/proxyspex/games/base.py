"""The game protocol: a value function on masks plus the names of its features."""

from __future__ import annotations

from typing import Any

import numpy as np

from proxyspex._validation import check_feature_names, default_feature_names  # noqa: F401 (re-exported)
from proxyspex.games.fingerprints import FINGERPRINT_VERSION, digest


class Game:
    """A value function over feature masks.

    Subclasses set ``feature_names`` (one per feature, so ``n = len(feature_names)``)
    and implement :meth:`value`, which maps a ``(m, n)`` bool array (True = keep the
    feature) to ``(m,)`` floats. :meth:`fingerprint_data` returns everything that
    determines the values (model, prompt, text, target, masking); its hash keys the
    query cache, so a changed game never reuses stale outputs.
    """

    feature_names: list[str]

    @property
    def n(self) -> int:
        """Number of features."""
        return len(self.feature_names)

    def value(self, masks: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def fingerprint_data(self) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def fingerprint(self) -> str:
        """Stable hash of :meth:`fingerprint_data`, the class and :data:`FINGERPRINT_VERSION`;
        the cache key of this game, the same in every process."""
        payload = {"version": FINGERPRINT_VERSION, "class": type(self).__qualname__, "n": self.n,
                   **self.fingerprint_data()}
        return digest(payload)

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        return self.value(np.asarray(masks, dtype=bool))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n={self.n})"
