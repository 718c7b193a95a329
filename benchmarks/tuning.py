"""The measurements behind the default tuning policy (proxyspex.proxy.default_configs).

For each budget, compares tree configurations under the same refit: the default policy,
fixed learning rates, and adding depth 5. Also times LightGBM's row-wise vs column-wise
histograms and 1 vs 2 threads.

    python benchmarks/tuning.py
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import lightgbm as lgb
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._report import header, update_section
from proxyspex.games import SyntheticGame
from proxyspex.masks import sample_masks
from proxyspex.proxy import TreeConfig, fit_proxy

POLICIES = {
    "default (depth 3, lr by size)": None,
    "depth 3 + 5, lr by size": [TreeConfig(3), TreeConfig(5)],
    "depth 3, lr 0.3": [TreeConfig(3, 0.3)],
    "depth 3, lr 0.1": [TreeConfig(3, 0.1)],
    "depth 3, lr 0.05": [TreeConfig(3, 0.05)],
    "depth 5, lr 0.1": [TreeConfig(5, 0.1)],
}
POINTS = [(64, 384, 0.0), (64, 768, 0.3), (128, 896, 0.0), (256, 2048, 0.0), (256, 2048, 0.3)]
SEEDS = [0, 1]


def main() -> None:
    warnings.simplefilter("ignore")
    lines = ["| n | budget | noise | " + " | ".join(POLICIES) + " |", "|---|---|---|" + "---|" * len(POLICIES)]
    for n, budget, noise in POINTS:
        cells = {name: [] for name in POLICIES}
        for seed in SEEDS:
            game = SyntheticGame(n, noise=noise, random_state=seed)
            X = sample_masks(n, budget, np.random.default_rng(seed))
            y = game(X)
            for name, configs in POLICIES.items():
                start = time.perf_counter()
                fit = fit_proxy(X, y, configs=configs, random_state=seed)
                cells[name].append((game.r2(fit.spectrum), time.perf_counter() - start))
        row = [f"{np.mean([r for r, _ in v]):.3f} ({np.mean([t for _, t in v]):.1f} s)" for v in cells.values()]
        lines.append(f"| {n} | {budget} | {noise} | " + " | ".join(row) + " |")
        print(lines[-1], flush=True)

    rng = np.random.default_rng(0)
    X = (rng.random((3277, 256)) < 0.5).astype(np.float32)
    y = X[:, 0] * X[:, 1] + X[:, 2] + rng.normal(size=len(X))
    timing = []
    for label, extra in [("row-wise, 1 thread", {"force_row_wise": True, "num_threads": 1}),
                         ("col-wise, 1 thread", {"force_col_wise": True, "num_threads": 1}),
                         ("row-wise, 2 threads", {"force_row_wise": True, "num_threads": 2})]:
        params = dict(objective="regression", max_depth=3, num_leaves=8, verbosity=-1, learning_rate=0.1, **extra)
        start = time.perf_counter()
        lgb.train(params, lgb.Dataset(X, y, params={"verbosity": -1}), num_boost_round=300)
        timing.append(f"{label}: {(time.perf_counter() - start) / 300 * 1e3:.2f} ms/tree")
    body = ("## Tuning policy: what the defaults are based on\n\n" + header("python benchmarks/tuning.py", SEEDS) +
            "\nExact R² (Parseval) of the refit surrogate and fit time, mean over seeds, same masks for every policy. "
            "Every policy uses early stopping on the validation fold and the same cross-validated refit.\n\n"
            + "\n".join(lines) + "\n\nLightGBM on 3277 × 256 masks, depth 3: " + "; ".join(timing) +
            ". On a busy machine 2 OpenMP threads were measured up to 100x slower than 1 (spinning threads), "
            "hence `n_jobs=1` by default.\n")
    update_section("tuning", body)
    print(body)


if __name__ == "__main__":
    main()
