"""Echo against top_logprobs scoring on a real server, in the same run (issue 12 item 16).

Scores the two sentiment labels after ``--prompts`` masked few-shot prompts, once with
``scoring="echo"`` (one request per prompt and label) and once with ``scoring="auto"`` (one
``max_tokens=1, logprobs=20`` request per prompt once the labels are known to be single
tokens), alternating the order over ``--repeats`` rounds, and prints prompts/s, requests/s
and the largest difference between the two. Start a server first, e.g. (see README):

    VLLM_CPU_KVCACHE_SPACE=2 .vllm-venv/bin/python -m vllm.entrypoints.openai.api_server \\
        --model <fp32 SmolLM2 dir> --host 127.0.0.1 --port 8000 --served-model-name smollm2 \\
        --dtype float32 --max-model-len 2048
    python benchmarks/vllm_scoring.py --url http://127.0.0.1:8000/v1
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import proxyspex as px
from proxyspex.models import OpenAICompatible

TEXT = "The trailer promised a lot, but the film delivered nothing, though the music was lovely."


def prompts(game: px.games.Sentiment, count: int, random_state: int) -> list[str]:
    """The game's prompts for ``count`` random masks."""
    masks = np.random.default_rng(random_state).random((count, game.n)) < 0.5
    return game.prompts(masks)


def timed(lm: OpenAICompatible, batch: list[str]) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    values = lm.score_options(batch, [" positive", " negative"])
    return values, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    paths = {name: OpenAICompatible(args.url, scoring=name, max_concurrency=args.concurrency)
             for name in ("echo", "auto")}
    game = px.games.Sentiment(TEXT, model=paths["echo"])
    paths["auto"].score_options(prompts(game, 1, 99), [" positive", " negative"])  # learn: one token each
    seconds = {name: 0.0 for name in paths}
    worst = 0.0
    for round_ in range(args.repeats):
        batch = prompts(game, args.prompts, round_)  # new masks each round: no prefix-cache advantage across rounds
        order = list(paths) if round_ % 2 == 0 else list(paths)[::-1]
        values = {}
        for name in order:
            values[name], spent = timed(paths[name], batch)
            seconds[name] += spent
        worst = max(worst, float(np.abs(values["echo"] - values["auto"]).max()))
    total = args.prompts * args.repeats
    requests = {"echo": 2 * total, "auto": total}
    for name in paths:
        print(f"| {name} | {total / seconds[name]:.1f} prompts/s | {requests[name] / seconds[name]:.1f} requests/s |")
    print(f"speed-up {seconds['echo'] / seconds['auto']:.2f}x; largest |echo - auto| = {worst:.2e}")


if __name__ == "__main__":
    main()
