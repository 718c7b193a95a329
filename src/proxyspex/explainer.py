"""The base every explainer shares: resolve the game, check the parameters, open the queries, explain.

An explainer (ProxySPEX, the baselines) is configured in ``__init__`` and does its work in
:meth:`Explainer.explain`, which always runs the same steps in the same order:

1. :func:`resolve_game` turns a Game or a plain callable into a :class:`GameSpec`;
2. :meth:`Explainer.check_params` validates every parameter against that ``n`` (no cache is
   open yet, no model has run);
3. :meth:`Explainer.open_queries` opens one :class:`~proxyspex.query.Queries` (cache, batches);
4. :meth:`Explainer.explain_queries` does the method's own work and builds the Explanation.

This module knows no game and no model: a game is anything callable with an ``n``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ._validation import check_bool, check_feature_names, check_int, is_int
from .explanation import Explanation
from .masks import MIN_BUDGET
from .query import Queries


@dataclass(frozen=True)
class GameSpec:
    """What an explainer needs of a game: its value function, size, feature names and cache key."""

    value_function: Callable[[np.ndarray], np.ndarray]
    n: int
    feature_names: list[str]
    cache_key: str | None

    def __iter__(self) -> Iterator:
        """Unpack like the 4-tuple ``resolve_game`` used to return (kept for old callers)."""
        return iter((self.value_function, self.n, self.feature_names, self.cache_key))


def resolve_game(game, n: int | None = None, feature_names: Sequence[str] | None = None,
                 cache_key: str | None = None) -> GameSpec:
    """The :class:`GameSpec` of a Game (``n``, ``feature_names``, ``fingerprint``) or of a plain callable."""
    if not callable(game):
        raise TypeError(f"game must be a Game or a callable taking a (m, n) bool array, got {type(game).__name__}")
    game_n = getattr(game, "n", None)
    if game_n is not None and n is not None and n != game_n:
        raise ValueError(f"n={n} disagrees with the game's n={game_n}")
    n = game_n if game_n is not None else n
    if n is None:
        raise TypeError("n is required when game is a plain callable: explain(f, n=...)")
    n = check_int("n", n, min_value=1, what="a positive integer (the number of features)")
    names = feature_names if feature_names is not None else getattr(game, "feature_names", None)
    key = cache_key if cache_key is not None else getattr(game, "fingerprint", None)
    if key is not None:
        key = f"{key}|n={n}"
    return GameSpec(game, n, check_feature_names(names, n), key)


def check_budget(name: str, value, n: int) -> int:
    """A budget must be an integer number of masks, enough to fit and validate a surrogate."""
    value = check_int(name, value, what="an integer number of masks")
    needed = min(MIN_BUDGET, 2 ** n) if n < 63 else MIN_BUDGET
    if value < needed:
        raise ValueError(f"{name}={value} is below the {needed} masks needed to fit and validate the proxy")
    return value


def check_seed(random_state, *, allow_generator: bool = True, high: int | None = None) -> None:
    """``random_state`` must be None, a non-negative integer (below ``high``) or, if allowed, a Generator."""
    if random_state is None or (allow_generator and isinstance(random_state, np.random.Generator)):
        return
    what = "None or a non-negative integer" + (f" below {high}" if high else "")
    check_int("random_state", random_state, min_value=0, max_value=None if high is None else high - 1, what=what)


def anchor_masks(n: int) -> np.ndarray:
    """The full input and the empty input: worth querying in every explanation."""
    return np.array([np.ones(n, dtype=bool), np.zeros(n, dtype=bool)])


def draw_seed(rng: np.random.Generator) -> int:
    """A seed for a sub-step (folds, trees), drawn from the explanation's generator."""
    return int(rng.integers(2 ** 31 - 1))


class Explainer:
    """Base of every explainer: :meth:`explain` resolves, checks, opens the queries and calls the method.

    Subclasses set ``cache``, ``batch_size``, ``progress`` (and optionally ``executor``) in
    ``__init__`` and implement :meth:`check_params` and :meth:`explain_queries`.
    """

    cache = None
    batch_size: int | None = None
    progress: bool | None = None
    executor = "local"

    def explain(self, game, *, n: int | None = None, feature_names: Sequence[str] | None = None,
                cache_key: str | None = None) -> Explanation:
        """Explain ``game`` (a Game, or a callable with ``n=``) and return its :class:`Explanation`."""
        spec = resolve_game(game, n, feature_names, cache_key)
        self.check(spec.n)
        queries = self.open_queries(spec)
        try:
            return self.explain_queries(queries, spec.feature_names)
        finally:
            queries.close()

    def check(self, n: int) -> None:
        """Every parameter, the shared ones and the method's, for a game of ``n`` features."""
        check_int("batch_size", self.batch_size, min_value=1, allow_none=True)
        if self.progress is not None:
            check_bool("progress", self.progress)
        self.check_params(n)

    def check_params(self, n: int) -> None:  # pragma: no cover - abstract
        """Raise TypeError/ValueError for a parameter that cannot explain a game of ``n`` features."""
        raise NotImplementedError

    def open_queries(self, spec: GameSpec) -> Queries:
        """One :class:`Queries` over the game: every mask of this explanation goes through it."""
        return Queries(spec.value_function, spec.n, key=spec.cache_key, cache=self.cache,
                       batch_size=self.batch_size, progress=self.progress, executor=self.executor)

    def explain_queries(self, queries, feature_names: list[str]) -> Explanation:  # pragma: no cover
        """The method itself: query masks through ``queries`` and build the Explanation."""
        raise NotImplementedError


__all__ = ["Explainer", "GameSpec", "anchor_masks", "check_budget", "check_seed", "draw_seed", "is_int",
           "resolve_game"]
