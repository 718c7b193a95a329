"""LASSO: the marginal (first-order) baseline of the ProxySPEX paper."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.linear_model import LassoCV
from sklearn.model_selection import KFold

from ..estimator import _anchors, _seed, check_budget, resolve_game
from ..explanation import Explanation
from ..masks import default_budget, sample_masks
from ..metrics import r2_from_sums, rounding_floor
from ..query import Queries
from ..spectrum import Spectrum


class Lasso:
    """First-order surrogate f(x) ≈ F(∅) + Σ_i F({i}) (-1)^{x_i}, fitted by cross-validated LASSO.

    The masks are coded ±1 (the Fourier basis), so the coefficients are first-order Fourier
    terms directly. Same estimator shape and result type as :class:`~proxyspex.ProxySPEX`.

    Parameters
    ----------
    budget : distinct uniform masks to query (default ``n log2 n``).
    cv : folds for choosing the penalty; the pooled out-of-fold R^2 is the reported faithfulness.
    random_state, cache, batch_size, progress : as for :class:`~proxyspex.ProxySPEX`.
    """

    def __init__(self, *, budget: int | None = None, cv: int = 5, random_state: int | None = None,
                 cache=None, batch_size: int | None = None, progress: bool | None = None):
        self.budget = budget
        self.cv = cv
        self.random_state = random_state
        self.cache = cache
        self.batch_size = batch_size
        self.progress = progress

    def explain(self, game, *, n: int | None = None, feature_names: Sequence[str] | None = None,
                cache_key: str | None = None) -> Explanation:
        """Query ``game`` on uniform masks and fit the first-order LASSO surrogate."""
        value_function, n, names, key = resolve_game(game, n, feature_names, cache_key)
        budget = default_budget(n) if self.budget is None else self.budget
        check_budget("budget", budget, n)
        rng = np.random.default_rng(self.random_state)
        X = _anchors(n)[: min(2, budget)]
        X = np.vstack([X, sample_masks(n, min(budget, 2 ** min(n, 62)) - len(X), rng, exclude=X)])
        queries = Queries(value_function, n, key=key, cache=self.cache, batch_size=self.batch_size,
                          progress=self.progress)
        spectrum, r2 = fit_first_order(X, queries(X), cv=self.cv, random_state=_seed(rng))
        return Explanation(spectrum, names, r2, len(X), queries.n_paid, {"method": "lasso"})


def fit_first_order(X: np.ndarray, y: np.ndarray, *, cv: int = 5, random_state: int = 0) -> tuple[Spectrum, float]:
    """Cross-validated LASSO on ±1-coded masks: the first-order Fourier spectrum and its out-of-fold R^2."""
    n = X.shape[1]
    Z = 1.0 - 2.0 * X
    folds = KFold(min(cv, len(y)), shuffle=True, random_state=random_state)
    model = LassoCV(cv=folds, alphas=30, max_iter=5000, random_state=random_state).fit(Z, y)
    mse = model.mse_path_.mean(axis=1)[list(model.alphas_).index(model.alpha_)]
    variance = float(np.var(y))
    r2 = r2_from_sums(mse, variance, rounding_floor(y) / len(y))  # per-mask means: the floor per mask
    terms = {(i,): float(c) for i, c in enumerate(model.coef_)}
    terms[()] = float(model.intercept_)
    return Spectrum.from_dict(n, terms), float(r2)
