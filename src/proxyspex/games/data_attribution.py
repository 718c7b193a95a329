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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from proxyspex.games.base import Game, check_feature_names
from proxyspex.games.fingerprints import plain
from proxyspex.games.trainers import Scores, SklearnTrainer, SoftmaxRegression, Trainer  # noqa: F401 (re-exported)

EMPTY_VALUE = 0.0


@dataclass(frozen=True)
class DigitsSample:
    """Where a :meth:`DataAttribution.digits` game came from, for reports."""

    pool: np.ndarray  # indices into ``load_digits`` of the training pool
    test_index: int
    images: np.ndarray  # the pool as 8x8 arrays (near-duplicates included)
    test_image: np.ndarray  # 8x8


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
        It is part of the cache key: an object by its ``fingerprint_data()``, a function or
        lambda by its code, defaults, closure values and the plain-data globals it reads. A
        captured value with no stable description (its repr holds a memory address) raises
        TypeError here; give it a ``fingerprint_data()`` method.
    feature_names : one name per feature; default ``"#i (y=label)"`` or ``"group g"``.
    planted, sample : set by :meth:`digits` (planted near-duplicate pairs, the digits source).

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
                 train: Trainer | None = None, feature_names: Sequence[str] | None = None,
                 planted: Sequence[tuple[int, int]] = (), sample: DigitsSample | None = None):
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
        self.train_identity = trainer_fingerprint(self.train)  # fails now, not after paying
        #: Feature pairs planted as near-duplicates (by :meth:`digits`), for checks and reports.
        self.planted: list[tuple[int, int]] = [(int(i), int(j)) for i, j in planted]
        self.sample = sample

    @property
    def pool(self) -> np.ndarray | None:
        """Indices into ``load_digits`` of the pool (:meth:`digits` games; else None)."""
        return None if self.sample is None else self.sample.pool

    @property
    def test_index(self) -> int | None:
        """The test image's index in ``load_digits`` (:meth:`digits` games; else None)."""
        return None if self.sample is None else self.sample.test_index

    @property
    def images(self) -> np.ndarray | None:
        """The pool as 8x8 arrays (:meth:`digits` games; else None)."""
        return None if self.sample is None else self.sample.images

    @property
    def test_image(self) -> np.ndarray | None:
        """The test image as an 8x8 array (:meth:`digits` games; else None)."""
        return None if self.sample is None else self.sample.test_image

    @classmethod
    def digits(cls, n_train: int = 32, *, test_index: int = 0, near_duplicates: int = 0, noise: float = 0.02,
               train: Trainer | None = None, random_state: int | None = 0) -> DataAttribution:
        """The default workflow on scikit-learn's bundled ``load_digits`` (8x8 images, offline).

        The test point is image ``test_index``; the pool is ``n_train`` other images drawn by
        ``random_state``, pixels scaled to [0, 1]. ``near_duplicates`` of the pool's images of the
        test point's class are replaced by a copy of another such image plus Gaussian pixel
        noise of std ``noise`` (clipped to [0, 1]): planted redundancy, named ``"copy of #k"``.
        The game also carries ``planted`` (feature pairs) and a :class:`DigitsSample` (``pool``,
        ``test_index``, ``images``, ``test_image``, also readable as properties), for reports.
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
        sample = DigitsSample(pool, test_index, X.reshape(-1, 8, 8), images[test_index].reshape(8, 8))
        return cls(X, y, images[test_index], labels[test_index], train=train, feature_names=names,
                   planted=planted, sample=sample)

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
        """A hash of the data and groups, the trainer's identity and the empty-subset value."""
        digest = hashlib.sha256()
        for array in (self.X_train, self.y_train.astype(str), self.x_test, np.asarray([str(self.y_test)])):
            digest.update(np.ascontiguousarray(array).tobytes())
            digest.update(str(array.shape).encode())
        if self.groups is not None:
            digest.update(self.groups.tobytes())
        return {"data": digest.hexdigest(), "train": self.train_identity, "empty_value": EMPTY_VALUE}

    def __repr__(self) -> str:
        return f"DataAttribution(n={self.n}, n_train={len(self.X_train)}, y_test={self.y_test!r})"

    @property
    def title(self) -> str:
        return f"Data attribution: {self.n} training features, test label {self.y_test!r}"


def trainer_fingerprint(train: Trainer) -> Any:
    """What identifies a trainer: its ``fingerprint_data()``, else (a function or lambda) its code,
    defaults, closure values and the plain-data globals it reads. TypeError, naming the fix, for a
    trainer with no stable description (see :func:`proxyspex.games.fingerprints.plain`)."""
    try:
        return plain(train)
    except TypeError as err:
        raise TypeError(f"train cannot be fingerprinted for the cache: {err}. Give the trainer a "
                        "fingerprint_data() method, or pass cache=False") from None


def _group_index(groups, n_train: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Each example's feature index and the sorted group labels (both None without groups)."""
    if groups is None:
        return None, None
    labels = np.asarray(groups)
    if labels.shape != (n_train,):
        raise ValueError(f"groups must give one label per training example, shape ({n_train},); got {labels.shape}")
    unique, index = np.unique(labels, return_inverse=True)
    return index.astype(np.int64), unique

