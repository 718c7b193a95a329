"""Games, methods and plotting shared by the seed experiments.

Every model output goes through the query cache (``--cache``, default the per-user one), so a
rerun, or a later experiment on the same game, pays only for masks never seen before.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from proxyspex.baselines import fit_first_order
from proxyspex.estimator import resolve_game
from proxyspex.explanation import Explanation
from proxyspex.games import SyntheticGame
from proxyspex.masks import MAX_EXACT_N, sample_masks
from proxyspex.metrics import r2_score
from proxyspex.proxy import fit_proxy
from proxyspex.query import Queries
from proxyspex.spectrum import Spectrum

FIGURES = Path(__file__).resolve().parents[1] / "figures"

#: Reviews with negation, contrast and intensifiers: where interactions live.
REVIEWS = (
    "Her acting never fails to impress.",
    "Not a single scene felt boring or too long.",
    "The plot was not bad, but the ending was not good either.",
    "I did not expect to love it, yet it won me over completely.",
)

#: A question whose answer needs two of the documents together, among distractors.
RAG_QUESTION = "In which city was the author of The Silent Harbor born?"
RAG_DOCUMENTS = (
    "The Silent Harbor is a novel written by Maria Kovacs.",
    "Maria Kovacs was born in the city of Lyon.",
    "The Silent Harbor won a regional prize for fiction.",
    "Lyon is known for its silk industry and its food.",
    "Another novel, The Loud River, was written by Peter Hale.",
    "Peter Hale was born in Dublin.",
    "Many harbors are silent at night.",
    "Maria Kovacs studied chemistry before writing.",
    "The city of Dublin hosts a book festival every spring.",
    "Novels about the sea were popular in the last century.",
    "Kovacs is a common surname in Hungary.",
    "The author moved to Paris after the book came out.",
)


@dataclass
class Bench:
    """One game with a cached query function, a pool of uniform masks and a held-out test set."""

    name: str
    game: object
    kind: str  # "synthetic" or "llm"
    cache: object = None
    queries: Queries = field(init=False)

    def __post_init__(self):
        value_function, n, _, key = resolve_game(self.game, None, None, None)
        self.n = n
        self.queries = Queries(value_function, n, key=key, cache=self.cache if key else False, progress=None)

    def pool(self, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """The first ``m`` of a fixed sequence of distinct uniform masks (anchors first), and f on them."""
        X = np.vstack([np.ones((1, self.n), bool), np.zeros((1, self.n), bool)])
        X = np.vstack([X, sample_masks(self.n, m - 2, np.random.default_rng(seed), exclude=X)])
        return X, self.queries(X)

    def test_set(self, m: int = 300, seed: int = 10_000) -> tuple[np.ndarray, np.ndarray]:
        X = sample_masks(self.n, min(m, 2 ** min(self.n, 30)), np.random.default_rng(seed))
        return X, self.queries(X)

    def r2(self, result, test=None) -> float:
        """Held-out R^2: exact by Parseval for synthetic games, else on the test masks."""
        if self.kind == "synthetic":
            return float(self.game.r2(result.spectrum))
        X, y = test if test is not None else self.test_set()
        return r2_score(y, result.predict(X))


def explanation(bench: Bench, spectrum, n_queries: int, faithfulness=float("nan"), **details) -> Explanation:
    return Explanation(spectrum, list(bench.game.feature_names), faithfulness, n_queries, 0, details)


def ours_on(bench: Bench, X, y, seed: int) -> Explanation:
    """ProxySPEX on these masks; exact (as ``px.explain`` is) when they are all 2^n masks."""
    start = time.perf_counter()
    if bench.n <= MAX_EXACT_N and len(X) == 2 ** bench.n:
        table = np.empty(len(X))
        table[X.astype(np.int64) @ (1 << np.arange(bench.n, dtype=np.int64))] = y
        return explanation(bench, Spectrum.from_table(table), len(X), 1.0, seconds=time.perf_counter() - start)
    fit = fit_proxy(X, y, random_state=seed)
    return explanation(bench, fit.spectrum, len(X), fit.faithfulness, seconds=time.perf_counter() - start)


def lasso_on(bench: Bench, X, y, seed: int) -> Explanation:
    start = time.perf_counter()
    spectrum, r2 = fit_first_order(X, y, random_state=seed)
    return explanation(bench, spectrum, len(X), r2, seconds=time.perf_counter() - start)


def spex_on(bench: Bench, budget: int, seed: int, max_order: int = 3) -> Explanation | None:
    """SPEX through the authors' package (extra ``bench``); None when it is not installed."""
    from proxyspex.baselines import SPEX
    try:
        return SPEX(budget=budget, max_order=max_order, random_state=seed, cache=bench.cache).explain(bench.game)
    except ModuleNotFoundError:
        return None


def kernelshap_on(bench: Bench, budget: int, seed: int) -> Explanation | None:
    """KernelSHAP through shap (extra ``bench``); None when it is not installed."""
    from proxyspex.baselines import KernelSHAP
    try:
        return KernelSHAP(budget=budget, random_state=seed, cache=bench.cache).explain(bench.game)
    except ModuleNotFoundError:
        return None


def synthetic_benches(sizes, seed: int = 0, noise: float = 0.0) -> list[Bench]:
    return [Bench(f"synthetic n={n}", SyntheticGame(n, noise=noise, random_state=seed + n), "synthetic", False)
            for n in sizes]


def llm_benches(n_reviews: int, n_documents: int, cache, model=None) -> list[Bench]:
    """Sentiment games on the first ``n_reviews`` REVIEWS and RAG on the first ``n_documents`` documents."""
    from proxyspex.games import RAG, Sentiment
    benches = [Bench(f"sentiment: {text}", Sentiment(text, model=model), "llm", cache)
               for text in REVIEWS[:n_reviews]]
    if n_documents:
        docs = list(RAG_DOCUMENTS[:n_documents])
        benches.append(Bench(f"rag: {n_documents} documents", RAG(RAG_QUESTION, docs, model=model), "llm", cache))
    return benches


def save_figure(fig, name: str) -> Path:
    FIGURES.mkdir(parents=True, exist_ok=True)
    path = FIGURES / name
    fig.savefig(path, dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt
    plt.close(fig)
    if path.stat().st_size > 200_000:
        raise RuntimeError(f"{path} is {path.stat().st_size} bytes, over the 200 KB limit")
    return path


def short(name: str, width: int = 34) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"
