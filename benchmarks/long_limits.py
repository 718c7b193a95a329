"""Issue 11 item 2: what limits faithfulness on a long review, by measurement.

Held-out R² (1000 uniform masks each) of ProxySPEX and LASSO on one review under:
- masking: words removed (the library's default) or replaced by the seed's ``[UNK]``;
- the value's scale: log-odds margin (default), p(positive) among the two labels (the sigmoid
  of the margin: no new inferences), or log p(" positive") alone (a new pass);
- the ceiling: the margin at alpha up to 16, with the proxy's in-sample R² beside the
  held-out one (a proxy that fits its own masks but not new ones is limited by the data, one
  that fits neither by its form).

    python benchmarks/long_limits.py --variants margin,prob --alphas 1,2,4,8,16
    python benchmarks/long_limits.py --variants unk,logprob --alphas 1,2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import machine, update_section
from long_games import (
    RESULTS,
    cache_key,
    held_out,
    make_game,
    open_model,
    open_queries,
    probability_of,
    test_masks,
    training_masks,
)

from proxyspex import ProxySPEX
from proxyspex.baselines import Lasso
from proxyspex.cache import QueryCache
from proxyspex.evaluate import r2_score
from proxyspex.masks import default_budget

OUT = RESULTS / "long_limits.json"
VARIANTS = {"margin": "words removed, log-odds margin", "prob": "words removed, p(positive) = sigmoid(margin)",
            "logprob": "words removed, log p(' positive')", "unk": "words replaced by [UNK], log-odds margin"}


def variant(name: str, review: str, lm, cache: QueryCache, n_test: int):
    """(value function, n, cache key or None, cached lookup, held-out X, held-out y) of one variant."""
    if name == "prob":
        margin = make_game(review, lm)
        f = probability_of(open_queries(margin, cache))
        X = test_masks(margin.n, n_test)
        return f, margin.n, None, f, X, f(X)
    game = {"margin": lambda: make_game(review, lm), "logprob": lambda: make_game(review, lm, scale="logprob"),
            "unk": lambda: make_game(review, lm, masking="placeholder", placeholder="[UNK]")}[name]()
    X, y = held_out(game, cache, n_test)
    return game, game.n, cache_key(game), open_queries(game, cache), X, y


def run(review: str, names: list[str], alphas: list[float], lm, cache: QueryCache, log, n_test: int = 1000
        ) -> list[dict]:
    rows = []
    for name in names:
        f, n, key, lookup, X_test, y_test = variant(name, review, lm, cache, n_test)
        for alpha in alphas:
            budget, started = default_budget(n, alpha), time.perf_counter()
            options = {"n": n, "cache_key": key} if key else {"n": n}
            ours = ProxySPEX(budget=budget, random_state=0, cache=cache if key else False,
                             progress=False).explain(f, **options)
            lasso = Lasso(budget=budget, random_state=0, cache=cache if key else False,
                          progress=False).explain(f, **options)
            row = {"review": review, "variant": name, "alpha": alpha, "budget": budget, "n": n,
                   "r2": r2_score(y_test, ours.predict(X_test)), "lasso_r2": r2_score(y_test, lasso.predict(X_test)),
                   "faithfulness": float(ours.faithfulness), "train_r2": in_sample_r2(ours, lookup, n, budget),
                   "test_std": float(np.std(y_test)), "n_test": len(y_test),
                   "seconds": round(time.perf_counter() - started, 1)}
            rows.append(row)
            log(json.dumps(row))
    return rows


def in_sample_r2(result, lookup, n: int, budget: int) -> float:
    """The proxy's R² on the masks it was fitted on (same seed, so the same masks; all cached)."""
    X = training_masks(n, budget)
    return r2_score(np.asarray(lookup(X)), result.predict(X))


def render(rows: list[dict]) -> None:
    head = ("| review | variant | α | masks | ProxySPEX held-out R² | in-sample R² | reported faithfulness | "
            "LASSO R² | std of the value | held-out masks |")
    lines = [head, "|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["review"], list(VARIANTS).index(r["variant"]), r["alpha"])):
        lines.append(f"| {r['review']} | {VARIANTS[r['variant']]} | {r['alpha']:g} | {r['budget']} | "
                     f"{r['r2']:.3f} | {r['train_r2']:.3f} | {r['faithfulness']:.3f} | {r['lasso_r2']:.3f} | "
                     f"{r['test_std']:.3f} | {r.get('n_test', 1000)} |")
    body = ["## What limits faithfulness on a long review (issue 11 item 2)", "",
            (f"Command(s): `python benchmarks/long_limits.py ...` (see the script) · {machine()} · 1000 held-out "
             "uniform masks per variant · ProxySPEX and LASSO with random_state 0, so every variant of one "
             "review sees the same training masks."), "", *lines]
    update_section("long-limits", "\n".join(body))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--review", default="review_80")
    parser.add_argument("--variants", default="margin,prob")
    parser.add_argument("--alphas", default="1,2,4")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--n-test", type=int, default=1000, help="held-out masks (the first of the fixed 1000)")
    parser.add_argument("--render", action="store_true")
    args = parser.parse_args()
    rows = json.loads(OUT.read_text()) if OUT.exists() else []
    if not args.render:
        lm, cache = open_model(args.threads)
        print(f"load {os.getloadavg()[0]:.1f}", flush=True)
        new = run(args.review, args.variants.split(","), [float(a) for a in args.alphas.split(",")], lm, cache,
                  lambda line: print(line, flush=True), n_test=args.n_test)
        done = {(r["review"], r["variant"], r["alpha"]) for r in new}
        rows = [r for r in rows if (r["review"], r["variant"], r["alpha"]) not in done] + new
        OUT.write_text(json.dumps(rows, indent=1))
    render(rows)


if __name__ == "__main__":
    main()
