"""LASSO: the marginal (first-order) baseline of the ProxySPEX paper."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LassoCV
from sklearn.model_selection import KFold

from .._validation import check_int
from ..explainer import Explainer, anchor_masks, check_budget, check_seed, draw_seed
from ..explanation import Explanation
from ..masks import default_budget, sample_masks
from ..spectrum import Spectrum


class Lasso(Explainer):
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

    def check_params(self, n: int) -> None:
        if self.budget is not None:
            check_budget("budget", self.budget, n)
        check_int("cv", self.cv, min_value=2)
        check_seed(self.random_state)

    def explain_queries(self, queries, feature_names: list[str]) -> Explanation:
        """Query uniform masks (the anchors first) and fit the first-order LASSO surrogate."""
        n = len(feature_names)
        budget = default_budget(n) if self.budget is None else self.budget
        rng = np.random.default_rng(self.random_state)
        X = anchor_masks(n)[: min(2, budget)]
        X = np.vstack([X, sample_masks(n, min(budget, 2 ** min(n, 62)) - len(X), rng, exclude=X)])
        spectrum, r2 = fit_first_order(X, queries(X), cv=self.cv, random_state=draw_seed(rng))
        return Explanation(spectrum, feature_names, r2, len(X), queries.n_paid, {"method": "lasso"})


def fit_first_order(X: np.ndarray, y: np.ndarray, *, cv: int = 5, random_state: int = 0) -> tuple[Spectrum, float]:
    """Cross-validated LASSO on ±1-coded masks: the first-order Fourier spectrum and its out-of-fold R^2."""
    n = X.shape[1]
    Z = 1.0 - 2.0 * X
    folds = KFold(min(cv, len(y)), shuffle=True, random_state=random_state)
    model = LassoCV(cv=folds, alphas=30, max_iter=5000, random_state=random_state).fit(Z, y)
    mse = model.mse_path_.mean(axis=1)[list(model.alphas_).index(model.alpha_)]
    variance = float(np.var(y))
    r2 = 1.0 - mse / variance if variance > 0 else 1.0
    terms = {(i,): float(c) for i, c in enumerate(model.coef_)}
    terms[()] = float(model.intercept_)
    return Spectrum.from_dict(n, terms), float(r2)
