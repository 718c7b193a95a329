"""Choosing the support and penalty by out-of-fold error, and the refit on all masks.

Ridge over nested supports: the Cholesky factor of a leading block of a matrix is the leading
block of its factor, so one factorisation per penalty serves every size. A LASSO path over the
first-order and strongest terms competes too: with fewer masks than features, sparsity wins, and
the refit must never lose to a marginal LASSO model.

Units of ``alpha``: for ``penalty="l2"`` (ridge) a multiple of the mean diagonal of the Gram
matrix of the centred design; for ``penalty="l1"`` (LASSO) scikit-learn's per-sample ``alpha``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso, lasso_path

from ..metrics import r2_from_sums, rounding_floor
from ..spectrum import Spectrum
from .candidates import Candidates

ALPHAS = np.logspace(-3, 1, 5)  # ridge penalties, relative to the mean eigenvalue of the Gram
PENALTIES = ("l1", "l2")
# LASSO paths run over these many leading candidates per first-order term: 1 (first order alone) won on an
# 80-word LLM review at 148-296 masks (held-out R² 0.31 -> 0.39, 0.47 -> 0.52), 2 on the synthetic games
L1_TERMS_PER_FEATURE = (1, 2)


@dataclass
class Fold:
    """One split of the masks, with candidates ranked without the validation rows."""

    train: np.ndarray  # row indices
    val: np.ndarray
    candidates: Candidates  # columns on all masks


@dataclass
class SupportChoice:
    """The winning leading support size and penalty, and the pooled out-of-fold R^2 of every option."""

    r2: float  # pooled out-of-fold R^2 of the winner
    size: int  # leading candidate terms kept
    penalty: str  # "l1" (LASSO) or "l2" (ridge)
    alpha: float  # in the units of ``penalty`` (module docstring)
    scores: list = field(default_factory=list)  # (r2, (penalty, size, alpha)) for every option
    errors: dict = field(default_factory=dict, repr=False)  # option -> per-fold squared errors on the val rows


def select_support(X: np.ndarray, y: np.ndarray, folds: Sequence, alphas=ALPHAS, sizes=None,
                   penalties: Sequence[str] = PENALTIES) -> SupportChoice:
    """Choose the leading candidate terms and the refit's penalty by pooled out-of-fold error.

    Each fold is a :class:`Fold`, or a tuple ``(train rows, validation rows, candidate terms ranked
    without the validation rows)`` whose design is then built on ``X``. ``penalties`` limits the
    search to ``"l1"`` and/or ``"l2"``; ``sizes`` to the given support sizes.
    """
    folds = [f if isinstance(f, Fold) else Fold(f[0], f[1], Candidates.on(f[2], X)) for f in folds]
    n_low = int(np.sum(folds[0].candidates.terms.degrees == 1))
    longest = min(len(f.candidates) for f in folds)
    total = min(longest, min(len(f.train) for f in folds))  # ridge's nested supports: no more terms than rows
    if sizes is None:
        sizes = {min(n_low, total), total} | {n_low + int(round(k)) for k in np.geomspace(1, max(total - n_low, 1), 10)}
    sizes = sorted(s for s in set(sizes) if 1 <= s <= total) or [total]
    # LASSO paths are not capped by the rows: with fewer masks than features, every first-order term competes
    # (capped at the train rows, a 297-mask fit of a 290-word review lost some words: held-out R² 0.19, now 0.54)
    l1_sizes = sorted({min(longest, k * max(n_low, 1)) for k in L1_TERMS_PER_FEATURE})
    width = max(total, max(l1_sizes))
    l1_alphas = None
    errors: dict[tuple, list[np.ndarray]] = {}
    for fold in folds:
        A, B = fold.candidates.design(fold.train, width), fold.candidates.design(fold.val, width)
        mean = A.mean(axis=0)
        A -= mean
        B -= mean
        y_train = y[fold.train]
        if l1_alphas is None:  # one LASSO grid for all folds, from the first
            l1_max = np.max(np.abs(A[:, :max(l1_sizes)].T @ (y_train - y_train.mean()))) / len(y_train)
            l1_alphas = np.geomspace(l1_max, l1_max * 1e-3, 12) if l1_max > 0 else np.array([1e-8])
        for key, pred in fold_predictions(A, B, y_train, sizes, alphas, l1_sizes, l1_alphas, penalties):
            errors.setdefault(key, []).append((y[fold.val] - pred) ** 2)
    total_ss = sum(float(np.sum((y[f.val] - y[f.val].mean()) ** 2)) for f in folds)
    floor = rounding_floor(y)
    errors = {key: rows for key, rows in errors.items() if len(rows) == len(folds)}
    scores = [(r2_from_sums(sum(float(np.sum(e)) for e in rows), total_ss, floor), key) for key, rows in errors.items()]
    r2, (penalty, size, alpha) = max(scores, key=lambda s: (s[0], -s[1][1]))
    return SupportChoice(r2=float(r2), size=size, penalty=penalty, alpha=alpha, scores=scores, errors=errors)


def fold_predictions(A, B, y_train, sizes, alphas, l1_sizes, l1_alphas, penalties=PENALTIES):
    """Validation predictions of every (penalty, size, alpha) candidate fitted on one fold.

    ``A`` and ``B`` are the train and validation designs, centred by the train means; ``sizes``
    are the ridge supports, ``l1_sizes`` the LASSO paths' (an int or a list).
    """
    y_mean = y_train.mean()
    gram, moment = A.T @ A, A.T @ (y_train - y_mean)
    l1_sizes = [l1_sizes] if np.ndim(l1_sizes) == 0 else l1_sizes
    for l1_size in l1_sizes if "l1" in penalties else []:
        with warnings.catch_warnings():  # weak penalties may stop short of convergence; CV judges them anyway
            warnings.simplefilter("ignore", ConvergenceWarning)
            _, l1_coefs, _ = lasso_path(A[:, :l1_size], y_train - y_mean, alphas=l1_alphas, copy_X=False,
                                        precompute=gram[:l1_size, :l1_size].copy(), Xy=moment[:l1_size])
        for alpha, beta in zip(l1_alphas, l1_coefs.T):
            yield ("l1", l1_size, float(alpha)), y_mean + B[:, :l1_size] @ beta
    if "l2" not in penalties:
        return
    gram = gram[: max(sizes), : max(sizes)]  # the ridge supports may be shorter than the LASSO paths
    scale = np.trace(gram) / len(gram)
    diagonal = np.diag_indices(len(gram))
    base_diagonal = gram[diagonal].copy()
    for alpha in alphas:
        gram[diagonal] = base_diagonal + alpha * scale
        chol = scipy.linalg.cholesky(gram, lower=True, check_finite=False)
        # the forward solve of a leading block is the head of the full one: one serves every size
        forward = scipy.linalg.solve_triangular(chol, moment[: len(gram)], lower=True, check_finite=False)
        for size in sizes:
            beta = scipy.linalg.solve_triangular(chol[:size, :size], forward[:size], lower=True, trans="T",
                                                 check_finite=False)
            yield ("l2", size, float(alpha)), y_mean + B[:, :size] @ beta


def refit(support: Spectrum, X: np.ndarray, y: np.ndarray, alpha: float, penalty: str = "l2") -> Spectrum:
    """Ridge (``l2``) or LASSO (``l1``) refit of the non-constant terms of ``support`` on all masks.

    The constant term is the unpenalised intercept; ``alpha`` is in the units of ``penalty``
    (module docstring).
    """
    terms = support.select(support.degrees > 0)
    return refit_columns(terms, terms.design_matrix(X), y, alpha, penalty)[0]


def refit_candidates(candidates: Candidates, choice: SupportChoice, y: np.ndarray,
                     rows: np.ndarray | None = None) -> tuple[Spectrum, np.ndarray]:
    """The refit of the chosen leading candidates on ``rows`` (all masks for None), and its fitted values."""
    design = candidates.design(rows, choice.size)
    return refit_columns(candidates.leading(choice.size), design, y if rows is None else y[rows], choice.alpha,
                         choice.penalty)


def refit_columns(terms: Spectrum, A: np.ndarray, y: np.ndarray, alpha: float,
                  penalty: str) -> tuple[Spectrum, np.ndarray]:
    """Refit on the design ``A`` of the non-constant ``terms`` (overwritten: centred); the model and its fit."""
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
    rows = sp.vstack([sp.csr_matrix((1, terms.n), dtype=bool), terms.support], format="csr")  # the constant first
    model = Spectrum(terms.n, rows, np.concatenate([[y.mean() - mean @ beta], beta]))
    return model, y.mean() + A @ beta
