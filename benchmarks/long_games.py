"""The long inputs of issue 11 as games, their held-out masks, and the offline datasets.

The inputs live in ``benchmarks/inputs/long/`` (reviews.json, qa.json), written for this
repository. Every model output goes through one SQLite query cache under
``benchmarks/results/`` (gitignored), so a rerun pays only for masks never seen before.

    python benchmarks/long_games.py --datasets review_80,qa_48   # writes results/long_<name>.npz
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sqlite3
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
QUERY_BATCH = 64  # masks per cached batch: a killed run loses at most this many


def load_inputs() -> dict[str, dict]:
    """Every shipped input by name: ``{"kind": "review", "text": ...}`` or ``{"kind": "qa", ...}``."""
    reviews = json.loads((INPUTS / "reviews.json").read_text())["reviews"]
    contexts = json.loads((INPUTS / "qa.json").read_text())["contexts"]
    found = {r["name"]: {"kind": "review", **r} for r in reviews}
    found.update({c["name"]: {"kind": "qa", **c} for c in contexts})
    return found


def make_game(name: str, lm, *, masking: str = "remove", placeholder: str = "[UNK]", scale: str = "margin"):
    """The game of one input: Sentiment over words (reviews) or RAG over documents (QA contexts).

    ``scale`` (reviews only): ``"margin"`` (log p(" positive") - log p(" negative"), the
    library's value) or ``"logprob"`` (log p(" positive") alone). The probability scale needs no
    game of its own: it is the sigmoid of the margin (:func:`probability_of`).
    """
    spec = load_inputs()[name]
    if spec["kind"] == "qa":
        return RAG(spec["question"], spec["documents"], lm, answer=None, masking=masking, placeholder=placeholder)
    game = Sentiment(spec["text"], lm, masking=masking, placeholder=placeholder)
    if scale == "margin":
        return game
    if scale != "logprob":
        raise ValueError(f"scale must be 'margin' or 'logprob', got {scale!r}")
    return LabelLogProb(game)


class LabelLogProb:
    """A Sentiment game read as log p(first label) instead of the margin: same prompts, own key."""

    def __init__(self, game: Sentiment):
        self.game, self.lm, self.masking = game, game.lm, game.masking
        self.feature_names = game.feature_names

    @property
    def n(self) -> int:
        return self.game.n

    def prompts(self, masks: np.ndarray) -> list[str]:
        return self.game.prompts(masks)

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        return self.lm.score(self.game.prompts(np.asarray(masks, dtype=bool)), self.game.labels[0])


def probability_of(margin_queries: Queries):
    """p(positive) among the two labels, sigmoid(margin), computed from the margin's cached values."""
    return lambda masks: 1.0 / (1.0 + np.exp(-margin_queries(masks)))


def cache_key(game) -> str:
    """A key that names what the model is asked, stable across library fingerprint versions.

    It hashes the model, the game's class and value, the target, and the exact prompts of four
    probe masks (all, none, every other unit, the first half), which expose the template, the
    units and how a mask renders.
    """
    n = game.n
    probes = np.array([np.ones(n), np.zeros(n), np.arange(n) % 2 == 0, np.arange(n) < n // 2], dtype=bool)
    payload = {"suite": "long_inputs/1", "model": game.lm.fingerprint, "class": type(game).__name__,
               "target": getattr(getattr(game, "game", game), "target", None),
               "labels": getattr(getattr(game, "game", game), "labels", None), "prompts": game.prompts(probes)}
    blob = json.dumps(payload, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:32]


def open_queries(game, cache: QueryCache, *, progress: bool = False) -> Queries:
    """Queries on the shared cache under :func:`cache_key` (pass the same key to every explainer)."""
    return Queries(game, game.n, key=f"{cache_key(game)}|n={game.n}", cache=cache, progress=progress,
                   batch_size=QUERY_BATCH)


def test_masks(n: int, n_test: int = N_TEST) -> np.ndarray:
    """The input's uniform held-out masks: one fixed seed, so every method meets the same ones."""
    return sample_masks(n, n_test, np.random.default_rng(TEST_SEED))


def held_out(game, cache: QueryCache, n_test: int = N_TEST) -> tuple[np.ndarray, np.ndarray]:
    """The held-out masks and their values, queried once (the cache keeps them)."""
    X = test_masks(game.n, n_test)
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
             "model": game.lm.fingerprint, "masking": game.masking, "cache_key": cache_key(game)}
    if spec["kind"] == "qa":
        about.update(question=spec["question"], answer=game.answer, bridge=spec["bridge"],
                     value="log p(model's own answer | question, kept documents)")
    else:
        about.update(text=spec["text"], value="log p(' positive') - log p(' negative'), few-shot prompt")
    return about


def write_dataset(name: str, lm, cache: QueryCache, *, alpha: float = 4.0, first_alpha: float | None = None,
                  chunk: int = 128) -> Path:
    """``results/long_<name>.npz``: X_train (alpha budget, anchors included), y_train, X_test, y_test.

    The file is rewritten after every ``chunk`` masks, so a slow input yields a usable partial
    dataset early: first the training masks of ``first_alpha`` (if given), then the held-out
    masks, then the rest of the training masks. ``description`` says how many of each it holds.
    """
    game = make_game(name, lm)
    budget = default_budget(game.n, alpha)
    X_train, X_test = training_masks(game.n, budget), test_masks(game.n)
    first = default_budget(game.n, first_alpha) if first_alpha else 0
    plan = [("train", lo, min(lo + chunk, first)) for lo in range(0, first, chunk)]
    plan += [("test", lo, min(lo + chunk, len(X_test))) for lo in range(0, len(X_test), chunk)]
    plan += [("train", lo, min(lo + chunk, budget)) for lo in range(first, budget, chunk)]
    queries, started = open_queries(game, cache), time.perf_counter()
    done = {"train": 0, "test": 0}
    path = RESULTS / f"long_{name}.npz"
    for part, lo, hi in plan:
        queries((X_train if part == "train" else X_test)[lo:hi])
        done[part] = hi
        about = {**describe(name, game), "alpha": alpha, "budget": budget, "train_seed": 0, "test_seed": TEST_SEED,
                 "n_train": done["train"], "n_test": done["test"], "complete": done["train"] == budget
                 and done["test"] == len(X_test), "seconds": round(time.perf_counter() - started, 1),
                 "load": os.getloadavg()[0]}
        Xtr, Xte = X_train[: done["train"]], X_test[: done["test"]]
        np.savez_compressed(path, X_train=Xtr, y_train=queries(Xtr), X_test=Xte, y_test=queries(Xte),
                            description=json.dumps(about))
        print(f"{path.name}: {done['train']} train, {done['test']} test, {about['seconds']} s", flush=True)
    return path


def adopt(name: str, lm, old_key: str, *, check: int = 4, tol: float = 0.25) -> int:
    """Copy the values cached under ``old_key`` (an earlier library fingerprint of the same input) to
    :func:`cache_key`, after re-running ``check`` of them and finding them within ``tol`` (bf16 values
    move by up to ~0.15 with batch composition). Returns the number of values copied."""
    game = make_game(name, lm)
    new_key = f"{cache_key(game)}|n={game.n}"
    with sqlite3.connect(CACHE, timeout=60) as db:
        rows = db.execute("SELECT mask, value FROM queries WHERE game = ?", [old_key]).fetchall()
        if not rows:
            raise ValueError(f"no values are cached under {old_key!r}")
        sample = rows[:: max(1, len(rows) // check)][:check]
        masks = np.unpackbits(np.frombuffer(b"".join(m for m, _ in sample), dtype=np.uint8).reshape(len(sample), -1),
                              axis=1)[:, : game.n].astype(bool)
        fresh = game(masks)
        worst = float(np.max(np.abs(fresh - np.array([v for _, v in sample]))))
        if worst > tol:
            raise ValueError(f"{old_key!r} is not this game: re-run values differ by {worst:.3f} > {tol}")
        db.executemany("INSERT OR IGNORE INTO queries VALUES (?, ?, ?)", [(new_key, m, v) for m, v in rows])
    return len(rows)


def open_model(threads: int):
    """The embedded model on ``threads`` torch threads, and the benchmarks' shared query cache."""
    import torch

    from proxyspex.models import LocalLM

    torch.set_num_threads(threads)
    RESULTS.mkdir(parents=True, exist_ok=True)
    return LocalLM(), QueryCache(CACHE)


def main() -> None:
    parser = argparse.ArgumentParser(description="Write the offline datasets of the long inputs.")
    parser.add_argument("--datasets", default="review_80,qa_48", help="comma-separated input names")
    parser.add_argument("--alpha", type=float, default=4.0)
    parser.add_argument("--first-alpha", type=float, default=None, help="query this budget before the test set")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--adopt", default=None, metavar="KEY",
                        help="only copy the values cached under KEY to the stable key (see adopt)")
    args = parser.parse_args()
    lm, cache = open_model(args.threads)
    if args.adopt:
        print(f"adopted {adopt(args.datasets.split(',')[0], lm, args.adopt)} values", flush=True)
        return
    for name in args.datasets.split(","):
        write_dataset(name, lm, cache, alpha=args.alpha, first_alpha=args.first_alpha)


if __name__ == "__main__":
    main()
