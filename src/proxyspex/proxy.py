"""The proxy: gradient-boosted trees, their exact spectrum, and the cross-validated refit.

Tuning policy (measured in BENCHMARKS.md): depth 3 and, if larger, depth ``max_order``, each trained
once with early stopping on a validation fold, instead of a k-fold grid of fixed-size
models. The minimum leaf size and the learning rate adapt to the sample size, so small
budgets still split and are not overfitted by a few big steps.

Under noise, trees miss whole small interactions. After the refit, :func:`screen_pairs` tests
every pair of strong first-order features against the residual; the pairs it finds join the
candidates only if the out-of-fold error (each fold screening its own rows) improves.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso, lasso_path
from threadpoolctl import threadpool_limits

from .spectrum import Spectrum, terms_to_support
from .trees import booster_spectrum

SMALL_SAMPLE = 1000  # below this many masks the refit is also judged on EXTRA_FOLDS more folds
EXTRA_FOLDS = 4
FOLD_SPEEDUP = 3.0  # CV folds' rankers: this many times the learning rate, for that many fewer rounds
MIN_GAIN = 1e-3  # early stopping: rounds must cut the validation error by this share of its variance
MAX_REFIT_TERMS = 3000  # the refit factorises a Gram matrix of this size
SCREEN_FEATURES = 48  # pairs missed by the trees are screened among this many strongest features
ALPHAS = np.logspace(-3, 1, 5)  # ridge penalties, relative to the mean eigenvalue of the Gram
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
class ProxyFit:
    """Result of :func:`fit_proxy`."""

    spectrum: Spectrum  # the refit sparse Fourier spectrum
    faithfulness: float  # out-of-fold R^2 of the selected refit
    tree_config: TreeConfig
    n_trees: int
    n_terms_trees: int  # terms in the exact tree spectrum before pruning
    alpha: float
    details: dict = field(default_factory=dict)


def fit_proxy(
    X: np.ndarray,
    y: np.ndarray,
    *,
    max_order: int = 3,
    configs: list[TreeConfig] | None = None,
    val_fraction: float = 0.2,
    max_rounds: int = 2000,
    early_stopping: int = 25,
    max_terms: int | None = None,
    energy: float | None = None,
    random_state: int = 0,
    n_jobs: int = 1,
) -> ProxyFit:
    """Fit trees, read their spectrum, keep the cross-validated support and refit it.

    ``n_jobs`` caps both LightGBM's and BLAS's threads: oversubscribed OpenMP and OpenBLAS
    threads spin against each other and can slow a fit by orders of magnitude.

    ``energy=None`` chooses the support size on the validation fold; a share such as 0.95
    keeps the fewest strongest terms holding that share of the trees' energy instead.
    """
    # squares of |y| beyond 1e100 overflow (and below 1e-100 underflow): fit y / 2^k, exactly, then scale back
    peak = float(np.max(np.abs(y), initial=0.0))
    scale = 2.0 ** round(np.log2(peak)) if peak > 1e100 or 0 < peak < 1e-100 else 1.0
    with threadpool_limits(limits=n_jobs):
        fit = _fit_proxy(X, y / scale, max_order=max_order, configs=configs, val_fraction=val_fraction,
                         max_rounds=max_rounds, early_stopping=early_stopping, max_terms=max_terms,
                         energy=energy, random_state=random_state, n_jobs=n_jobs)
    fit.spectrum = fit.spectrum * scale if scale != 1.0 else fit.spectrum
    return fit


def _fit_proxy(X, y, *, max_order, configs, val_fraction, max_rounds, early_stopping, max_terms, energy,
               random_state, n_jobs) -> ProxyFit:
    lgb = _lightgbm()
    rng = np.random.default_rng(random_state)
    m, n = X.shape
    val = np.zeros(m, dtype=bool)
    val[rng.permutation(m)[: max(2, int(round(val_fraction * m)))]] = True
    # LightGBM bins the float copies and frees them: no (m, n) float array outlives this step
    train_set = lgb.Dataset(X[~val].astype(np.float32), y[~val], params=DATASET_PARAMS).construct()
    val_set = lgb.Dataset(X[val].astype(np.float32), y[val], reference=train_set, params=DATASET_PARAMS).construct()

    best = None
    for config in configs or default_configs(max_order):
        stop = lgb.early_stopping(early_stopping, verbose=False, min_delta=MIN_GAIN * float(np.var(y[val])))
        booster = lgb.train(config.params(int((~val).sum()), random_state, n_jobs), train_set,
                            num_boost_round=max_rounds, valid_sets=[val_set], callbacks=[stop],
                            keep_training_booster=True)  # skips a round trip through the model string
        score = r2_score(y[val], _predict(booster, X[val], num_iteration=booster.best_iteration))
        if best is None or score > best[0]:
            best = (score, config, booster)
    del train_set, val_set
    tree_r2, config, booster = best
    n_trees = booster.best_iteration or booster.num_trees()
    booster.free_dataset()  # kept (saving a round trip through the model string) until now
    del best
    spectrum = booster_spectrum(booster, n, num_iteration=booster.best_iteration)
    del booster

    def ranked(spectrum: Spectrum) -> Spectrum:
        return _candidate_terms(spectrum, n, m, max_terms, by_energy=energy is not None)

    def trees_on(rows: np.ndarray) -> Spectrum:
        """The winning configuration on other rows, in fewer bigger steps: each fold ranks terms itself."""
        params = config.params(rows.size, random_state, n_jobs)
        params["learning_rate"] = min(1.0, params["learning_rate"] * FOLD_SPEEDUP)
        fold_booster = lgb.train(params, lgb.Dataset(X[rows].astype(np.float32), y[rows], params=DATASET_PARAMS),
                                 num_boost_round=max(1, int(np.ceil(n_trees / FOLD_SPEEDUP))),
                                 keep_training_booster=True)
        return booster_spectrum(fold_booster, n)

    folds = [(np.flatnonzero(~val), np.flatnonzero(val), ranked(spectrum))]
    if m < SMALL_SAMPLE:  # one split is too noisy a judge here, and more trees are cheap
        for chunk in np.array_split(rng.permutation(m), EXTRA_FOLDS):
            train = np.setdiff1d(np.arange(m), chunk)
            folds.append((train, chunk, ranked(trees_on(train))))
        spectrum = trees_on(np.arange(m))
    candidates = ranked(spectrum)
    sizes = None if energy is None else [_energy_size(candidates, energy)]
    choice = select_support(X, y, folds, sizes=sizes)
    model = refit(_leading(candidates, choice["size"]), X, y, choice["alpha"], choice["penalty"])
    pairs = screen_pairs(model, X, y) if energy is None and max_order >= 2 else Spectrum.zero(n)
    if len(pairs):  # interactions the trees missed: kept if each fold, screening its own rows, gains by them
        screened = [(train, val, _with_pairs(cands, screen_pairs(
            refit(_leading(cands, choice["size"]), X[train], y[train], choice["alpha"], choice["penalty"]),
            X[train], y[train]))) for train, val, cands in folds]
        second = select_support(X, y, screened, alphas=[choice["alpha"]], penalties=(choice["penalty"],))
        if second["r2"] > choice["r2"]:
            candidates, choice = _with_pairs(candidates, pairs), second
            model = refit(_leading(candidates, choice["size"]), X, y, choice["alpha"], choice["penalty"])
    # the trees only rank terms; the refit uses every mask, validation fold included
    support_size = min(choice["size"], len(candidates))
    return ProxyFit(spectrum=model, faithfulness=choice["r2"], tree_config=config, n_trees=n_trees,
                    n_terms_trees=len(spectrum), alpha=choice["alpha"],
                    details={"tree_r2": tree_r2, "support_size": support_size, "penalty": choice["penalty"],
                             "n_folds": len(folds), "screened_pairs": len(pairs), "scores": choice["scores"]})


def _candidate_terms(spectrum: Spectrum, n: int, m: int, max_terms: int | None, by_energy: bool = False) -> Spectrum:
    """Terms ordered for the refit: first order first, then by |F(k)| (or all by |F(k)|).

    All n first-order terms join when the sample can afford them, so the refit is never
    worse than a first-order (LASSO-like) model.
    """
    pool = spectrum.select(spectrum.degrees > 0)  # the constant is the refit's intercept
    if by_energy:
        return _ordered(pool, np.argsort(-np.abs(pool.values), kind="stable")[: max_terms or MAX_REFIT_TERMS])
    if n <= MAX_REFIT_TERMS:  # a negligible value keeps every first-order term in the (zero-dropping) spectrum
        pool = pool + Spectrum(n, sp.eye(n, format="csr", dtype=bool), np.full(n, 1e-300))
    low = np.flatnonzero(pool.degrees == 1)
    high = np.flatnonzero(pool.degrees > 1)
    low = low[np.argsort(-np.abs(pool.values[low]), kind="stable")]
    high = high[np.argsort(-np.abs(pool.values[high]), kind="stable")]
    cap = max_terms or min(MAX_REFIT_TERMS, max(2 * n, m // 4))
    order = np.concatenate([low, high])[:cap]
    return _ordered(pool, order)


def screen_pairs(model: Spectrum, X: np.ndarray, y: np.ndarray, max_features: int = SCREEN_FEATURES) -> Spectrum:
    """Pairs of strong features whose parity the residual of ``model`` still follows.

    Trees miss interactions that are small against the noise; by hierarchy, their features
    carry first-order terms. Among the ``max_features`` strongest first-order features, a pair
    is kept when its residual correlation exceeds the universal threshold sqrt(2 ln #pairs) in
    standard errors. Returns the new pairs, valued by their estimated Fourier coefficient.
    """
    m, n = X.shape
    residual = y - model.predict(X)
    residual -= residual.mean()
    spread = float(np.sqrt(np.mean(residual ** 2)))
    first = np.zeros(n)
    first_order = model.degrees == 1
    first[model.support[first_order].indices] = np.abs(model.values[first_order])
    top = np.argsort(-first, kind="stable")[: min(n, max_features)]
    top = np.sort(top[first[top] > 0])
    if top.size < 2 or spread == 0:
        return Spectrum.zero(n)
    signs = 1.0 - 2.0 * X[:, top]
    a, b = np.triu_indices(top.size, 1)
    coefficients = ((signs * residual[:, None]).T @ signs)[a, b] / m  # mean of residual * parity, per pair
    keep = np.abs(coefficients) * np.sqrt(m) / spread > np.sqrt(2 * np.log(a.size))
    pairs = np.column_stack([top[a[keep]], top[b[keep]]])
    known = set(model.select(model.degrees == 2).terms())
    new = np.array([(i, j) not in known for i, j in pairs.tolist()], dtype=bool)
    return Spectrum(n, terms_to_support([tuple(p) for p in pairs[new].tolist()], n), coefficients[keep][new])


def _leading(candidates: Spectrum, size: int) -> Spectrum:
    """The first ``size`` candidate terms."""
    return candidates.select(np.arange(min(size, len(candidates))))


def _with_pairs(candidates: Spectrum, pairs: Spectrum) -> Spectrum:
    """``candidates`` with the screened ``pairs`` (strongest first) right after the first-order terms."""
    if not len(pairs):
        return candidates
    pairs = _ordered(pairs, np.argsort(-np.abs(pairs.values), kind="stable"))
    fresh = set(pairs.terms())
    rest = np.array([term not in fresh for term in candidates.terms()], dtype=bool)
    low = np.flatnonzero(rest & (candidates.degrees == 1))
    high = np.flatnonzero(rest & (candidates.degrees != 1))
    support = sp.vstack([candidates.support[low], pairs.support, candidates.support[high]], format="csr")
    values = np.concatenate([candidates.values[low], pairs.values, candidates.values[high]])
    return Spectrum._trusted(candidates.n, support, values, candidates.basis)


def _energy_size(candidates: Spectrum, share: float) -> int:
    """Fewest leading terms holding ``share`` of the candidates' energy."""
    energy = np.cumsum(candidates.values ** 2)
    return int(np.searchsorted(energy, share * energy[-1]) + 1) if energy.size else 0


def _ordered(spectrum: Spectrum, order: np.ndarray) -> Spectrum:
    """A view of ``spectrum`` whose terms keep the given order (the constructor would sort)."""
    return Spectrum._trusted(spectrum.n, spectrum.support[order], spectrum.values[order], spectrum.basis)


def select_support(X: np.ndarray, y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray, Spectrum]],
                   alphas=ALPHAS, sizes=None, penalties=("l1", "l2")) -> dict:
    """Choose the leading candidate terms and the refit's penalty by out-of-fold error.

    Ridge over nested supports: the Cholesky factor of a leading block of a matrix is the
    leading block of its factor, so one factorisation per penalty serves every size. A
    LASSO path over the first-order and strongest terms competes too: with fewer masks than
    features, sparsity wins, and the refit must never lose to a marginal LASSO model.
    Each fold is ``(train rows, validation rows, candidate terms ranked without the validation
    rows)``. ``penalties`` limits the search to ``"l1"`` and/or ``"l2"``. Returns the winner
    and its pooled out-of-fold R^2.
    """
    n_low = int(np.sum(folds[0][2].degrees == 1))
    total = min(min(len(c) for _, _, c in folds), min(len(train) for train, _, _ in folds))
    if sizes is None:
        sizes = {min(n_low, total), total} | {n_low + int(round(k)) for k in np.geomspace(1, max(total - n_low, 1), 10)}
    sizes = sorted(s for s in set(sizes) if 1 <= s <= total) or [total]
    l1_size = min(total, 2 * max(n_low, 1))
    l1_alphas = None
    errors: dict[tuple, list[float]] = {}
    for train, val, candidates in folds:
        leading = _ordered(candidates, np.arange(total))
        A, B = leading.design_matrix(X[train]), leading.design_matrix(X[val])  # column-major: no copies below
        mean = A.mean(axis=0)
        A -= mean
        B -= mean
        if l1_alphas is None:  # one LASSO grid for all folds, from the first
            l1_max = np.max(np.abs(A[:, :l1_size].T @ (y[train] - y[train].mean()))) / len(train)
            l1_alphas = np.geomspace(l1_max, l1_max * 1e-3, 12) if l1_max > 0 else np.array([1e-8])
        for key, pred in _fold_predictions(A, B, y[train], sizes, alphas, l1_size, l1_alphas, penalties):
            errors.setdefault(key, []).append(float(np.sum((y[val] - pred) ** 2)))
    total_ss = sum(float(np.sum((y[val] - y[val].mean()) ** 2)) for _, val, _ in folds)
    rounding = len(y) * (1e-14 * float(np.max(np.abs(y)))) ** 2  # squared error of float rounding alone
    # a constant y has no variance to explain: R^2 is 1 for a fit exact to rounding (as in r2_score), else 0
    scores = [(1 - sum(sse) / total_ss if total_ss > rounding else float(sum(sse) <= rounding), key)
              for key, sse in errors.items() if len(sse) == len(folds)]
    r2, (penalty, size, alpha) = max(scores, key=lambda s: (s[0], -s[1][1]))
    return {"r2": float(r2), "size": size, "alpha": alpha, "penalty": penalty, "scores": scores}


def _fold_predictions(A, B, y_train, sizes, alphas, l1_size, l1_alphas, penalties=("l1", "l2")):
    """Validation predictions of every (penalty, size, alpha) candidate fitted on one fold.

    ``A`` and ``B`` are the train and validation designs, centred by the train means.
    """
    y_mean = y_train.mean()
    gram, moment = A.T @ A, A.T @ (y_train - y_mean)
    if "l1" in penalties:
        with warnings.catch_warnings():  # weak penalties may stop short of convergence; CV judges them anyway
            warnings.simplefilter("ignore", ConvergenceWarning)
            _, l1_coefs, _ = lasso_path(A[:, :l1_size], y_train - y_mean, alphas=l1_alphas, copy_X=False,
                                        precompute=gram[:l1_size, :l1_size].copy(), Xy=moment[:l1_size])
        for alpha, beta in zip(l1_alphas, l1_coefs.T):
            yield ("l1", l1_size, float(alpha)), y_mean + B[:, :l1_size] @ beta
    if "l2" not in penalties:
        return
    scale = np.trace(gram) / len(gram)
    diagonal = np.diag_indices(len(gram))
    base_diagonal = gram[diagonal].copy()
    for alpha in alphas:
        gram[diagonal] = base_diagonal + alpha * scale
        chol = scipy.linalg.cholesky(gram, lower=True, check_finite=False)
        # the forward solve of a leading block is the head of the full one: one serves every size
        forward = scipy.linalg.solve_triangular(chol, moment, lower=True, check_finite=False)
        for size in sizes:
            beta = scipy.linalg.solve_triangular(chol[:size, :size], forward[:size], lower=True, trans="T",
                                                 check_finite=False)
            yield ("l2", size, float(alpha)), y_mean + B[:, :size] @ beta


def refit(support: Spectrum, X: np.ndarray, y: np.ndarray, alpha: float, penalty: str = "l2") -> Spectrum:
    """Ridge (``l2``) or LASSO (``l1``) refit of the non-constant terms of ``support`` on all masks.

    The ridge ``alpha`` is relative to the mean diagonal of the Gram matrix, the LASSO one is
    scikit-learn's (per sample). The constant term is the unpenalised intercept.
    """
    terms = support.select(support.degrees > 0)
    A = terms.design_matrix(X)
    mean = A.mean(axis=0)
    A -= mean
    if penalty == "l1":
        beta = Lasso(alpha=alpha, fit_intercept=False, max_iter=5000, tol=1e-3).fit(A, y - y.mean()).coef_
    elif A.shape[1]:
        gram = A.T @ A
        gram[np.diag_indices(len(gram))] += alpha * np.trace(gram) / len(gram)
        beta = scipy.linalg.solve(gram, A.T @ (y - y.mean()), assume_a="pos")
    else:
        beta = np.zeros(0)
    rows = sp.vstack([sp.csr_matrix((1, support.n), dtype=bool), terms.support], format="csr")  # the constant first
    return Spectrum(support.n, rows, np.concatenate([[y.mean() - mean @ beta], beta]))


def r2_score(y: np.ndarray, prediction: np.ndarray) -> float:
    """R^2 = 1 - sum (y - yhat)^2 / sum (y - mean y)^2."""
    y, prediction = np.asarray(y, dtype=float), np.asarray(prediction, dtype=float)
    total = np.sum((y - y.mean()) ** 2)
    return float(1 - np.sum((y - prediction) ** 2) / total) if total > 0 else float(np.allclose(y, prediction))


def _predict(booster, X: np.ndarray, num_iteration: int | None = None, chunk: int = 8192) -> np.ndarray:
    """``booster.predict`` on bool masks, converting a chunk of rows to floats at a time."""
    parts = [booster.predict(X[start:start + chunk].astype(np.float32), num_iteration=num_iteration)
             for start in range(0, len(X), chunk)]
    return np.concatenate(parts) if parts else np.zeros(0)


def _lightgbm():
    try:
        import lightgbm
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise ImportError("proxyspex needs lightgbm: pip install lightgbm") from exc
    return lightgbm
