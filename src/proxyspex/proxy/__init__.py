"""The proxy: gradient-boosted trees, their exact spectrum, and the cross-validated refit.

:func:`fit_proxy` is the pipeline, one named step per module:

1. :mod:`.boosting`: split off a validation fold, train the early-stopped trees, and below
   ``SMALL_SAMPLE`` masks retrain them on more folds so that each fold ranks its own terms;
2. :mod:`.trees`: the exact Fourier spectrum of each booster;
3. :mod:`.candidates`: order its terms for the refit, with their basis columns built once per fold;
4. :mod:`.support`: choose the support size and penalty by pooled out-of-fold error, refit on all masks;
5. :mod:`.screening`: pairs and triples the trees missed (small against the noise, or spread over
   many small terms, as in a saturating function), screened in the residual; they join only if the
   out-of-fold error, each fold screening its own rows, improves;
6. :mod:`.faithfulness`: the honest self-estimate: the whole choice cross-validated, with an interval.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from ..metrics import r2_score
from ..spectrum import Spectrum
from .boosting import (
    DATASET_PARAMS,
    FOLD_SPEEDUP,
    MIN_GAIN,
    SMALL_SAMPLE,
    BoostedTrees,
    TreeConfig,
    default_configs,
    load_lightgbm,
    predict_booster,
    ranker_spectrum,
    train_boosted,
)
from .candidates import MAX_REFIT_TERMS, Candidates, candidate_terms, energy_size, ordered
from .faithfulness import Faithfulness, nested_r2
from .screening import SCREEN_FEATURES, screen_pairs, screen_triples
from .support import ALPHAS, Fold, SupportChoice, refit, refit_candidates, select_support
from .trees import booster_spectrum

EXTRA_FOLDS = 4  # below SMALL_SAMPLE masks the refit is also judged on this many more folds
SCREEN_TRIPLES = True  # triples among the strongest features too (measured: saturating +0.017 R², core rows equal)

__all__ = ["ALPHAS", "DATASET_PARAMS", "EXTRA_FOLDS", "FOLD_SPEEDUP", "MAX_REFIT_TERMS", "MIN_GAIN",
           "SCREEN_FEATURES", "SCREEN_TRIPLES", "SMALL_SAMPLE", "BoostedTrees", "Candidates", "Faithfulness", "Fold",
           "ProxyFit", "SupportChoice", "TreeConfig", "booster_spectrum", "candidate_terms", "default_configs",
           "energy_size", "fit_proxy", "load_lightgbm", "nested_r2", "ordered", "predict_booster", "r2_score",
           "ranker_spectrum", "refit", "refit_candidates", "screen_pairs", "screen_triples", "screened_terms",
           "select_support", "train_boosted"]


@dataclass
class ProxyFit:
    """Result of :func:`fit_proxy`."""

    spectrum: Spectrum  # the refit sparse Fourier spectrum
    faithfulness: float  # out-of-fold R^2 of the whole selection (proxy.faithfulness); NaN where unsupported
    tree_config: TreeConfig
    n_trees: int
    n_terms_trees: int  # terms in the exact tree spectrum (fitted on all masks) before pruning
    alpha: float  # the refit's penalty strength, in the units of ``penalty`` (see proxyspex.proxy.support)
    penalty: str = "l2"  # "l2": ridge, alpha relative to the mean Gram diagonal; "l1": LASSO, per-sample alpha
    faithfulness_interval: tuple[float, float] = (float("nan"), float("nan"))  # 90% bootstrap interval
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
        fit = _pipeline(X, y / scale, max_order=max_order, configs=configs or default_configs(max_order),
                        val_fraction=val_fraction, max_rounds=max_rounds, early_stopping=early_stopping,
                        max_terms=max_terms, energy=energy, random_state=random_state, n_jobs=n_jobs)
    fit.spectrum = fit.spectrum * scale if scale != 1.0 else fit.spectrum
    return fit


def _pipeline(X, y, *, max_order, configs, val_fraction, max_rounds, early_stopping, max_terms, energy,
              random_state, n_jobs) -> ProxyFit:
    rng = np.random.default_rng(random_state)
    m, n = X.shape
    val = np.zeros(m, dtype=bool)
    val[rng.permutation(m)[: max(2, int(round(val_fraction * m)))]] = True
    trees = train_boosted(X, y, val, configs, max_rounds=max_rounds, early_stopping=early_stopping,
                          random_state=random_state, n_jobs=n_jobs)
    by_energy = energy is not None
    folds = [Fold(np.flatnonzero(~val), np.flatnonzero(val), _candidates(trees.spectrum, X, max_terms, by_energy))]
    full_spectrum, full = trees.spectrum, folds[0].candidates  # the early-stopped trees rank for all masks
    if m < SMALL_SAMPLE:  # one split is too noisy a judge here, and more trees are cheap
        for chunk in np.array_split(rng.permutation(m), EXTRA_FOLDS):
            train = np.setdiff1d(np.arange(m), chunk)
            spectrum = ranker_spectrum(X, y, train, trees, random_state=random_state, n_jobs=n_jobs)
            folds.append(Fold(train, chunk, _candidates(spectrum, X, max_terms, by_energy)))
        # ... and trees retrained on every mask rank the final refit's terms
        full_spectrum = ranker_spectrum(X, y, np.arange(m), trees, random_state=random_state, n_jobs=n_jobs)
        full = _candidates(full_spectrum, X, max_terms, by_energy)
    sizes = None if energy is None else [energy_size(full.terms, energy)]
    choice = select_support(X, y, folds, sizes=sizes)
    model, fitted = refit_candidates(full, choice, y)
    depth = trees.config.max_depth
    screen = energy is None and max_order >= 2
    pairs = screened_terms(model, X, y, fitted, max_order, depth) if screen else Spectrum.zero(n)
    options = dict(choice.errors)  # every option the search compared, for the honest estimate
    if len(pairs):
        with_pairs = _screened_choice(X, y, folds, choice, max_order, depth)
        options.update({key + ("screened",): rows for key, rows in with_pairs.errors.items()})
        if with_pairs.r2 > choice.r2:
            full, choice = full.with_pairs(pairs, X), with_pairs
            model, _ = refit_candidates(full, choice, y)
    honest = nested_r2(y, [fold.val for fold in folds], options, random_state=random_state)
    details = {"tree_r2": trees.val_r2, "support_size": min(choice.size, len(full)), "penalty": choice.penalty,
               "n_folds": len(folds), "screened_pairs": len(pairs), "scores": choice.scores,
               "selection_r2": choice.r2, "faithfulness_interval": honest.interval}
    if honest.note:
        details["faithfulness_note"] = honest.note
    return ProxyFit(spectrum=model, faithfulness=honest.estimate, tree_config=trees.config, n_trees=trees.n_trees,
                    n_terms_trees=len(full_spectrum), alpha=choice.alpha, penalty=choice.penalty,
                    faithfulness_interval=honest.interval, details=details)


def _candidates(spectrum: Spectrum, X: np.ndarray, max_terms: int | None, by_energy: bool) -> Candidates:
    """The refit's candidates from a tree spectrum, with their columns on every mask."""
    return Candidates.on(candidate_terms(spectrum, X.shape[1], X.shape[0], max_terms, by_energy=by_energy), X)


def screened_terms(model: Spectrum, X: np.ndarray, y: np.ndarray, fitted: np.ndarray, max_order: int,
                   tree_depth: int) -> Spectrum:
    """Pairs the residual of ``model`` follows, and triples with ``SCREEN_TRIPLES`` if ``max_order`` and the
    trees' depth are both 3 or more (depth-2 trees ask for a model of order 2)."""
    terms = screen_pairs(model, X, y, fitted=fitted)
    if SCREEN_TRIPLES and min(max_order, tree_depth) >= 3:
        terms = terms + screen_triples(model, X, y, fitted=fitted)
    return terms


def _screened_choice(X: np.ndarray, y: np.ndarray, folds: list[Fold], choice: SupportChoice, max_order: int,
                     tree_depth: int) -> SupportChoice:
    """Out-of-fold score of ``choice`` when each fold adds the pairs it screens in its own training rows."""
    screened = []
    for fold in folds:
        model, fitted = refit_candidates(fold.candidates, choice, y, rows=fold.train)
        pairs = screened_terms(model, X[fold.train], y[fold.train], fitted, max_order, tree_depth)
        screened.append(Fold(fold.train, fold.val, fold.candidates.with_pairs(pairs, X)))
    return select_support(X, y, screened, alphas=[choice.alpha], penalties=(choice.penalty,))
