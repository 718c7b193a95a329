"""The proxy's self-estimate (``faithfulness``) against the exact held-out R^2, across budgets.

Synthetic games with a known spectrum, so the truth is exact (Parseval, no held-out sample):
sparse (32 AND terms of order <= 3), saturating (``SaturatingGame``) and dense (300 AND terms of
order <= 6). For each budget: the mean truth, the mean estimate, the worst excess of the estimate
over the truth, the worst distance, and how often the estimate was withheld (NaN with a note).
"selection" is the pooled score of the winning option, which ``faithfulness`` was before.

    python benchmarks/self_estimate.py            # n = 32, 3 seeds, about 5 minutes
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from proxyspex.games.synthetic import SaturatingGame, SyntheticGame
from proxyspex.masks import sample_masks
from proxyspex.proxy import fit_proxy

GAMES = {"sparse": lambda n, s: SyntheticGame(n, random_state=s),
         "saturating": lambda n, s: SaturatingGame(n, random_state=s),
         "dense": lambda n, s: SyntheticGame(n, n_interactions=300, max_order=6, random_state=s)}


def run(n: int, seeds: int) -> list[dict]:
    nlogn = int(n * math.log2(n))
    rows = []
    for game, make in GAMES.items():
        for m in (16, 32, 64, nlogn // 2, nlogn, 2 * nlogn, 4 * nlogn, 8 * nlogn):
            for seed in range(seeds):
                g = make(n, seed)
                X = sample_masks(n, m, np.random.default_rng(100 + seed))
                fit = fit_proxy(X, g(X), random_state=seed)
                rows.append({"game": game, "m": m, "seed": seed, "truth": g.r2(fit.spectrum),
                             "estimate": fit.faithfulness, "low": fit.faithfulness_interval[0],
                             "high": fit.faithfulness_interval[1], "selection": fit.details["selection_r2"]})
                print(json.dumps(rows[-1]), flush=True)
    return rows


def table(rows: list[dict], n: int) -> str:
    head = ("| game | masks | truth | estimate | worst est − truth | worst abs | withheld | truth in interval "
            "| selection | worst selection − truth |")
    lines = [head, "|" + "---|" * 10]
    for key in dict.fromkeys((r["game"], r["m"]) for r in rows):
        group = [r for r in rows if (r["game"], r["m"]) == key]
        shown = [r for r in group if not np.isnan(r["estimate"])]
        diff = [r["estimate"] - r["truth"] for r in shown]
        inside = sum(r["low"] <= r["truth"] <= r["high"] for r in group)
        fmt = lambda v: "–" if math.isnan(v) else f"{v:+.3f}"
        mean = lambda k, rs: float(np.mean([r[k] for r in rs])) if rs else float("nan")
        mark = " (≥ n log2 n)" if key[1] >= n * math.log2(n) else ""
        lines.append(f"| {key[0]} | {key[1]}{mark} | {mean('truth', group):.3f} | {fmt(mean('estimate', shown))} | "
                     f"{fmt(max(diff, default=float('nan')))} | {fmt(max(map(abs, diff), default=float('nan')))} | "
                     f"{len(group) - len(shown)}/{len(group)} | {inside}/{len(group)} | "
                     f"{mean('selection', group):.3f} | {max(r['selection'] - r['truth'] for r in group):+.3f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    print(table(run(args.n, args.seeds), args.n))


if __name__ == "__main__":
    main()
