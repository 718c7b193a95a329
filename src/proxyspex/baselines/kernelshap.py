"""KernelSHAP through ``shap.KernelExplainer``, returned as an additive :class:`Explanation`.

A game is shown to shap as a model of its own mask: the background is one all-zeros row
(the empty mask) and the explained instance is the all-ones row (the full mask). shap builds
each coalition z as "instance where z = 1, background where z = 0", which is the mask z
itself, so every coalition shap evaluates is exactly one of our masks.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_choice, check_int
from ..explainer import Explainer
from ..explanation import Explanation
from ..masks import default_budget
from ..metrics import r2_score
from ..spectrum import Spectrum
from .peers import RecordedQueries, check_random_state, import_optional, seeded_global_numpy

SHAP_ANCHORS = 2  # shap evaluates the empty and the full mask besides its nsamples coalitions


class KernelSHAP(Explainer):
    """Shapley values by KernelSHAP (Lundberg and Lee 2017), computed by shap's KernelExplainer.

    The result's spectrum is the additive surrogate g(x) = φ_0 + Σ_i φ_i x_i with φ_0 = f(∅),
    so ``.index("shapley")`` returns shap's values and g is exact on the empty and full masks.

    Parameters
    ----------
    budget : distinct masks to query (default ``n log2 n``). shap always evaluates the empty
        and full masks besides its ``nsamples`` coalitions, so ``nsamples = budget - 2``. For
        n <= 30 shap caps nsamples at 2^n - 2: it then enumerates every coalition and the
        values are the exact Shapley values.
    l1_reg : shap's feature selection before the regression. ``False`` (default) is plain
        KernelSHAP; shap's own default since 0.47, ``"num_features(10)"``, keeps 10 features.
    random_state : seeds numpy's global generator, which shap samples from, for the duration
        of the call; the caller's global state is restored afterwards.
    backend : ``"shap"``, the only implementation.
    cache, batch_size, progress : as for :class:`~proxyspex.ProxySPEX`.

    ``faithfulness`` is ``nan``: there are no held-out masks (use
    :func:`proxyspex.evaluate.faithfulness`). ``details["train_r2"]`` is g's R^2 on the masks
    shap queried, which lean towards very small and very large coalitions.
    """

    def __init__(self, *, budget: int | None = None, l1_reg: str | float | bool = False,
                 random_state: int | None = None, backend: str = "shap", cache=None,
                 batch_size: int | None = None, progress: bool | None = None):
        self.budget = budget
        self.l1_reg = l1_reg
        self.random_state = random_state
        self.backend = backend
        self.cache = cache
        self.batch_size = batch_size
        self.progress = progress

    def check_params(self, n: int) -> None:
        check_choice("backend", self.backend, ("shap",))
        if self.budget is not None:
            check_int("budget", self.budget, what="an integer number of masks")
            if self.budget < SHAP_ANCHORS + 1:
                raise ValueError(f"budget={self.budget} is too small: shap needs the empty and full masks plus "
                                 f"at least one coalition, so budget >= {SHAP_ANCHORS + 1}")
        check_random_state(self.random_state)
        import_optional("shap")  # before any cache is opened

    def explain_queries(self, queries, feature_names: list[str]) -> Explanation:
        """Run shap's KernelExplainer on the game's masks and return the additive :class:`Explanation`."""
        n = len(feature_names)
        budget = default_budget(n) if self.budget is None else self.budget
        shap = import_optional("shap")
        queries = RecordedQueries(queries)

        def model(Z: np.ndarray) -> np.ndarray:
            return queries(np.asarray(Z) > 0.5)

        with seeded_global_numpy(self.random_state):
            explainer = shap.KernelExplainer(model, np.zeros((1, n)))
            phi = explainer.shap_values(np.ones((1, n)), nsamples=budget - SHAP_ANCHORS, l1_reg=self.l1_reg,
                                        silent=True)
        phi = np.asarray(phi, dtype=float).reshape(n)
        base = float(np.asarray(explainer.expected_value, dtype=float).reshape(-1)[0])
        moebius = {(): base, **{(i,): float(phi[i]) for i in range(n)}}
        spectrum = Spectrum.from_dict(n, moebius, basis="moebius").to_fourier()
        X, y = queries.distinct()
        details = {"method": "kernelshap", "backend": self.backend, "nsamples": budget - SHAP_ANCHORS,
                   "l1_reg": self.l1_reg, "train_r2": r2_score(y, spectrum.predict(X))}
        return Explanation(spectrum, feature_names, float("nan"), len(X), queries.queries.n_paid, details)
