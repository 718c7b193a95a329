"""Issue 11 item 2: is the proxy or the function the limit on a long review? Learners on one offline dataset.

Reads ``results/long_<name>.npz`` (``long_games.py --datasets``; the training masks are exactly
those ``ProxySPEX(budget=B, random_state=0)`` queries, so a budget is a prefix) and fits, on the
same first B masks, the proxy with other tree settings and refit paths, the trees' own spectrum
without the refit, and learners that are not sparse in the Fourier basis (ridge on first order,
ridge with neighbouring-word pairs, RBF kernel ridge, an MLP). Every column is held-out R² on the
dataset's 1000 uniform masks. If no learner beats the default proxy, its settings are not the
limit at that budget: the function is.

    python benchmarks/long_proxy.py --dataset review_80 --budgets 593,1185,2369,4738
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import machine, update_section
from long_games import RESULTS

import proxyspex.proxy.support as support
from proxyspex.metrics import r2_score
from proxyspex.proxy import TreeConfig, fit_proxy, train_boosted


def proxy(configs=None, max_order: int = 3, l1_paths=None):
    """A fit_proxy variant: other tree configurations, or longer LASSO paths in the refit's search."""
    def fit(X, y, X_test):
        saved = support.L1_TERMS_PER_FEATURE
        support.L1_TERMS_PER_FEATURE = l1_paths or saved
        try:
            return fit_proxy(X, y, configs=configs, max_order=max_order).spectrum.predict(X_test)
        finally:
            support.L1_TERMS_PER_FEATURE = saved
    return fit


def trees_only(config: TreeConfig):
    """The early-stopped trees' exact spectrum, with no pruning or refit."""
    def fit(X, y, X_test):
        val = np.zeros(len(X), dtype=bool)
        val[np.random.default_rng(0).permutation(len(X))[: len(X) // 5]] = True
        trees = train_boosted(X, y, val, [config], max_rounds=5000, early_stopping=100, random_state=0, n_jobs=1)
        return trees.spectrum.predict(X_test)
    return fit


def neighbours(X: np.ndarray, distances=(1, 2)) -> np.ndarray:
    """First-order columns and the products of units at most ``max(distances)`` apart."""
    X = X.astype(float)
    return np.hstack([X] + [X[:, :-d] * X[:, d:] for d in distances])


def sklearn_model(make, features=lambda X: X.astype(float)):
    def fit(X, y, X_test):
        return make().fit(features(X), y).predict(features(X_test))
    return fit


def learners() -> dict:
    from sklearn.kernel_ridge import KernelRidge
    from sklearn.linear_model import RidgeCV
    from sklearn.neural_network import MLPRegressor

    ridge = lambda: RidgeCV(alphas=np.logspace(-2, 3, 12))  # noqa: E731
    return {
        "ProxySPEX (default)": proxy(),
        "depth 2, lr 0.1": proxy([TreeConfig(2, 0.1)]),
        "depth 3, lr 0.05": proxy([TreeConfig(3, 0.05)]),
        "depth 4, lr 0.1, order 4": proxy([TreeConfig(4, 0.1)], max_order=4),
        "depth 5, lr 0.05, order 5": proxy([TreeConfig(5, 0.05)], max_order=5),
        "LASSO paths to 8n terms": proxy(l1_paths=(1, 2, 4, 8)),
        "trees alone, depth 3 (no refit)": trees_only(TreeConfig(3, 0.05)),
        "ridge, first order": sklearn_model(ridge),
        "ridge + neighbour pairs": sklearn_model(ridge, neighbours),
        "RBF kernel ridge": sklearn_model(lambda: KernelRidge(kernel="rbf", gamma=0.02, alpha=0.1)),
        "MLP (64 hidden)": sklearn_model(
            lambda: MLPRegressor(hidden_layer_sizes=(64,), alpha=1.0, max_iter=2000, random_state=0)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="review_80")
    parser.add_argument("--budgets", default="593,1185,2369")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    data = np.load(RESULTS / f"long_{args.dataset}.npz")
    X_train, y_train, X_test, y_test = data["X_train"], data["y_train"], data["X_test"], data["y_test"]
    budgets = [b for b in map(int, args.budgets.split(",")) if b <= len(X_train)]
    rows = []
    for name, fit in learners().items():
        cells = []
        for budget in budgets:
            started = time.perf_counter()
            r2 = r2_score(y_test, fit(X_train[:budget], y_train[:budget], X_test))
            cells.append(f"{r2:.3f} ({time.perf_counter() - started:.1f} s)")
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
        print(rows[-1], flush=True)
    head = "| learner | " + " | ".join(f"{b} masks" for b in budgets) + " |"
    body = ["## Is the proxy or the function the limit? Learners on one long review (issue 11 item 2)", "",
            (f"Command: `python benchmarks/long_proxy.py --dataset {args.dataset} --budgets {args.budgets}` · "
             f"{machine()} · dataset `long_{args.dataset}.npz` (n = {X_train.shape[1]}), the first B training masks "
             f"(those ProxySPEX(budget=B, random_state=0) queries) · held-out R² on its {len(X_test)} uniform masks "
             "(fit seconds in brackets)."), "", head, "|---|" + "---|" * len(budgets), *rows]
    update_section("long-proxy", "\n".join(body))


if __name__ == "__main__":
    main()
