"""Trainers for :class:`~proxyspex.games.DataAttribution`: ``train(X, y, n_classes) -> scores``.

:class:`SoftmaxRegression` is the default; :class:`SklearnTrainer` adapts a scikit-learn classifier.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp

Scores = Callable[[np.ndarray], np.ndarray]
"""A fitted model: ``(m, d)`` inputs -> ``(m, n_classes)`` finite class scores."""
Trainer = Callable[[np.ndarray, np.ndarray, int], Scores]
"""``train(X, y, n_classes) -> scores``; ``y`` holds class codes 0..n_classes-1 and may miss some."""


@dataclass(frozen=True)
class SoftmaxRegression:
    """The default trainer: L2-penalised multinomial logistic regression over *all* classes.

    Minimises ``C * sum_i cross_entropy(x_i, y_i) + ||W||^2 / 2 + ||b||^2 / 2`` with L-BFGS from
    zero. The penalty covers the intercepts too, so the optimum is unique and finite for every
    subset: a class absent from the kept data is pulled down by the data but held finite by the
    penalty, and no data gives all-zero scores (margin 0). Scores are logits, so the margin is a
    log-odds.

    Why this and not scikit-learn's ``LogisticRegression`` or a small MLP (measured exactly on an
    8-image digits pool, all 2^8 subsets; BENCHMARKS.md, "Choice of the default trainer"): those
    know only the classes present in the kept data, so any rule for the missing ones (here a
    probability floor, :class:`SklearnTrainer`) puts cliffs of +-14 log-odds into the game, and
    the cliffs dominate the interactions (sklearn LR: values spanning 27.6, 69% of the variance
    above order 1; the MLP alike and about 30x slower). This model is smooth and convex in the
    data, a few ms a fit, and still far from additive (values spanning 5.7, 37% of the variance
    above order 1); a planted near-duplicate is its most redundant pair.
    """

    C: float = 1.0
    max_iter: int = 500
    tol: float = 1e-8

    def __post_init__(self):
        if not self.C > 0:
            raise ValueError(f"C must be > 0, got {self.C!r}")
        if int(self.max_iter) < 1:
            raise ValueError(f"max_iter must be >= 1, got {self.max_iter!r}")

    def __call__(self, X: np.ndarray, y: np.ndarray, n_classes: int) -> Scores:
        Xb = _with_intercept(np.asarray(X, dtype=float))
        Y = np.eye(n_classes)[np.asarray(y, dtype=int)]
        shape = (Xb.shape[1], n_classes)

        def loss_and_grad(w: np.ndarray) -> tuple[float, np.ndarray]:
            W = w.reshape(shape)
            Z = Xb @ W
            lse = logsumexp(Z, axis=1)
            loss = self.C * float(lse.sum() - (Z * Y).sum()) + 0.5 * float(w @ w)
            grad = self.C * Xb.T @ (np.exp(Z - lse[:, None]) - Y) + W
            return loss, grad.ravel()

        result = minimize(loss_and_grad, np.zeros(shape[0] * shape[1]), jac=True, method="L-BFGS-B",
                          options={"maxiter": int(self.max_iter), "gtol": self.tol})
        W = result.x.reshape(shape)
        return lambda X_eval: _with_intercept(np.atleast_2d(np.asarray(X_eval, dtype=float))) @ W

    def fingerprint_data(self) -> dict[str, Any]:
        return {"trainer": "SoftmaxRegression/1", **asdict(self)}


class SklearnTrainer:
    """Adapt a scikit-learn classifier: clone, fit on the kept data, score by log-probability.

    Such a model knows only the classes it saw. A class missing from the kept data gets
    probability 0, floored at ``floor`` (so its log score is ``log(floor)``); a subset with one
    class gives that class probability 1. Both keep the value finite, but they are cliffs: prefer
    :class:`SoftmaxRegression` unless the model class itself is the question.
    """

    def __init__(self, estimator, floor: float = 1e-6):
        if not (hasattr(estimator, "fit") and hasattr(estimator, "predict_proba")):
            raise TypeError(f"estimator must have fit and predict_proba, got {type(estimator).__name__}")
        if not 0 < floor < 1:
            raise ValueError(f"floor must be in (0, 1), got {floor!r}")
        self.estimator = estimator
        self.floor = float(floor)

    def __call__(self, X: np.ndarray, y: np.ndarray, n_classes: int) -> Scores:
        from sklearn.base import clone
        present = np.unique(y)
        model = clone(self.estimator).fit(X, y) if len(present) > 1 else None

        def scores(X_eval: np.ndarray) -> np.ndarray:
            X_eval = np.atleast_2d(X_eval)
            proba = np.zeros((len(X_eval), n_classes))
            if model is None:
                proba[:, present[0]] = 1.0
            else:
                proba[:, model.classes_] = model.predict_proba(X_eval)
            return np.log(np.maximum(proba, self.floor))
        return scores

    def fingerprint_data(self) -> dict[str, Any]:
        return {"trainer": "SklearnTrainer/1", "estimator": type(self.estimator).__qualname__,
                "params": self.estimator.get_params(deep=True), "floor": self.floor}

    def __repr__(self) -> str:
        return f"SklearnTrainer({self.estimator!r}, floor={self.floor})"


def _with_intercept(X: np.ndarray) -> np.ndarray:
    return np.hstack([X, np.ones((len(X), 1))])
