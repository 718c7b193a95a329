"""Issue 11 item 5: masks per second through the Sentiment game on 60-300-word reviews, against
the raw batched forward pass of the same token rows, in the same run.

*game*: ``Sentiment(review)(masks)`` with the default LocalLM (bf16 where the CPU has it,
prefix reuse, rows sorted by length, rows per pass from the token budget). *raw*: the bare
``model(...)`` call on the same full token rows (prompt + label), sorted by length and cut
into passes by the same token budget, no prefix reuse, no tokenization, last-position logits.
Runs alternate raw, game, raw, game, raw; each game run is divided by the mean of the raw runs
around it, which cancels most of the load drift on a shared machine. Also projects the wall
time of explaining the 256-word review at alpha = 2 from the measured rate.

    python benchmarks/long_throughput.py [--masks 32] [--repeats 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import machine, update_section
from long_games import load_inputs

from proxyspex.games.sentiment import Sentiment
from proxyspex.masks import default_budget
from proxyspex.models import LocalLM

REVIEWS = ("review_60", "review_150", "review_300")


def token_budget_passes(lengths: list[int], cap: int) -> list[list[int]]:
    """Row indices per pass: sorted by length, as many rows as fit ``cap`` padded tokens."""
    order = list(np.argsort(lengths, kind="stable"))
    passes, start = [], 0
    while start < len(order):
        size = 1
        while start + size < len(order) and (size + 1) * lengths[order[start + size]] <= cap:
            size += 1
        passes.append([int(i) for i in order[start:start + size]])
        start += size
    return passes


def raw_forward_seconds(lm: LocalLM, rows: list[list[int]], cap: int) -> float:
    """The bare model over ``rows``, left padded, passes cut by the token budget ``cap``."""
    batches = []
    for take in token_budget_passes([len(r) for r in rows], cap):
        width = max(len(rows[i]) for i in take)
        ids = torch.full((len(take), width), lm.pad_id, dtype=torch.long)
        mask = torch.zeros((len(take), width), dtype=torch.long)
        for r, i in enumerate(take):
            ids[r, width - len(rows[i]):] = torch.tensor(rows[i])
            mask[r, width - len(rows[i]):] = 1
        batches.append((ids, mask, (mask.cumsum(-1) - 1).clamp(min=0)))
    started = time.perf_counter()
    with torch.inference_mode():
        for ids, mask, pos in batches:
            lm.model(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=False, logits_to_keep=1)
    return time.perf_counter() - started


def measure(lm: LocalLM, name: str, masks_n: int, repeats: int, cap: int) -> dict:
    """Game and raw rates on one review; the ratios pair each game run with the raw runs around it."""
    game = Sentiment(load_inputs()[name]["text"], lm)
    masks = np.random.default_rng(0).random((masks_n, game.n)) < 0.5
    label = lm.encode(game.labels[0])
    rows = [lm.encode(p) + label for p in game.prompts(masks)]
    game(masks[:4])  # warm-up
    raw, runs, ratios = [raw_forward_seconds(lm, rows, cap)], [], []
    for _ in range(repeats):
        started = time.perf_counter()
        game(masks)
        runs.append(time.perf_counter() - started)
        raw.append(raw_forward_seconds(lm, rows, cap))
        ratios.append((raw[-2] + raw[-1]) / 2 / runs[-1])
    return {"name": name, "n": game.n,
            "tokens": float(np.mean([len(r) for r in rows])), "game": masks_n / statistics.median(runs),
            "raw": masks_n / statistics.median(raw), "ratios": ratios}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--masks", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started, load = time.perf_counter(), os.getloadavg()[0]
    lm = LocalLM()
    cap = lm.max_batch_tokens or (2048 if lm.device == "cpu" else 16384)
    rows = []
    for name in REVIEWS:
        res = measure(lm, name, args.masks, args.repeats, cap)
        rows.append(res)
        print(res, flush=True)
    words = {name: len(load_inputs()[name]["text"].split()) for name in (*REVIEWS, "review_256")}
    n256 = Sentiment(load_inputs()["review_256"]["text"], lm).n
    budget = default_budget(n256, 2.0)
    rate = float(np.interp(words["review_256"], [words[r["name"]] for r in rows], [r["game"] for r in rows]))
    head = "| review | words | features n | tokens per row | raw forward (masks/s) | game (masks/s) | game / raw |"
    table = [head, "|---|---|---|---|---|---|---|"]
    for r in rows:
        q = r["ratios"]
        table.append(f"| {r['name']} | {words[r['name']]} | {r['n']} | {r['tokens']:.0f} | {r['raw']:.2f} | "
                     f"{r['game']:.2f} | {statistics.median(q):.2f} ({min(q):.2f}-{max(q):.2f}) |")
    body = [
        "## Long prompts: game throughput against the raw forward pass (issue 11)",
        "",
        (f"Command: `python benchmarks/long_throughput.py {' '.join(sys.argv[1:])}` · {machine()}, "
         f"{torch.get_num_threads()} torch thread(s), dtype {lm.dtype}, token budget {cap} per pass · "
         f"{args.masks} uniform masks per review, {args.repeats} interleaved repeats · load {load:.1f} -> "
         f"{os.getloadavg()[0]:.1f} · {time.perf_counter() - started:.0f} s in all. game / raw: median "
         "(range) over repeats."),
        "",
        *table,
        "",
        (f"Projection for the 256-word review (n = {n256} features) at α = 2: {budget} masks at ~{rate:.2f} "
         f"masks/s (interpolated from the rows above, this load) = **{budget / rate / 60:.0f} min** of model "
         "time, plus the proxy fit."),
    ]
    print("\n".join(body))
    if not args.no_write:
        update_section("long-throughput", "\n".join(body))


if __name__ == "__main__":
    main()
