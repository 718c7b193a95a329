"""The game protocol: a value function on masks plus the names of its features."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np

from proxyspex._validation import check_feature_names, default_feature_names  # noqa: F401 (re-exported)


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
        """Stable hash of :meth:`fingerprint_data`; the cache key of this game."""
        payload = {"class": type(self).__qualname__, "n": self.n, **self.fingerprint_data()}
        blob = json.dumps(payload, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:32]

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        return self.value(np.asarray(masks, dtype=bool))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n={self.n})"
