"""Gradient-boosted trees: configurations, the early-stopped search, and the folds' rankers.

Tuning policy (measured in BENCHMARKS.md): depth 3 and, if larger, depth ``max_order``, each
trained once with early stopping on a validation fold, instead of a k-fold grid of fixed-size
models. The minimum leaf size and the learning rate adapt to the sample size, so small budgets
still split and are not overfitted by a few big steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..metrics import r2_score
from ..spectrum import Spectrum
from .trees import booster_spectrum

SMALL_SAMPLE = 1000  # below this many masks: 0.1 learning rate, and the refit is judged on more folds
FOLD_SPEEDUP = 3.0  # CV folds' rankers: this many times the learning rate, for that many fewer rounds
MIN_GAIN = 1e-3  # early stopping: rounds must cut the validation error by this share of its variance
# Binning: every TreeConfig can train on one Dataset; bins of 0/1 features need few sample rows (a feature
# constant in 5000 uniform masks has probability 2^-4999), and sampling every row cost 1 GiB at n = 5000
DATASET_PARAMS = {"verbosity": -1, "min_data_in_bin": 1, "feature_pre_filter": False, "bin_construct_sample_cnt": 5000}


@dataclass
class TreeConfig:
    """One LightGBM configuration of the search."""

    max_depth: int
    learning_rate: float | None = None  # None: 0.1 below SMALL_SAMPLE masks, else 0.3
    min_child_samples: int | None = None  # None: adapt to the sample size

    def params(self, m: int, random_state: int, n_jobs: int) -> dict:
        """LightGBM parameters for training on ``m`` masks."""
        min_child = self.min_child_samples
        if min_child is None:
            min_child = int(np.clip(m // 100, 2, 20))
        learning_rate = self.learning_rate or (0.1 if m < SMALL_SAMPLE else 0.3)
        return {
            "objective": "regression", "max_depth": self.max_depth, "num_leaves": 2 ** self.max_depth,
            "learning_rate": learning_rate, "min_child_samples": min_child,
            "min_sum_hessian_in_leaf": 0.0, "min_data_in_bin": 1, "lambda_l2": 0.0,
            "seed": random_state, "deterministic": True, "force_row_wise": True,
            "num_threads": n_jobs, "verbosity": -1,
        }


def default_configs(max_order: int) -> list[TreeConfig]:
    """Depth 3 (the peers' searches pick it every time; so does ours), plus ``max_order`` if deeper."""
    depths = sorted({min(3, max_order), max_order} - {0})
    return [TreeConfig(max_depth=d) for d in depths]


@dataclass
class BoostedTrees:
    """The winner of the early-stopped search."""

    spectrum: Spectrum  # exact spectrum of the early-stopped booster (trained without the validation rows)
    config: TreeConfig
    n_trees: int  # rounds kept by early stopping
    val_r2: float  # R^2 on the validation rows


def train_boosted(X: np.ndarray, y: np.ndarray, val: np.ndarray, configs: list[TreeConfig], *, max_rounds: int,
                  early_stopping: int, random_state: int, n_jobs: int) -> BoostedTrees:
    """Train every configuration on the rows outside ``val`` (bool), early-stopped on ``val``; keep the best."""
    lgb = load_lightgbm()
    n = X.shape[1]
    # LightGBM bins the float copies and frees them: no (m, n) float array outlives this step
    train_set = lgb.Dataset(X[~val].astype(np.float32), y[~val], params=DATASET_PARAMS).construct()
    val_set = lgb.Dataset(X[val].astype(np.float32), y[val], reference=train_set, params=DATASET_PARAMS).construct()
    best = None
    for config in configs:
        stop = lgb.early_stopping(early_stopping, verbose=False, min_delta=MIN_GAIN * float(np.var(y[val])))
        booster = lgb.train(config.params(int((~val).sum()), random_state, n_jobs), train_set,
                            num_boost_round=max_rounds, valid_sets=[val_set], callbacks=[stop],
                            keep_training_booster=True)  # skips a round trip through the model string
        score = r2_score(y[val], predict_booster(booster, X[val], num_iteration=booster.best_iteration))
        if best is None or score > best[0]:
            best = (score, config, booster)
    del train_set, val_set
    val_r2, config, booster = best
    del best
    n_trees = booster.best_iteration or booster.num_trees()
    booster.free_dataset()  # kept (saving a round trip through the model string) until now
    spectrum = booster_spectrum(booster, n, num_iteration=booster.best_iteration)
    return BoostedTrees(spectrum=spectrum, config=config, n_trees=n_trees, val_r2=val_r2)


def ranker_spectrum(X: np.ndarray, y: np.ndarray, rows: np.ndarray, trees: BoostedTrees, *, random_state: int,
                    n_jobs: int) -> Spectrum:
    """The winning configuration retrained on ``rows`` in fewer bigger steps: a fold ranks terms itself."""
    lgb = load_lightgbm()
    params = trees.config.params(rows.size, random_state, n_jobs)
    params["learning_rate"] = min(1.0, params["learning_rate"] * FOLD_SPEEDUP)
    booster = lgb.train(params, lgb.Dataset(X[rows].astype(np.float32), y[rows], params=DATASET_PARAMS),
                        num_boost_round=max(1, int(np.ceil(trees.n_trees / FOLD_SPEEDUP))),
                        keep_training_booster=True)
    return booster_spectrum(booster, X.shape[1])


def predict_booster(booster, X: np.ndarray, num_iteration: int | None = None, chunk: int = 8192) -> np.ndarray:
    """``booster.predict`` on bool masks, converting a chunk of rows to floats at a time."""
    parts = [booster.predict(X[start:start + chunk].astype(np.float32), num_iteration=num_iteration)
             for start in range(0, len(X), chunk)]
    return np.concatenate(parts) if parts else np.zeros(0)


def load_lightgbm():
    """The ``lightgbm`` module, or an ImportError that says how to install it."""
    try:
        import lightgbm
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise ImportError("proxyspex needs lightgbm: pip install lightgbm") from exc
    return lightgbm
