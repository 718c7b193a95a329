"""What the wrappers of peer libraries (shap, spectralexplain) share: recording their masks, seeding
numpy's global generator that they draw from, and importing them with a clear message."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from ..explainer import check_seed
from ..masks import mask_keys


class RecordedQueries:
    """Calls a :class:`~proxyspex.query.Queries` and keeps every mask a peer library asked for."""

    def __init__(self, queries):
        self.queries = queries
        self._masks: list[np.ndarray] = []
        self._values: list[np.ndarray] = []

    def __call__(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=bool).reshape(-1, self.queries.n)
        y = self.queries(X)
        self._masks.append(X)
        self._values.append(y)
        return y

    def distinct(self) -> tuple[np.ndarray, np.ndarray]:
        """The distinct masks asked for (first occurrence order) and their values."""
        if not self._masks:
            return np.zeros((0, self.queries.n), dtype=bool), np.zeros(0)
        X, y = np.vstack(self._masks), np.concatenate(self._values)
        first: dict[bytes, int] = {}
        for row, key in enumerate(mask_keys(X)):
            first.setdefault(key, row)
        rows = np.fromiter(first.values(), dtype=np.int64, count=len(first))
        return X[rows], y[rows]


@contextmanager
def seeded_global_numpy(random_state: int | None) -> Iterator[None]:
    """Seed numpy's global generator (used by shap and spectralexplain) and restore it on exit."""
    if random_state is None:
        yield
        return
    saved = np.random.get_state()
    np.random.seed(random_state)
    try:
        yield
    finally:
        np.random.set_state(saved)


def check_random_state(random_state) -> None:
    """The peers seed numpy's legacy global generator, which takes an integer in [0, 2^32)."""
    check_seed(random_state, allow_generator=False, high=2 ** 32)


def import_optional(module: str):
    """Import a peer library of the ``bench`` extra, or say how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ModuleNotFoundError(
            f"this baseline needs the optional package {module!r}: pip install 'proxyspex[bench]'"
        ) from exc
