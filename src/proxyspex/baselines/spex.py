"""SPEX (Kang et al. 2025) through the authors' ``spectralexplain`` package.

SPEX queries structured masks: for each of 3 random subsampling matrices M (n × b) and each
row d of a BCH-coded delay matrix, the 2^b masks M·l + d (mod 2) for l ∈ {0,1}^b. A BCH code
of length n correcting ``max_order`` errors with parity length p gives p + 1 delays, so SPEX
asks for ``3 (p + 1) 2^b`` masks. The authors' Explainer picks the largest b in [3, 12]
whose count fits the budget, and refuses budgets below the b = 3 count.

spectralexplain uses our conventions (checked by the tests): a query row x has x_i = 1 to
keep feature i, and its coefficients are F(k) = 2^-n Σ_x f(x) (-1)^{|x ∩ k|}.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_choice, check_int
from ..explainer import Explainer
from ..explanation import Explanation
from ..metrics import r2_score
from ..spectrum import Spectrum
from .peers import RecordedQueries, check_random_state, import_optional, seeded_global_numpy

MIN_SPARSITY_B, MAX_SPARSITY_B = 3, 12  # the range spectralexplain's Explainer chooses b from
DEFAULT_SPARSITY_B = 8  # the Explainer's b when no budget is given
SPEX_QUERY_ARGS = {"num_subsample": 3, "num_repeat": 1, "delays_method_source": "joint-coded",
                   "delays_method_channel": "identity-siso"}  # as in spectralexplain.sampling_strategy
DECODERS = ("soft", "hard")


class SPEX(Explainer):
    """Sparse Fourier interactions by SPEX's BCH-coded subsampling and peeling decoder.

    Parameters
    ----------
    budget : most masks SPEX may ask for; it uses the largest sparsity parameter b in [3, 12]
        whose count ``3 (p + 1) 2^b`` fits (:func:`spex_num_samples`). Below the b = 3 count
        (:func:`spex_min_budget`) it raises ``ValueError``. ``None`` uses the authors' b = 8.
    max_order : t, the most features in one interaction the BCH code can decode (the
        authors' default 5); a larger t means longer codes and a larger minimum budget.
    decoder : ``"soft"`` (the authors' default: Chase decoding, better recovery) or ``"hard"``.
    random_state : seeds numpy's global generator, which spectralexplain draws M from, for the
        duration of the call; the caller's global state is restored afterwards.
    cache, batch_size, progress : as for :class:`~proxyspex.ProxySPEX`.

    ``n_queries`` counts distinct masks (SPEX's structured masks repeat a few). ``faithfulness``
    is ``nan``: there are no held-out masks (use :func:`proxyspex.evaluate.faithfulness`);
    ``details["train_r2"]`` is the fit on SPEX's own masks.
    """

    def __init__(self, *, budget: int | None = None, max_order: int = 5, decoder: str = "soft",
                 random_state: int | None = None, cache=None, batch_size: int | None = None,
                 progress: bool | None = None):
        self.budget = budget
        self.max_order = max_order
        self.decoder = decoder
        self.random_state = random_state
        self.cache = cache
        self.batch_size = batch_size
        self.progress = progress

    def check_params(self, n: int) -> None:
        check_int("budget", self.budget, allow_none=True, what="None or an integer number of masks")
        check_int("max_order", self.max_order, min_value=1)
        check_choice("decoder", self.decoder, DECODERS)
        check_random_state(self.random_state)
        import_optional("spectralexplain")
        self._sparsity(n)  # a budget below SPEX's minimum fails here, before any cache is opened

    def explain_queries(self, queries, feature_names: list[str]) -> Explanation:
        """Query SPEX's structured masks and decode its sparse Fourier spectrum."""
        n = len(feature_names)
        spex = import_optional("spectralexplain")
        b = self._sparsity(n)
        queries = RecordedQueries(queries)
        with seeded_global_numpy(self.random_state), np.errstate(divide="ignore", invalid="ignore"):
            # the decoder divides by empty bins on purpose and discards the result
            signal, _ = spex.sampling_strategy(queries, b, b, n, sample_save_dir=None, t=self.max_order)
            coefficients = spex.support_recovery(self.decoder, signal, b, self.max_order)
        spectrum = fourier_from_spex(coefficients, n)
        X, y = queries.distinct()
        details = {"method": "spex", "budget": self.budget, "sparsity_b": b, "max_order": self.max_order,
                   "decoder": self.decoder, "samples_requested": spex_num_samples(n, b, self.max_order),
                   "min_budget": spex_min_budget(n, self.max_order), "train_r2": r2_score(y, spectrum.predict(X))}
        return Explanation(spectrum, feature_names, float("nan"), len(X), queries.queries.n_paid, details)

    def _sparsity(self, n: int) -> int:
        """The authors' rule: the largest b in [3, 12] whose sample count fits the budget."""
        if self.budget is None:
            return DEFAULT_SPARSITY_B
        needed = spex_min_budget(n, self.max_order)
        if self.budget < needed:
            raise ValueError(f"budget={self.budget} is below SPEX's minimum of {needed} masks for n={n} and "
                             f"max_order={self.max_order} (sparsity b={MIN_SPARSITY_B})")
        fits = [b for b in range(MIN_SPARSITY_B, MAX_SPARSITY_B + 1) if needed << (b - MIN_SPARSITY_B) <= self.budget]
        return fits[-1]  # the count doubles with each b


def spex_num_samples(n: int, b: int, max_order: int) -> int:
    """Masks SPEX asks for (repeats included) at sparsity ``b``: 3 (BCH parity length + 1) 2^b."""
    import_optional("spectralexplain")
    from sparse_transform.qsft.signals.input_signal_subsampled import SubsampledSignal

    return int(SubsampledSignal.get_number_of_samples(n, b, max_order, 2, SPEX_QUERY_ARGS))


def spex_min_budget(n: int, max_order: int = 5) -> int:
    """The smallest budget SPEX accepts for ``n`` features: its sample count at b = 3."""
    return spex_num_samples(n, MIN_SPARSITY_B, max_order)


def fourier_from_spex(coefficients: dict, n: int) -> Spectrum:
    """spectralexplain's ``{(k_0, ..., k_{n-1}): F(k)}`` (0/1 tuples) as a Fourier :class:`Spectrum`."""
    if not coefficients:
        return Spectrum.zero(n)
    support = np.array([np.asarray(k) for k in coefficients], dtype=bool).reshape(len(coefficients), n)
    values = np.real(np.array(list(coefficients.values()), dtype=complex))
    return Spectrum(n, support, values)
