"""The ProxySPEX estimator: sample masks, query, fit the proxy, return an Explanation."""

from __future__ import annotations

import numbers
import os
from collections.abc import Callable, Sequence

import numpy as np

from .executors import LocalExecutor, RayExecutor, import_ray
from .explanation import Explanation, describe_game
from ._validation import check_feature_names
from .masks import MAX_EXACT_N, MIN_BUDGET, all_masks, default_budget, sample_masks
from .proxy import TreeConfig, default_configs, fit_proxy
from .query import Queries
from .spectrum import Spectrum


class ProxySPEX:
    """Explain a black box with a gradient-boosted-tree proxy read as a sparse Fourier spectrum.

    Parameters
    ----------
    budget : number of distinct masks to query; ``None`` samples adaptively in rounds,
        starting near ``n log2 n`` and doubling, until the cross-validated R^2 gains less than
        ``tol`` in two rounds running, reaches ``target_r2``, or ``max_budget`` is spent.
    max_order : deepest tree, hence highest interaction order found. The default 3 is what
        every tuning run picked (BENCHMARKS.md); a larger value adds that depth to the search.
    energy : ``None`` chooses the kept support by cross-validation; a share such as 0.95
        keeps the smallest support holding that share of the trees' energy (the peers' rule).
    tuning : ``"fast"`` (early-stopped depths 3 and ``max_order``), ``"grid"`` (more depths and
        learning rates), or a list of :class:`~proxyspex.proxy.TreeConfig`.
    random_state : seed for masks, folds and trees.
    n_jobs : LightGBM threads (default 1: at these data sizes OpenMP gains little, and on a busy
        machine its spinning threads can slow training by 100x; see BENCHMARKS.md).
    cache : ``None`` (per-user SQLite file), ``False`` (memory only), a path, or a QueryCache.
    batch_size, progress : how masks are sent to the model and whether a bar is shown.
    executor : ``"local"`` (this process), ``"ray"`` (batches spread over a pool of Ray actors,
        one per cluster CPU), or a :class:`~proxyspex.executors.RayExecutor` for a pool size
        or per-actor resources. The results are the same for the same ``random_state``.
    """

    def __init__(self, *, budget: int | None = None, max_order: int = 3, energy: float | None = None,
                 tuning: str | list[TreeConfig] = "fast", max_budget: int | None = None, target_r2: float = 0.99,
                 tol: float = 0.01, val_fraction: float = 0.2, random_state: int | None = None,
                 n_jobs: int = 1, cache=None, batch_size: int | None = None, progress: bool | None = None,
                 executor: str | LocalExecutor | RayExecutor = "local"):
        self.budget = budget
        self.max_order = max_order
        self.energy = energy
        self.tuning = tuning
        self.max_budget = max_budget
        self.target_r2 = target_r2
        self.tol = tol
        self.val_fraction = val_fraction
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.cache = cache
        self.batch_size = batch_size
        self.progress = progress
        self.executor = executor

    def explain(self, game, *, n: int | None = None, feature_names: Sequence[str] | None = None,
                cache_key: str | None = None) -> Explanation:
        """Query ``game`` on masks, fit the proxy, and return its :class:`Explanation`."""
        value_function, n, names, key = resolve_game(game, n, feature_names, cache_key)
        self._check_params(n)
        queries = Queries(value_function, n, key=key, cache=self.cache, batch_size=self.batch_size,
                          progress=self.progress, executor=self.executor)
        try:
            result = self._explain(queries, n, names)
        finally:
            queries.close()
        result.game_info = describe_game(game)  # what was explained, for save / load and the report
        return result

    def _explain(self, queries: Queries, n: int, names: list[str]) -> Explanation:
        rng = np.random.default_rng(self.random_state)
        cap = self.budget if self.budget is not None else (self.max_budget or default_budget(n, 10.0))
        if n <= MAX_EXACT_N and cap >= 2 ** n:
            return self._explain_exactly(queries, names)
        X = _anchors(n)
        first = self.budget or min(default_budget(n), cap)
        X = np.vstack([X, sample_masks(n, first - len(X), rng, exclude=X)])
        history, configs = [], self._configs()
        while True:
            y = queries(X)
            fit = fit_proxy(X, y, max_order=self.max_order, configs=configs, val_fraction=self.val_fraction,
                            energy=self.energy, random_state=_seed(rng), n_jobs=self.n_jobs)
            configs = [fit.tree_config]  # warm start: later rounds keep the configuration that won
            history.append((len(X), fit.faithfulness))
            if not self._another_round(history, cap):
                break
            X = np.vstack([X, sample_masks(n, min(2 * len(X), cap) - len(X), rng, exclude=X)])
        details = {"rounds": history, "tree_config": fit.tree_config, "n_trees": fit.n_trees,
                   "n_terms_trees": fit.n_terms_trees, "alpha": fit.alpha, **fit.details}
        return Explanation(fit.spectrum, names, fit.faithfulness, len(X), queries.n_paid, details)

    def _another_round(self, history: list[tuple[int, float]], cap: int) -> bool:
        """Stop at a fixed budget, at the cap, at ``target_r2``, or after two rounds without gain."""
        if self.budget is not None or history[-1][0] >= cap or history[-1][1] >= self.target_r2:
            return False
        gains = np.diff([r2 for _, r2 in history])
        return len(gains) < 2 or max(gains[-2:]) > self.tol

    def _explain_exactly(self, queries: Queries, names: list[str]) -> Explanation:
        X = all_masks(len(names))
        spectrum = Spectrum.from_table(queries(X))
        return Explanation(spectrum, names, 1.0, len(X), queries.n_paid, {"exact": True})

    def _configs(self) -> list[TreeConfig]:
        if self.tuning == "fast":
            return default_configs(self.max_order)
        if self.tuning == "grid":
            return [TreeConfig(d, lr) for d in range(2, self.max_order + 1) for lr in (0.1, 0.3)]
        if isinstance(self.tuning, (list, tuple)) and all(isinstance(c, TreeConfig) for c in self.tuning):
            return list(self.tuning)
        raise ValueError(f"tuning must be 'fast', 'grid' or a list of TreeConfig, got {self.tuning!r}")

    def _check_params(self, n: int) -> None:
        if not _is_int(self.max_order) or self.max_order < 1:
            raise ValueError(f"max_order must be a positive integer, got {self.max_order!r}")
        for name in ("budget", "max_budget"):
            if getattr(self, name) is not None:
                check_budget(name, getattr(self, name), n)
        if self.energy is not None and not (isinstance(self.energy, numbers.Real) and 0 < self.energy <= 1):
            raise ValueError(f"energy must be in (0, 1], got {self.energy!r}")
        if not (isinstance(self.val_fraction, numbers.Real) and 0.05 <= self.val_fraction <= 0.5):
            raise ValueError(f"val_fraction must be in [0.05, 0.5], got {self.val_fraction!r}")
        for name in ("target_r2", "tol"):
            if not isinstance(getattr(self, name), numbers.Real):
                raise TypeError(f"{name} must be a real number, got {getattr(self, name)!r}")
        if not (self.random_state is None or isinstance(self.random_state, np.random.Generator)
                or (_is_int(self.random_state) and self.random_state >= 0)):
            raise ValueError(f"random_state must be None or a non-negative integer, got {self.random_state!r}")


def explain(game, *, n: int | None = None, budget: int | None = None, feature_names: Sequence[str] | None = None,
            cache_key: str | None = None, **params) -> Explanation:
    """Explain ``game`` (a Game, or a callable with ``n=``) with :class:`ProxySPEX` (``params`` go to it)."""
    return ProxySPEX(budget=budget, **params).explain(game, n=n, feature_names=feature_names, cache_key=cache_key)


def explain_many(games: Sequence, *, executor: str = "local", **params) -> list[Explanation]:
    """Explain every game with the same parameters; with ``executor="ray"``, as parallel Ray tasks.

    ``params`` are those of :func:`explain` (``n``, ``budget``, ``random_state``, ``cache``, ...),
    applied to each game, so the result equals ``[explain(g, **params) for g in games]``. Each Ray
    task queries its game in its own process and opens the cache itself: pass ``cache`` as a
    path (or None, the per-user file) that every worker can reach; SQLite's WAL mode lets them
    write at once.
    """
    games = list(games)
    if executor == "local":
        return [explain(game, **params) for game in games]
    if executor != "ray":
        raise ValueError(f"executor must be 'local' or 'ray', got {executor!r}")
    ray = import_ray()
    cache = params.get("cache")
    if cache is not None and not isinstance(cache, (bool, str, os.PathLike)):
        raise TypeError(f"with executor='ray' the cache must be None, a bool or a path every worker can "
                        f"open, got {type(cache).__name__}")
    ProxySPEX(**{k: v for k, v in params.items() if k not in _EXPLAIN_ONLY})  # fail on bad parameters here
    if not ray.is_initialized():
        ray.init()
    task = ray.remote(explain).options(num_cpus=params.get("n_jobs", 1))
    return ray.get([task.remote(game, **params) for game in games])


_EXPLAIN_ONLY = ("n", "feature_names", "cache_key")


def resolve_game(game, n, feature_names, cache_key) -> tuple[Callable, int, list[str], str | None]:
    """Value function, n, names and cache key from a Game or a plain callable."""
    if not callable(game):
        raise TypeError(f"game must be a Game or a callable taking a (m, n) bool array, got {type(game).__name__}")
    game_n = getattr(game, "n", None)
    if game_n is not None and n is not None and n != game_n:
        raise ValueError(f"n={n} disagrees with the game's n={game_n}")
    n = game_n if game_n is not None else n
    if n is None:
        raise TypeError("n is required when game is a plain callable: explain(f, n=...)")
    if not _is_int(n) or n < 1:
        raise ValueError(f"n must be a positive integer (the number of features), got {n!r}")
    names = check_feature_names(feature_names if feature_names is not None else getattr(game, "feature_names", None),
                                int(n))
    key = cache_key if cache_key is not None else getattr(game, "fingerprint", None)
    if key is not None:
        key = f"{key}|n={n}"
    return game, int(n), names, key


def check_budget(name: str, value, n: int) -> None:
    """A budget must be an integer number of masks, enough to fit and validate a surrogate."""
    if not _is_int(value):
        raise TypeError(f"{name} must be an integer number of masks, got {value!r}")
    needed = min(MIN_BUDGET, 2 ** n) if n < 63 else MIN_BUDGET
    if value < needed:
        raise ValueError(f"{name}={value} is below the {needed} masks needed to fit and validate the proxy")


def _anchors(n: int) -> np.ndarray:
    """The full input and the empty input: worth querying in every explanation."""
    return np.array([np.ones(n, dtype=bool), np.zeros(n, dtype=bool)])


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(2 ** 31 - 1))

