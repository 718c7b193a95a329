"""The long inputs of issue 11 as games, their held-out masks, and the offline datasets.

The inputs live in ``benchmarks/inputs/long/`` (reviews.json, qa.json), written for this
repository. Every model output goes through one SQLite query cache under
``benchmarks/results/`` (gitignored), so a rerun pays only for masks never seen before.

    python benchmarks/long_games.py --datasets review_80,qa_48   # writes results/long_<name>.npz
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from proxyspex.cache import QueryCache
from proxyspex.games.rag import RAG
from proxyspex.games.sentiment import Sentiment
from proxyspex.masks import default_budget, sample_masks
from proxyspex.query import Queries

HERE = Path(__file__).resolve().parent
INPUTS = HERE / "inputs" / "long"
RESULTS = HERE / "results"
CACHE = RESULTS / "long_cache.sqlite"
TEST_SEED = 1_000_003  # the held-out masks' seed: never a training seed
N_TEST = 1000


def load_inputs() -> dict[str, dict]:
    """Every shipped input by name: ``{"kind": "review", "text": ...}`` or ``{"kind": "qa", ...}``."""
    reviews = json.loads((INPUTS / "reviews.json").read_text())["reviews"]
    contexts = json.loads((INPUTS / "qa.json").read_text())["contexts"]
    found = {r["name"]: {"kind": "review", **r} for r in reviews}
    found.update({c["name"]: {"kind": "qa", **c} for c in contexts})
    return found


def make_game(name: str, lm, *, masking: str = "remove", placeholder: str = "[UNK]", scale: str = "margin"):
    """The game of one input: Sentiment over words (reviews) or RAG over documents (QA contexts).

    ``scale`` (reviews only): ``"margin"`` (log-odds, the library's value), ``"prob"``
    (p(positive) among the two labels) or ``"logprob"`` (log p(" positive")).
    """
    spec = load_inputs()[name]
    if spec["kind"] == "qa":
        return RAG(spec["question"], spec["documents"], lm, answer=None, masking=masking, placeholder=placeholder)
    game = Sentiment(spec["text"], lm, masking=masking, placeholder=placeholder)
    return game if scale == "margin" else ScaledSentiment(game, scale)


class ScaledSentiment:
    """A Sentiment game read on another scale; its own cache key, the same prompts."""

    def __init__(self, game: Sentiment, scale: str):
        if scale not in ("prob", "logprob"):
            raise ValueError(f"scale must be 'margin', 'prob' or 'logprob', got {scale!r}")
        self.game, self.scale = game, scale
        self.feature_names = game.feature_names

    @property
    def n(self) -> int:
        return self.game.n

    @property
    def fingerprint(self) -> str:
        return f"{self.game.fingerprint}|scale={self.scale}"

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        logp = self.game.lm.score_options(self.game.prompts(np.asarray(masks, dtype=bool)), list(self.game.labels))
        if self.scale == "logprob":
            return logp[:, 0]
        return 1.0 / (1.0 + np.exp(logp[:, 1] - logp[:, 0]))


def open_queries(game, cache: QueryCache, *, progress: bool = False) -> Queries:
    """Queries on the shared cache, keyed exactly as :func:`proxyspex.explain` keys the game."""
    return Queries(game, game.n, key=f"{game.fingerprint}|n={game.n}", cache=cache, progress=progress)


def held_out(game, cache: QueryCache, n_test: int = N_TEST) -> tuple[np.ndarray, np.ndarray]:
    """The input's 1000 uniform held-out masks (one fixed seed) and their values, queried once."""
    X = sample_masks(game.n, n_test, np.random.default_rng(TEST_SEED))
    return X, open_queries(game, cache)(X)


def training_masks(n: int, budget: int, random_state: int = 0) -> np.ndarray:
    """The masks ``ProxySPEX(budget=budget, random_state=random_state)`` queries: anchors first."""
    anchors = np.array([np.ones(n, dtype=bool), np.zeros(n, dtype=bool)])
    rng = np.random.default_rng(random_state)
    return np.vstack([anchors, sample_masks(n, budget - 2, rng, exclude=anchors)])


def describe(name: str, game) -> dict:
    """What a dataset holds, for whoever reads the npz without this repository's inputs."""
    spec = load_inputs()[name]
    about = {"name": name, "kind": spec["kind"], "n": game.n, "feature_names": game.feature_names,
             "model": game.lm.fingerprint, "masking": game.masking, "fingerprint": game.fingerprint}
    if spec["kind"] == "qa":
        about.update(question=spec["question"], answer=game.answer, bridge=spec["bridge"],
                     value="log p(model's own answer | question, kept documents)")
    else:
        about.update(text=spec["text"], value="log p(' positive') - log p(' negative'), few-shot prompt")
    return about


def write_dataset(name: str, lm, cache: QueryCache, *, alpha: float = 4.0) -> Path:
    """``results/long_<name>.npz``: X_train (alpha budget, anchors included), y_train, X_test, y_test."""
    game = make_game(name, lm)
    budget = default_budget(game.n, alpha)
    started = time.perf_counter()
    X_test, y_test = held_out(game, cache)
    X_train = training_masks(game.n, budget)
    y_train = open_queries(game, cache, progress=True)(X_train)
    about = {**describe(name, game), "alpha": alpha, "budget": budget, "train_seed": 0, "test_seed": TEST_SEED,
             "seconds": round(time.perf_counter() - started, 1), "load": os.getloadavg()[0]}
    path = RESULTS / f"long_{name}.npz"
    np.savez_compressed(path, X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test,
                        description=json.dumps(about))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description="Write the offline datasets of the long inputs.")
    parser.add_argument("--datasets", default="review_80,qa_48", help="comma-separated input names")
    parser.add_argument("--alpha", type=float, default=4.0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    import torch

    from proxyspex.models import LocalLM

    torch.set_num_threads(args.threads)
    RESULTS.mkdir(parents=True, exist_ok=True)
    lm, cache = LocalLM(), QueryCache(CACHE)
    for name in args.datasets.split(","):
        path = write_dataset(name, lm, cache, alpha=args.alpha)
        print(f"{path}: {json.loads(np.load(path)['description'].item())['seconds']} s", flush=True)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
