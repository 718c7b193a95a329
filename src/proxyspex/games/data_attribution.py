"""Data attribution: which training examples help one test prediction together, or get in each other's way.

A feature is a training example (or a group of them). The value of a mask is the trained model's
margin for the true class of one test point, after retraining on the kept examples only:

    v(S) = score_true(x_test) - max_{c != true} score_c(x_test),   model trained on S

A positive second-order Moebius value m({i, j}) = v(ij) - v(i) - v(j) + v(∅) means the pair is
synergistic; a negative one means it is redundant (near-duplicates are). Moebius values describe
the pair on top of nothing else; the Banzhaf interaction (``index="bii"``) averages the same
difference over all subsets of the other examples, the random half-subsets the proxy is fit on.
The proxy estimates the latter more closely (BENCHMARKS.md, "Data attribution").
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp
from threadpoolctl import threadpool_limits

from .base import Game, check_feature_names

Scores = Callable[[np.ndarray], np.ndarray]
"""A fitted model: ``(m, d)`` inputs -> ``(m, n_classes)`` finite class scores."""
Trainer = Callable[[np.ndarray, np.ndarray, int], Scores]
"""``train(X, y, n_classes) -> scores``; ``y`` holds class codes 0..n_classes-1 and may miss some."""

EMPTY_VALUE = 0.0


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


class DataAttribution(Game):
    """Retrain on subsets of the training data; the value is one test point's true-class margin.

    Parameters
    ----------
    X_train, y_train : the training pool, ``(n_train, d)`` and ``(n_train,)`` labels.
    x_test, y_test : one test input ``(d,)`` and its true label (one of ``y_train``'s labels).
    groups : ``None`` (each example is a feature) or one group label per example; then each
        distinct group (in sorted order) is a feature, kept or removed as a whole.
    train : ``train(X, y, n_classes) -> scores`` (see :data:`Trainer`); default
        :class:`SoftmaxRegression`. Labels are passed as codes 0..K-1 of the sorted labels.
    feature_names : one name per feature; default ``"#i (y=label)"`` or ``"group g"``.

    Nothing here is random (the default trainer is deterministic), so there is no
    ``random_state``; :meth:`digits` takes one to draw its pool.

    Degenerate subsets: the empty subset (no example kept) is never trained on; its value is
    0.0, the margin of a model with no preference, which is also what the default trainer learns
    from no data. Subsets that miss classes (the true one included) are trained on like any other;
    the trainer must give finite scores for every class (both shipped trainers do), and a
    non-finite or misshapen output raises ``ValueError``.
    """

    batch_size = 64  # retrainings between cache writes

    def __init__(self, X_train, y_train, x_test, y_test, *, groups: Sequence | None = None,
                 train: Trainer | None = None, feature_names: Sequence[str] | None = None):
        X_train = np.asarray(X_train, dtype=float)
        y_train = np.asarray(y_train)
        x_test = np.asarray(x_test, dtype=float)
        y_test = y_test.item() if isinstance(y_test, np.generic) else y_test
        if X_train.ndim != 2 or len(X_train) == 0:
            raise ValueError(f"X_train must be a non-empty 2-D array, got shape {X_train.shape}")
        if y_train.shape != (len(X_train),):
            raise ValueError(f"y_train must have shape ({len(X_train)},), got {y_train.shape}")
        if x_test.shape != (X_train.shape[1],):
            raise ValueError(f"x_test must have shape ({X_train.shape[1]},) (one input), got {x_test.shape}")
        if not (np.isfinite(X_train).all() and np.isfinite(x_test).all()):
            raise ValueError("X_train and x_test must be finite")
        self.classes = np.unique(y_train)
        if len(self.classes) < 2:
            raise ValueError(f"y_train must hold at least 2 classes, got {self.classes.tolist()}")
        if y_test not in set(self.classes.tolist()):
            raise ValueError(f"y_test={y_test!r} is not one of y_train's labels {self.classes.tolist()}")
        if train is not None and not callable(train):
            hint = "; wrap a scikit-learn classifier as SklearnTrainer(estimator)" if hasattr(train, "fit") else ""
            raise TypeError(f"train must be callable as train(X, y, n_classes), got {type(train).__name__}{hint}")
        self.X_train, self.y_train, self.x_test, self.y_test = X_train, y_train, x_test, y_test
        self.codes = np.searchsorted(self.classes, y_train)
        self.true_code = int(np.searchsorted(self.classes, y_test))
        self.train = train if train is not None else SoftmaxRegression()
        self.groups, self.group_labels = _group_index(groups, len(X_train))
        n = len(X_train) if self.groups is None else len(self.group_labels)
        names = self._default_names() if feature_names is None else feature_names
        self.feature_names = check_feature_names(names, n)
        self.planted: list[tuple[int, int]] = []  # feature pairs planted as near-duplicates (digits)

    @classmethod
    def digits(cls, n_train: int = 32, *, test_index: int = 0, near_duplicates: int = 0, noise: float = 0.02,
               train: Trainer | None = None, random_state: int | None = 0) -> DataAttribution:
        """The default workflow on scikit-learn's bundled ``load_digits`` (8x8 images, offline).

        The test point is image ``test_index``; the pool is ``n_train`` other images drawn by
        ``random_state``, pixels scaled to [0, 1]. ``near_duplicates`` of the pool's images of the
        test point's class are replaced by a copy of another such image plus Gaussian pixel
        noise of std ``noise`` (clipped to [0, 1]): planted redundancy, named ``"copy of #k"``.
        The game also carries ``planted`` (feature pairs), ``pool`` (indices into ``load_digits``),
        ``test_index``, ``images`` (the pool as 8x8 arrays) and ``test_image``, for reports.
        """
        from sklearn.datasets import load_digits
        data = load_digits()
        images, labels = data.data / 16.0, data.target
        if not 0 <= test_index < len(images):
            raise ValueError(f"test_index must be in [0, {len(images)}), got {test_index}")
        if not 2 <= n_train < len(images):
            raise ValueError(f"n_train must be in [2, {len(images)}), got {n_train}")
        rng = np.random.default_rng(random_state)
        others = np.delete(np.arange(len(images)), test_index)
        pool = rng.choice(others, size=n_train, replace=False)
        X, y = images[pool].copy(), labels[pool].copy()
        names = [f"#{k} ({label})" for k, label in zip(pool, y)]
        planted = []
        same = rng.permutation(np.flatnonzero(y == labels[test_index]))
        if near_duplicates > len(same) // 2:
            raise ValueError(f"near_duplicates={near_duplicates}, but the pool has only {len(same)} images of "
                             f"the test class {labels[test_index]}; use a larger n_train or another seed")
        for original, copy in zip(same[:near_duplicates], same[near_duplicates:2 * near_duplicates]):
            X[copy] = np.clip(X[original] + rng.normal(scale=noise, size=X.shape[1]), 0.0, 1.0)
            y[copy] = y[original]
            names[copy] = f"copy of #{pool[original]} ({y[original]})"
            planted.append((int(min(original, copy)), int(max(original, copy))))
        game = cls(X, y, images[test_index], labels[test_index], train=train, feature_names=names)
        game.planted = planted
        game.pool, game.test_index = pool, test_index
        game.images = X.reshape(-1, 8, 8)
        game.test_image = images[test_index].reshape(8, 8)
        return game

    def value(self, masks: np.ndarray) -> np.ndarray:
        masks = np.atleast_2d(np.asarray(masks, dtype=bool))
        if masks.shape[1] != self.n:
            raise ValueError(f"masks must have {self.n} columns, got shape {masks.shape}")
        # The matrices are tiny: BLAS threads only add contention (15x slower on a busy 2-core machine).
        with threadpool_limits(limits=1, user_api="blas"):
            return np.array([self._margin(self._kept(mask)) for mask in masks])

    def margin_of(self, kept: Sequence[int] | np.ndarray) -> float:
        """The value of one subset of features given by index (convenience for checks)."""
        mask = np.zeros(self.n, dtype=bool)
        mask[np.asarray(kept, dtype=int)] = True
        return float(self.value(mask[None])[0])

    def _kept(self, mask: np.ndarray) -> np.ndarray:
        if self.groups is None:
            return np.flatnonzero(mask)
        return np.flatnonzero(mask[self.groups])

    def _margin(self, rows: np.ndarray) -> float:
        if len(rows) == 0:
            return EMPTY_VALUE
        n_classes = len(self.classes)
        scores = np.asarray(self.train(self.X_train[rows], self.codes[rows], n_classes)(self.x_test[None]),
                            dtype=float)
        if scores.shape != (1, n_classes):
            raise ValueError(f"the trained model returned scores of shape {scores.shape}; expected (1, {n_classes})")
        if not np.isfinite(scores).all():
            raise ValueError(f"the trained model returned non-finite scores {scores[0].tolist()} after training "
                             f"on {len(rows)} examples; the trainer must score every class finitely")
        others = np.delete(scores[0], self.true_code)
        return float(scores[0, self.true_code] - others.max())

    def _default_names(self) -> list[str]:
        if self.groups is None:
            return [f"#{i} (y={label})" for i, label in enumerate(self.y_train)]
        return [f"group {g}" for g in self.group_labels]

    def fingerprint_data(self) -> dict[str, Any]:
        digest = hashlib.sha256()
        for array in (self.X_train, self.y_train.astype(str), self.x_test, np.asarray([str(self.y_test)])):
            digest.update(np.ascontiguousarray(array).tobytes())
            digest.update(str(array.shape).encode())
        if self.groups is not None:
            digest.update(self.groups.tobytes())
        return {"data": digest.hexdigest(), "train": trainer_fingerprint(self.train), "empty_value": EMPTY_VALUE}

    def pairs(self, explanation, k: int = 5, index: str = "moebius") -> tuple[list[Pair], list[Pair]]:
        """``(synergistic, redundant)``: see :func:`top_pairs`."""
        return top_pairs(explanation, k, index=index)

    def __repr__(self) -> str:
        return f"DataAttribution(n={self.n}, n_train={len(self.X_train)}, y_test={self.y_test!r})"

    @property
    def title(self) -> str:
        return f"Data attribution: {self.n} training features, test label {self.y_test!r}"


class Pair(NamedTuple):
    """One second-order interaction between features ``i`` and ``j``."""
    i: int
    j: int
    names: tuple[str, str]
    value: float


def top_pairs(explanation, k: int = 5, index: str = "moebius") -> tuple[list[Pair], list[Pair]]:
    """The ``k`` most synergistic (largest positive) and ``k`` most redundant (most negative) pairs.

    Values are the order-2 values of ``index`` in ``explanation``: by default Moebius
    coefficients, the pair's interaction on top of nothing else; ``"bii"`` averages it over all
    subsets of the others, which is where the proxy's random masks were drawn (BENCHMARKS.md shows
    the difference on digits). Pairs of the wrong sign, or zero up to round-off (1e-9 of the largest
    pair), are left out, so a list can be shorter than ``k``.
    """
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    pairs = [Pair(t[0], t[1], explanation.names(t), v)
             for t, v in explanation.values(index, order=2).to_dict().items() if len(t) == 2]
    tol = 1e-9 * max((abs(p.value) for p in pairs), default=0.0)
    synergistic = sorted((p for p in pairs if p.value > tol), key=lambda p: -p.value)[:k]
    redundant = sorted((p for p in pairs if p.value < -tol), key=lambda p: p.value)[:k]
    return synergistic, redundant


def format_pairs(explanation, k: int = 5, index: str = "moebius") -> str:
    """The top synergistic and redundant pairs as plain text."""
    synergistic, redundant = top_pairs(explanation, k, index=index)
    lines = []
    for title, pairs in (("synergistic pairs (help together):", synergistic),
                         ("redundant pairs (get in each other's way):", redundant)):
        lines.append(title)
        lines += [f"  {p.value:+.4f}  {p.names[0]} × {p.names[1]}" for p in pairs] or ["  (none)"]
    return "\n".join(lines)


def trainer_fingerprint(train) -> Any:
    """What identifies a trainer: its ``fingerprint_data()``, else its name and code."""
    if hasattr(train, "fingerprint_data"):
        return train.fingerprint_data()
    name = f"{getattr(train, '__module__', '?')}.{getattr(train, '__qualname__', type(train).__qualname__)}"
    code = getattr(train, "__code__", None)
    if code is None:
        return {"name": name, "repr": repr(train)}
    try:
        source = inspect.getsource(train)
    except (OSError, TypeError):
        source = repr(code.co_code) + repr(code.co_consts)
    defaults = repr(getattr(train, "__defaults__", None))
    return {"name": name, "code": hashlib.sha256((source + defaults).encode()).hexdigest()}


def _group_index(groups, n_train: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Each example's feature index and the sorted group labels (both None without groups)."""
    if groups is None:
        return None, None
    labels = np.asarray(groups)
    if labels.shape != (n_train,):
        raise ValueError(f"groups must give one label per training example, shape ({n_train},); got {labels.shape}")
    unique, index = np.unique(labels, return_inverse=True)
    return index.astype(np.int64), unique


def _with_intercept(X: np.ndarray) -> np.ndarray:
    return np.hstack([X, np.ones((len(X), 1))])
