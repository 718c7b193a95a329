"""The ProxySPEX estimator: sample masks, query, fit the proxy, return an Explanation."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

import numpy as np
from tqdm.auto import tqdm

from ._validation import check_choice, check_int, check_real
from .adaptive import Round, StoppingRule, fit_interval
from .executors import LocalExecutor, RayExecutor, import_ray
from .explainer import Explainer, GameSpec, anchor_masks, check_budget, check_game, check_seed, draw_seed, resolve_game
from .explanation import Explanation
from .masks import MAX_EXACT_N, all_masks, default_budget, mask_keys, sample_masks
from .proxy import TreeConfig, default_configs, fit_proxy
from .spectrum import Spectrum

DEFAULT_MAX_ORDER = 3  # what every tuning run picked (BENCHMARKS.md)
ADAPTIVE_CAP_ALPHA = 10.0  # adaptive mode's default mask cap: 10 n log2 n


class ProxySPEX(Explainer):
    """Explain a black box with a gradient-boosted-tree proxy read as a sparse Fourier spectrum.

    Parameters
    ----------
    budget : number of distinct masks to query; ``None`` samples adaptively in rounds,
        starting near ``n log2 n`` and doubling, until the R^2 estimate reaches ``target_r2``,
        gains (or is projected to gain) no more than ``tol`` and its own uncertainty, the next
        round would end after ``max_time`` seconds, or ``max_budget`` masks (default
        ``10 n log2 n``) are spent (see :mod:`proxyspex.adaptive`). ``details["rounds"]`` lists
        every round with its R^2 interval and cost; ``details["stopped"]`` says why it stopped.
    max_order : deepest tree, hence highest interaction order found. ``None`` (default) is 3
        when sampling (what every tuning run picked, BENCHMARKS.md) and every order when the
        budget covers all 2^n masks (the exact spectrum). A number also truncates the exact
        spectrum, whose faithfulness is then the exact R^2 of the truncation.
    energy : ``None`` chooses the kept support by cross-validation; a share such as 0.95
        keeps the smallest support holding that share of the trees' energy (the peers' rule).
    tuning : ``"fast"`` (early-stopped depths 3 and ``max_order``), ``"grid"`` (more depths and
        learning rates), or a list of :class:`~proxyspex.proxy.TreeConfig`.
    max_time : seconds; adaptive mode starts no round it projects to end later.
    random_state : seed for masks, folds and trees.
    n_jobs : LightGBM threads (default 1: at these data sizes OpenMP gains little, and on a busy
        machine its spinning threads can slow training by 100x; see BENCHMARKS.md).
    cache : ``None`` (per-user SQLite file), ``False`` (memory only), a path, or a QueryCache.
    batch_size, progress : how masks are sent to the model and whether bars are shown (one
        over the whole explanation, with an ETA, and one per model call).
    executor : ``"local"`` (this process), ``"ray"`` (batches spread over a pool of Ray actors,
        one per cluster CPU), or a :class:`~proxyspex.executors.RayExecutor` for a pool size
        or per-actor resources. The results are the same for the same ``random_state``.
    """

    def __init__(self, *, budget: int | None = None, max_order: int | None = None, energy: float | None = None,
                 tuning: str | list[TreeConfig] = "fast", max_budget: int | None = None, target_r2: float = 0.99,
                 tol: float = 0.01, max_time: float | None = None, val_fraction: float = 0.2,
                 random_state: int | None = None, n_jobs: int = 1, cache=None, batch_size: int | None = None,
                 progress: bool | None = None, executor: str | LocalExecutor | RayExecutor = "local"):
        self.budget = budget
        self.max_order = max_order
        self.energy = energy
        self.tuning = tuning
        self.max_budget = max_budget
        self.target_r2 = target_r2
        self.tol = tol
        self.max_time = max_time
        self.val_fraction = val_fraction
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.cache = cache
        self.batch_size = batch_size
        self.progress = progress
        self.executor = executor

    def explain_queries(self, queries, feature_names: list[str], *, prior_masks: np.ndarray | None = None
                        ) -> Explanation:
        """Explain through ``queries`` (anything with ``__call__`` and ``n_paid``) over ``feature_names``.

        ``prior_masks`` are masks whose outputs are known (cached) already: they join the first
        round for free, on top of the budget (which counts new masks and the two anchors).
        """
        n = len(feature_names)
        prior = np.zeros((0, n), dtype=bool) if prior_masks is None else _distinct(np.asarray(prior_masks, dtype=bool))
        X = _distinct(np.vstack([anchor_masks(n), prior]))
        free = len(prior)  # known masks: not counted in the budget
        cap = self.budget if self.budget is not None else (self.max_budget or default_budget(n, ADAPTIVE_CAP_ALPHA))
        cap += free
        if n <= MAX_EXACT_N and cap >= 2 ** n:
            return self._explain_exactly(queries, feature_names)
        rng = np.random.default_rng(self.random_state)
        first = min((self.budget or default_budget(n)) + free, cap)
        X = np.vstack([X, sample_masks(n, max(first - len(X), 0), rng, exclude=X)])
        rule = StoppingRule(cap=cap, fixed=self.budget is not None, target_r2=self.target_r2, tol=self.tol,
                            max_time=self.max_time)
        rounds: list[Round] = []
        configs, start = self._configs(), time.perf_counter()
        disable = None if self.progress is None else not self.progress  # None: shown on terminals only
        bar = tqdm(total=cap, desc="explaining", unit="mask", disable=disable)
        try:
            while True:
                paid, tick = queries.n_paid, time.perf_counter()
                y = queries(X)
                tock = time.perf_counter()
                fit = fit_proxy(X, y, max_order=self._order(), configs=configs, val_fraction=self.val_fraction,
                                energy=self.energy, random_state=draw_seed(rng), n_jobs=self.n_jobs)
                configs = [fit.tree_config]  # warm start: later rounds keep the configuration that won
                low, high = fit_interval(fit, X, y)
                rounds.append(Round(len(X), fit.faithfulness, low, high, queries.n_paid - paid, tock - tick,
                                    time.perf_counter() - tock))
                bar.update(len(X) - bar.n)
                bar.set_postfix(r2=f"{fit.faithfulness:.3f}")
                size = rule.next_size(rounds, time.perf_counter() - start)
                if size is None:
                    break
                X = np.vstack([X, sample_masks(n, size - len(X), rng, exclude=X)])
        finally:
            bar.total = bar.n
            bar.close()
        details = {"rounds": [r.as_dict() for r in rounds], "stopped": rule.reason, "max_order": self._order(),
                   "seconds": time.perf_counter() - start, "tree_config": fit.tree_config, "n_trees": fit.n_trees,
                   "n_terms_trees": fit.n_terms_trees, "alpha": fit.alpha, **fit.details}
        return Explanation(fit.spectrum, feature_names, fit.faithfulness, len(X), queries.n_paid, details)

    def _explain_exactly(self, queries, names: list[str]) -> Explanation:
        """Every mask is paid for: the exact spectrum, truncated to ``max_order`` if one is set."""
        X = all_masks(len(names))
        spectrum = Spectrum.from_table(queries(X))
        details = {"exact": True, "max_order": self.max_order, "truncated_energy": 0.0}
        faithfulness = 1.0
        if self.max_order is not None and spectrum.max_degree > self.max_order:
            energy = spectrum.energy()
            spectrum = spectrum.truncate(self.max_order)
            lost = energy - spectrum.energy()
            details["truncated_energy"] = lost
            faithfulness = 1.0 - lost / energy if energy > 0 else 1.0  # Parseval: exact R^2 on all masks
        return Explanation(spectrum, names, faithfulness, len(X), queries.n_paid, details)

    def _order(self) -> int:
        return DEFAULT_MAX_ORDER if self.max_order is None else self.max_order

    def _configs(self) -> list[TreeConfig]:
        if self.tuning == "fast":
            return default_configs(self._order())
        if self.tuning == "grid":
            return [TreeConfig(d, lr) for d in range(2, self._order() + 1) for lr in (0.1, 0.3)]
        return list(self.tuning)

    def check_params(self, n: int) -> None:
        check_int("max_order", self.max_order, min_value=1, allow_none=True)
        for name in ("budget", "max_budget"):
            if getattr(self, name) is not None:
                check_budget(name, getattr(self, name), n)
        check_real("energy", self.energy, low=0, high=1, include_low=False, allow_none=True)
        check_real("val_fraction", self.val_fraction, low=0.05, high=0.5)
        check_real("target_r2", self.target_r2, high=1)
        check_real("tol", self.tol, low=0)
        check_real("max_time", self.max_time, low=0, include_low=False, allow_none=True)
        check_int("n_jobs", self.n_jobs, min_value=1)
        check_seed(self.random_state)
        if not (isinstance(self.tuning, (list, tuple)) and self.tuning
                and all(isinstance(c, TreeConfig) for c in self.tuning)):
            if not isinstance(self.tuning, str):
                raise TypeError(f"tuning must be 'fast', 'grid' or a list of TreeConfig, got {self.tuning!r}")
            check_choice("tuning", self.tuning, ("fast", "grid"))


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
    write at once. Every game and parameter is checked before the first task starts.
    """
    games = list(games)
    check_choice("executor", executor, ("local", "ray"))
    estimator = ProxySPEX(**{k: v for k, v in params.items() if k not in _EXPLAIN_ONLY})
    for game in games:  # fail on a bad game or parameter before any model runs or any task starts
        n, _ = check_game(game, params.get("n"), params.get("feature_names"))
        estimator.check(n)
    if executor == "local":
        return [explain(game, **params) for game in games]
    ray = import_ray()
    cache = params.get("cache")
    if cache is not None and not isinstance(cache, (bool, str, os.PathLike)):
        raise TypeError(f"with executor='ray' the cache must be None, a bool or a path every worker can "
                        f"open, got {type(cache).__name__}")
    if not ray.is_initialized():
        ray.init()
    task = ray.remote(explain).options(num_cpus=params.get("n_jobs", 1))
    return ray.get([task.remote(game, **params) for game in games])


_EXPLAIN_ONLY = ("n", "feature_names", "cache_key")


def _distinct(X: np.ndarray) -> np.ndarray:
    """The rows of ``X`` without repeats, in first-occurrence order."""
    first: dict[bytes, int] = {}
    for row, key in enumerate(mask_keys(X)):
        first.setdefault(key, row)
    return X[np.fromiter(first.values(), dtype=np.int64, count=len(first))]


__all__ = ["GameSpec", "ProxySPEX", "check_budget", "explain", "explain_many", "resolve_game"]
