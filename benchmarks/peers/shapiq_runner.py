"""Fit shapiq's ProxySPEX surrogate on precomputed samples. Runs in a Python >= 3.12 venv.

    python shapiq_runner.py DATA.npz '{"hpo": true, "max_order": null, "random_state": 0}'
    python shapiq_runner.py --selfcheck

DATA.npz holds X_train (m, n) bool, y_train (m,), X_test (t, n) bool, y_test (t,).
Prints one JSON line on stdout: {"r2", "fit_seconds", "n_terms", "notes", ...}.

Approach: ``ProxySPEX.approximate`` (shapiq 1.8.0) does (1) sample coalitions, (2) query the
game, (3) ``proxy_model.fit`` -- a GridSearchCV over LGBMRegressor if hpo else a bare
LGBMRegressor, (4) ``tree_to_fourier`` of the fitted (best) ensemble, (5) ``_refine``: keep the
largest coefficients holding 95% of the non-constant energy and refit them with RidgeCV,
(6) convert to Moebius and to the requested interaction index. We skip (1)-(2) and call shapiq's
own objects for (3)-(5) on our samples, so no function is queried; (6) only re-expresses the
surrogate as an index and is not needed to predict. ``--selfcheck`` checks that this matches
``approximate()`` itself, run with the sampler pinned to our samples and a lookup game.

Conventions: shapiq's coalition matrix is bool, True = player present (= our "keep"), and its
Fourier basis is Re exp(i*pi*<x, k>) = (-1)^{|x ∩ k|}, the same as ours. ``max_order`` does not
change shapiq's fit (there it only truncates the index output); here it drops Fourier terms of
order > max_order before evaluating, like ``Spectrum.truncate`` in our package.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time

import numpy as np


def design(X: np.ndarray, terms: list[tuple[int, ...]], basis: str = "fourier") -> np.ndarray:
    """(t, s) basis functions: (-1)^{|x ∩ k|} ("fourier") or [k ⊆ x] ("moebius")."""
    K = np.zeros((X.shape[1], len(terms)), dtype=np.float32)
    for j, k in enumerate(terms):
        K[list(k), j] = 1.0
    counts = np.rint(X.astype(np.float32) @ K).astype(np.int64)  # exact for n < 2^24
    if basis == "fourier":
        return 1.0 - 2.0 * (counts & 1)
    return (counts == np.array([len(k) for k in terms])).astype(float)


def predict(coefs: dict, X: np.ndarray, basis: str = "fourier", chunk: int = 4096) -> np.ndarray:
    """Evaluate a {term: value} expansion on the bool masks X, in row chunks."""
    terms, values = list(coefs), np.array(list(coefs.values()), dtype=float)
    return np.concatenate(
        [design(X[i:i + chunk], terms, basis) @ values for i in range(0, len(X), chunk)]
    )


def r2(y: np.ndarray, pred: np.ndarray) -> float:
    return float(1.0 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2))


def fit(X: np.ndarray, y: np.ndarray, hpo: bool, random_state: int | None, **kwargs) -> dict:
    """Steps (3)-(5) of ProxySPEX.approximate on (X, y); returns the surrogate and timings."""
    from shapiq.approximator.proxy._models import ProxyModelWithHPO
    from shapiq.approximator.proxy._routes import tree_to_fourier
    from shapiq.approximator.proxy.proxyspex import ProxySPEX

    approx = ProxySPEX(n=X.shape[1], hpo=hpo, random_state=random_state, **kwargs)
    threads = os.environ.get("OMP_NUM_THREADS")
    if threads:  # LightGBM ignores OMP_NUM_THREADS when n_jobs=-1, shapiq's default; pin it too
        base = approx.proxy_model.estimator if isinstance(approx.proxy_model, ProxyModelWithHPO) else approx.proxy_model
        base.set_params(n_jobs=int(threads))
    with contextlib.redirect_stdout(sys.stderr):  # keep LightGBM chatter off our JSON line
        t0, cpu0 = time.perf_counter(), time.process_time()
        approx.proxy_model.fit(X, y)
        t1 = time.perf_counter()
        search = approx.proxy_model if isinstance(approx.proxy_model, ProxyModelWithHPO) else None
        model = search.best_estimator_ if search is not None else approx.proxy_model
        raw = tree_to_fourier(model, X.shape[1])
        t2 = time.perf_counter()
        fourier = approx._refine(raw, X, y)
        t3, cpu3 = time.perf_counter(), time.process_time()
    params = model.get_params()
    return {
        "approx": approx, "model": model, "raw": raw, "fourier": fourier,
        "timings": {"trees": t1 - t0, "tree_to_fourier": t2 - t1, "refine": t3 - t2},
        "cpu_seconds": cpu3 - cpu0,  # all threads; robust to a busy machine when single-threaded
        "model_params": {k: params.get(k) for k in
                         ("n_estimators", "max_iter", "max_depth", "num_leaves",
                          "learning_rate", "min_child_samples") if k in params},
        "n_trees": int(model.booster_.num_trees()) if hasattr(model, "booster_") else None,
        "cv_r2": getattr(search, "best_score_", None),  # GridSearchCV's 5-fold R² of the pick
    }


def run(path: str, options: dict) -> dict:
    data = np.load(path)
    X, y = data["X_train"].astype(bool), data["y_train"].astype(float)
    X_test, y_test = data["X_test"].astype(bool), data["y_test"].astype(float)
    res = fit(X, y, bool(options.get("hpo", True)), options.get("random_state", 0))
    fourier, max_order = res["fourier"], options.get("max_order")
    if max_order is not None:
        fourier = {k: v for k, v in fourier.items() if len(k) <= max_order}
    return {
        "r2": r2(y_test, predict(fourier, X_test)),
        "fit_seconds": sum(res["timings"].values()),
        "n_terms": len(fourier),
        "notes": "shapiq ProxySPEX internals (proxy_model.fit, tree_to_fourier, _refine) on the "
                 "given samples; no function queries; fit_seconds excludes evaluation",
        "timings": res["timings"],
        "fit_cpu_seconds": res["cpu_seconds"],
        "proxy_r2": r2(y_test, res["model"].predict(X_test)),  # the tree proxy before refine
        "n_terms_before_refine": len(res["raw"]),
        "max_degree": max((len(k) for k in fourier), default=0),
        "train_r2": r2(y, predict(fourier, X)),
        "model_params": res["model_params"],
        "n_trees": res["n_trees"],
        "cv_r2": res["cv_r2"],
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "shapiq_version": __import__("shapiq").__version__,
    }


def selfcheck(n: int = 10, m: int = 400, seed: int = 0) -> dict:
    """Evaluator vs shapiq's own model and a brute-force loop; our fit vs approximate()."""
    from shapiq.approximator.proxy.proxyspex import ProxySPEX

    rng = np.random.default_rng(seed)
    X = rng.random((m, n)) < 0.5
    X[0], X[1] = False, True  # the sampler always includes the empty and grand coalitions
    X = np.unique(X, axis=0)  # the sampler draws distinct coalitions
    truth = {(): 1.0, (0,): 2.0, (1, 2): -1.5, (3, 4, 5): 1.0, (6,): 0.5, (2, 7): 0.7}
    y = predict(truth, X) + 0.05 * rng.standard_normal(len(X))
    every = np.array([[(s >> i) & 1 for i in range(n)] for s in range(2 ** n)], dtype=bool)
    out = {}
    for hpo in (False, True):
        res = fit(X, y, hpo, seed, max_order=n, index="k-SII")
        approx, fourier = res["approx"], res["fourier"]
        # 1. unrefined tree spectrum vs the tree model's own predictions, on all 2^n masks
        raw_err = np.abs(predict(res["raw"], every) - res["model"].predict(every)).max()
        # 2. refined spectrum vs a plain loop over terms, and vs shapiq's Fourier->Moebius
        sub = every[rng.choice(len(every), 64, replace=False)]
        loop = [sum(v * (-1) ** int(x[list(k)].sum()) for k, v in fourier.items()) for x in sub]
        loop_err = np.abs(predict(fourier, sub) - np.array(loop)).max()
        moebius = approx.fourier_to_moebius(fourier)
        moeb_err = np.abs(predict(fourier, every) - predict(moebius, every, "moebius")).max()
        # 3. our internal fit vs approximate() fed the same samples through a lookup game
        ref = ProxySPEX(n=n, hpo=hpo, random_state=seed, max_order=n, index="k-SII")
        ref._sampler.sample = lambda budget: None
        ref._sampler._sampled_coalitions_matrix = X.copy()
        table = {row.tobytes(): v for row, v in zip(X, y)}

        def lookup(C, table=table):
            return np.array([table[c.tobytes()] for c in C])

        with contextlib.redirect_stdout(sys.stderr):
            shapiq_out = ref.approximate(len(X), lookup)
            ours = approx._process_moebius(moebius)
        out["hpo" if hpo else "no_hpo"] = {
            "raw_vs_model_max_abs": float(raw_err),
            "refined_vs_loop_max_abs": float(loop_err),
            "fourier_vs_shapiq_moebius_max_abs": float(moeb_err),
            "ours_vs_approximate_max_abs": float(np.abs(shapiq_out.values - ours).max()),
            "n_terms": len(fourier),
            "r2_all_masks": r2(predict(truth, every), predict(fourier, every)),
        }
    out["ok"] = all(v < 1e-6 for d in out.values() for k, v in d.items() if k.endswith("max_abs"))
    return out


if __name__ == "__main__":
    if sys.argv[1:] == ["--selfcheck"]:
        result = selfcheck()
    elif len(sys.argv) == 3:
        result = run(sys.argv[1], json.loads(sys.argv[2]))
    else:
        sys.exit(__doc__)
    print(json.dumps(result), flush=True)
