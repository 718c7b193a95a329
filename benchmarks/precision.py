"""bf16 against fp32 on the embedded model: batch dependence, its effect on an explanation, speed.

    python benchmarks/precision.py                          # 16-word review, 128 masks, explanations on 300
    python benchmarks/precision.py --masks 48 --budget 150  # what BENCHMARKS.md reports (a busy 2-core CPU)

For each precision it scores the same masks of a Sentiment game in batches of 48, 12 and 1 and
reports the largest difference between batchings; explains the game twice (batch 48 and 12, same
masks) and compares the top pair values; and times the scoring of the masks (same run, medians
of interleaved repeats, so the ratio is fair on a shared machine).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import proxyspex as px
from proxyspex.games import Sentiment
from proxyspex.masks import sample_masks
from proxyspex.models import LocalLM
from proxyspex.models.local import cpu_supports_bf16

REVIEW = "The plot was thin and the pacing slow, but the lead actors made every scene honest."


def values_by_batching(game: Sentiment, masks: np.ndarray, sizes: tuple[int, ...]) -> dict[int, np.ndarray]:
    out = {}
    for size in sizes:
        game.lm.batch_size = size
        out[size] = game(masks[: len(masks) if size > 1 else min(len(masks), 24)])
    game.lm.batch_size = None
    return out


def top_pairs(game: Sentiment, size: int, budget: int) -> list[tuple[tuple[str, ...], float]]:
    game.lm.batch_size = size
    try:
        result = px.explain(game, budget=budget, random_state=0, cache=False, progress=False)
    finally:
        game.lm.batch_size = None
    return result.top(3, index="fourier", order=2)


def seconds(game: Sentiment, masks: np.ndarray) -> float:
    start = time.perf_counter()
    game(masks)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--masks", type=int, default=128, help="masks scored under each batching and timed")
    parser.add_argument("--budget", type=int, default=300, help="masks per explanation")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved timing repeats")
    parser.add_argument("--skip-batchings", action="store_true", help="only the explanations and the timing")
    args = parser.parse_args()
    n_masks, budget, repeats = args.masks, args.budget, args.repeats
    games = {dtype: Sentiment(REVIEW, LocalLM(dtype=dtype)) for dtype in ("bfloat16", "float32")}
    n = games["float32"].n
    print(f"review: {n} words and marks; cpu bf16 units: {cpu_supports_bf16()}; {n_masks} masks "
          f"(batch 1: the first 24)", flush=True)
    masks = sample_masks(n, n_masks, np.random.default_rng(0))
    for dtype, game in games.items():
        if not args.skip_batchings:
            by_size = values_by_batching(game, masks, (48, 12, 1))
            diffs = [np.abs(by_size[a][: len(by_size[b])] - by_size[b]).max() for a, b in ((48, 12), (48, 1), (12, 1))]
            print(f"{dtype}: value std {by_size[48].std():.3f}; max |difference| between batchings "
                  f"48/12 {diffs[0]:.4f}, 48/1 {diffs[1]:.4f}, 12/1 {diffs[2]:.4f}", flush=True)
        for size in (48, 12):
            pairs = ", ".join(f"{' x '.join(names)} {value:+.4f}" for names, value in top_pairs(game, size, budget))
            print(f"{dtype}: top Fourier pairs, batch {size}, budget {budget}: {pairs}", flush=True)
    times: dict[str, list[float]] = {dtype: [] for dtype in games}
    for _ in range(repeats):
        for dtype, game in games.items():
            times[dtype].append(seconds(game, masks))
    median = {dtype: float(np.median(t)) for dtype, t in times.items()}
    print("speed (median of interleaved repeats, default batching): "
          + ", ".join(f"{d} {median[d]:.2f} s ({len(masks) / median[d]:.1f} masks/s)" for d in median)
          + f"; bf16/fp32 time ratio {median['bfloat16'] / median['float32']:.2f}")


if __name__ == "__main__":
    main()
