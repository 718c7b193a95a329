"""bf16 against fp32 on the embedded model: batch dependence, its effect on an explanation, speed.

    python benchmarks/precision.py            # 16-word review, 256 masks, budget 400: ~15 min on 2 busy cores
    python benchmarks/precision.py --quick    # 64 masks, budget 200

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
        out[size] = game(masks[: len(masks) if size > 1 else min(len(masks), 48)])
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
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n_masks, budget, repeats = (64, 200, 2) if args.quick else (256, 400, 3)
    games = {dtype: Sentiment(REVIEW, LocalLM(dtype=dtype)) for dtype in ("bfloat16", "float32")}
    n = games["float32"].n
    print(f"review: {n} words and marks; cpu bf16 units: {cpu_supports_bf16()}; {n_masks} masks")
    masks = sample_masks(n, n_masks, np.random.default_rng(0))
    for dtype, game in games.items():
        by_size = values_by_batching(game, masks, (48, 12, 1))
        diffs = [np.abs(by_size[a][: len(by_size[b])] - by_size[b]).max() for a, b in ((48, 12), (48, 1), (12, 1))]
        print(f"{dtype}: value std {by_size[48].std():.3f}; max |difference| between batchings "
              f"48/12 {diffs[0]:.4f}, 48/1 {diffs[1]:.4f}, 12/1 {diffs[2]:.4f}")
        for size in (48, 12):
            pairs = ", ".join(f"{' x '.join(names)} {value:+.4f}" for names, value in top_pairs(game, size, budget))
            print(f"  top Fourier pairs, batch {size}, budget {budget}: {pairs}")
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
