"""Experiment 5: replace the proxy, keep everything else, and compare R^2 against inferences.

Every proxy is fitted on the same 80% of the masks; its spectrum ranks the candidate terms; the
same cross-validated support choice (on the other 20%) and refit on all masks follow
(``proxyspex.proxy.select_support`` and ``refit``). Spectra are read exactly from trees; the MLP
has no closed form, so it is queried on fresh uniform masks (free: it is the proxy, not the
model) and its order <= 2 spectrum is fitted by LASSO on those samples. Regression baselines
fit the masks directly. The full ProxySPEX pipeline (extra folds, tuned trees) is shown too.
"""

from __future__ import annotations

import math
import time

import numpy as np
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LassoCV
from sklearn.neural_network import MLPRegressor

from proxyspex.masks import all_masks, sample_masks
from proxyspex.proxy import TreeConfig, candidate_terms, load_lightgbm, refit, select_support
from proxyspex.proxy.trees import booster_spectrum, sklearn_trees_spectrum
from proxyspex.spectrum import Spectrum

from .common import explanation, lasso_on, ours_on, save_figure, short

MLP_SAMPLES = 8192


def order2_terms(n: int) -> Spectrum:
    """Every set of size 1 or 2, as a spectrum of placeholder ones (for its design matrix)."""
    pairs = [(i,) for i in range(n)] + [(i, j) for i in range(n) for j in range(i + 1, n)]
    return Spectrum.from_dict(n, {t: 1.0 for t in pairs})


def lasso_spectrum(X, y, terms: Spectrum, seed: int) -> Spectrum:
    """Sparse Fourier coefficients over ``terms`` by cross-validated LASSO."""
    model = LassoCV(cv=3, alphas=12, max_iter=3000, random_state=seed).fit(terms.design_matrix(X), y)
    return Spectrum(terms.n, terms.support, model.coef_) + Spectrum.from_dict(terms.n, {(): model.intercept_})


def proxy_spectrum(name: str, X, y, seed: int) -> Spectrum:
    n = X.shape[1]
    if name == "LightGBM":
        lgb = load_lightgbm()
        rng = np.random.default_rng(seed)
        val = rng.random(len(y)) < 0.2
        train_set = lgb.Dataset(X[~val].astype(np.float32), y[~val], params={"verbosity": -1})
        booster = lgb.train(TreeConfig(3).params(int((~val).sum()), seed, 1), train_set, num_boost_round=2000,
                            valid_sets=[train_set.create_valid(X[val].astype(np.float32), y[val])],
                            callbacks=[lgb.early_stopping(25, verbose=False)])
        return booster_spectrum(booster, n, num_iteration=booster.best_iteration)
    if name == "random forest":
        forest = RandomForestRegressor(n_estimators=100, max_depth=6, min_samples_leaf=2, max_features=0.5,
                                       random_state=seed, n_jobs=1).fit(X, y)
        return sklearn_trees_spectrum(forest, n)
    if name == "MLP":
        mlp = MLPRegressor(hidden_layer_sizes=(128, 64), early_stopping=len(y) >= 200, max_iter=500,
                           random_state=seed).fit(X.astype(float), y)
        S = all_masks(n) if 2 ** n <= MLP_SAMPLES else sample_masks(n, MLP_SAMPLES, np.random.default_rng(seed + 1))
        return lasso_spectrum(S, mlp.predict(S.astype(float)), order2_terms(n), seed)
    raise ValueError(name)


def refined(spectrum: Spectrum, X, y, train, val) -> Spectrum:
    """The shared second half of the pipeline: rank candidates, choose support by CV, refit on all masks."""
    candidates = candidate_terms(spectrum, X.shape[1], len(y), None)
    choice = select_support(X, y, [(train, val, candidates)])
    support = candidates.select(np.arange(min(choice.size, len(candidates))))
    return refit(support, X, y, choice.alpha, choice.penalty)


PROXIES = ("LightGBM", "random forest", "MLP")
ROWS = ("ProxySPEX (full)",) + PROXIES + ("first-order regression", "second-order regression")


def run(benches, *, multiples, seeds, progress=print) -> tuple[str, list[dict]]:
    rows = []
    for bench in benches:
        progress(f"  ablation: {bench.name}")
        nlogn = bench.n * math.log2(bench.n)
        budgets = sorted({min(int(c * nlogn), 2 ** min(bench.n, 30)) for c in multiples})
        test = None if bench.kind == "synthetic" else bench.test_set()
        for seed in seeds:
            X_all, y_all = bench.pool(budgets[-1], seed)
            for budget in budgets:
                X, y = X_all[:budget], y_all[:budget]
                val = np.random.default_rng(seed).random(budget) < 0.2
                train, val = np.flatnonzero(~val), np.flatnonzero(val)
                for name in ROWS:
                    start = time.perf_counter()
                    result = fit_with(name, bench, X, y, train, val, seed)
                    rows.append({"input": bench.name, "n": bench.n, "proxy": name, "inferences": budget, "seed": seed,
                                 "r2": bench.r2(result, test), "seconds": time.perf_counter() - start})
    return report(rows), rows


def fit_with(name: str, bench, X, y, train, val, seed: int):
    """One row of the ablation: the named proxy (or regression baseline) on these masks."""
    if name == "ProxySPEX (full)":
        return ours_on(bench, X, y, seed)
    if name == "first-order regression":
        return lasso_on(bench, X, y, seed)
    if name == "second-order regression":
        return explanation(bench, lasso_spectrum(X, y, order2_terms(bench.n), seed), len(y))
    spectrum = proxy_spectrum(name, X[train], y[train], seed)
    return explanation(bench, refined(spectrum, X, y, train, val), len(y))


def report(rows: list[dict]) -> str:
    lines = [("Held-out R² by proxy on the same masks (same candidate ranking → CV support → refit after the "
              "proxy). Cells: R² (fit seconds), mean over seeds. Figure `benchmarks/figures/ablation.png`."), ""]
    for name in dict.fromkeys(r["input"] for r in rows):
        sub = [r for r in rows if r["input"] == name]
        budgets = sorted({r["inferences"] for r in sub})
        lines += [f"**{name}** (n = {sub[0]['n']})", "",
                  "| proxy | " + " | ".join(f"{b} masks" for b in budgets) + " |",
                  "|---|" + "---|" * len(budgets)]
        for proxy in ROWS:
            cells = []
            for b in budgets:
                hits = [r for r in sub if r["proxy"] == proxy and r["inferences"] == b]
                cells.append(f"{np.mean([r['r2'] for r in hits]):.3f} ({np.mean([r['seconds'] for r in hits]):.1f}s)"
                             if hits else "—")
            lines.append(f"| {proxy} | " + " | ".join(cells) + " |")
        lines.append("")
    figure(rows)
    return "\n".join(lines)


def figure(rows: list[dict]) -> None:
    import matplotlib.pyplot as plt
    names = list(dict.fromkeys(r["input"] for r in rows))
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.3), squeeze=False)
    for ax, name in zip(axes.flat, names):
        for proxy in ROWS:
            budgets = sorted({r["inferences"] for r in rows if r["input"] == name})
            means = [np.mean([r["r2"] for r in rows if r["input"] == name and r["proxy"] == proxy
                              and r["inferences"] == b]) for b in budgets]
            ax.plot(budgets, means, marker="o", ms=3, label=proxy, lw=2.2 if proxy.startswith("ProxySPEX") else 1.2)
        ax.set_xscale("log")
        ax.set_ylim(max(-0.1, ax.get_ylim()[0]), 1.02)
        ax.set_title(short(name, 40), fontsize=9)
        ax.set_xlabel("inferences")
        ax.set_ylabel("held-out R²")
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, "ablation.png")
