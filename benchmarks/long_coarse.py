"""Issue 11 item 4 benchmark: coarse-to-fine (sentence -> word) against flat word features.

Both are scored on the same 1000 uniform word masks of the input (long_games.held_out). A
coarse-to-fine result has features at mixed levels; it predicts a word mask through the
multilinear extension of its Moebius polynomial, f(x) = Σ_T m(T) Π_{g in T} x_g, where x_g is
the share of group g's words the mask keeps (1 or 0 for a single word): the surrogate's
expected value if each group were kept with that probability. The headline: the inferences
(distinct fine masks) coarse-to-fine needs for the R² flat words reach, and the ratio.

Uniform word masks keep about half of every sentence, which a sentence left whole never sees,
so that test favours flat words. The second test is coarse-to-fine's own space: 500 uniform
masks over its final features (the words of a split sentence kept independently, every other
sentence kept or dropped whole), queried on the same word-level game, where flat words predict
too. Reported side by side, with the flat masks needed for the same R² in each.

    python benchmarks/long_coarse.py --inputs review_150,review_256 --budgets 300,600,1200 --keep 3
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import machine, update_section
from long_games import RESULTS, TEST_SEED, cache_key, held_out, make_game, open_model, open_queries
from long_report import inferences_for

import proxyspex as px
from proxyspex.cache import QueryCache
from proxyspex.evaluate import r2_score
from proxyspex.masks import default_budget, sample_masks

OUT = RESULTS / "long_coarse.json"
N_MIXED = 500  # held-out masks in coarse-to-fine's own feature space, per final feature set


def predict_fine(result, fine_X: np.ndarray) -> np.ndarray:
    """A mixed-level result's prediction on fine masks (multilinear extension over group shares)."""
    groups = result.details.get("groups") or [[j] for j in range(result.n)]
    share = np.stack([fine_X[:, g].mean(axis=1) for g in groups], axis=1)
    out = np.zeros(len(fine_X))
    for degree, rows, values in result.moebius.by_degree():
        if degree == 0:
            out += values.sum()
        else:
            out += (np.prod(share[:, rows], axis=2) * values).sum(axis=1)  # (m, s_d, d) -> (m,)
    return out


def mixed_test_masks(groups: list[list[int]], n: int, m: int = N_MIXED) -> np.ndarray:
    """Uniform masks over the final features, expanded to the ``n`` fine units: a feature's units are
    kept or dropped together. The seed follows the feature set, so a rerun meets the same masks."""
    digest = hashlib.sha256(json.dumps(sorted(groups)).encode()).digest()
    rng = np.random.default_rng([TEST_SEED, int.from_bytes(digest[:8], "little")])
    owner = np.empty(n, dtype=np.int64)
    for feature, units in enumerate(groups):
        owner[units] = feature
    return sample_masks(len(groups), m, rng)[:, owner]


def distinct_fine_masks(result) -> int:
    """Fine masks a coarse-to-fine run used: every level's masks, less those reused from the level before."""
    stages = result.details["stages"]
    return int(sum(s["n_queries"] - s["n_reused"] for s in stages))


def run(name: str, budgets: list[int], keep: int, lm, cache: QueryCache, log, split: str = "auto") -> list[dict]:
    game = make_game(name, lm)
    key, (X_test, y_test) = cache_key(game), held_out(game, cache)
    flat_budgets = cached_flat_budgets(name, game.n)

    @functools.cache
    def flat_at(budget: int):  # each flat budget is fitted once per input, however many rows score it
        return px.ProxySPEX(budget=budget, random_state=0, cache=cache, progress=False).explain(game, cache_key=key)

    rows = []
    for budget in budgets:
        started = time.perf_counter()
        flat = flat_at(budget)
        levels = budget if split == "auto" else [budget // 2, budget - budget // 2]  # auto: by each level's n log n
        c2f = px.explain_coarse_to_fine(game, levels=("sentence", "word"), keep=keep, budget=levels, random_state=0,
                                        cache=cache, cache_key=key, progress=False)
        row = {"input": name, "n": game.n, "budget": budget, "keep": keep, "budget_split": split,
               "level_masks": [s["n_queries"] - s["n_reused"] for s in c2f.details["stages"]],  # new fine masks
               "flat_inferences": int(flat.n_queries), "flat_r2": r2_score(y_test, flat.predict(X_test)),
               "c2f_inferences": distinct_fine_masks(c2f), "c2f_r2": r2_score(y_test, predict_fine(c2f, X_test)),
               "c2f_features": c2f.n, "split": c2f.details["stages"][0]["split"],
               "seconds": round(time.perf_counter() - started, 1)}
        X_mix = mixed_test_masks(c2f.details["groups"], game.n)
        y_mix = open_queries(game, cache)(X_mix)
        row["c2f_r2_mixed"] = r2_score(y_mix, predict_fine(c2f, X_mix))
        row["flat_mixed"] = [{"inferences": b, "r2": r2_score(y_mix, flat_at(b).predict(X_mix))}
                             for b in sorted({budget, *flat_budgets})]
        rows.append(row)
        log(json.dumps(row))
    return rows


def cached_flat_budgets(name: str, n: int) -> list[int]:
    """The flat budgets long_inputs.py paid for on this input (refitting them costs no inference)."""
    inputs = RESULTS / "long_inputs.json"
    record = json.loads(inputs.read_text()).get(name, {}) if inputs.exists() else {}
    return sorted({default_budget(n, p["alpha"]) for p in record.get("points", []) if p["method"] == "proxyspex"})


def flat_curve(name: str, rows: list[dict]) -> list[dict]:
    """Flat words' R² against masks: this benchmark's flat runs and long_inputs.py's ProxySPEX points (the same
    estimator, seed and cache key, so the same masks), one point per budget."""
    points = {x["flat_inferences"]: x["flat_r2"] for x in rows if x["input"] == name}
    inputs = RESULTS / "long_inputs.json"
    record = json.loads(inputs.read_text()).get(name, {}) if inputs.exists() else {}
    points.update({p["inferences"]: p["r2"] for p in record.get("points", []) if p["method"] == "proxyspex"})
    return [{"inferences": m, "r2": r2} for m, r2 in sorted(points.items())]


def render(rows: list[dict]) -> None:
    lines = ["| input | n words | budget | flat: masks, R² | coarse-to-fine: split, masks per level, R², features | "
             "sentences split | flat masks for the coarse-to-fine R² | ratio |", "|---|---|---|---|---|---|---|---|"]
    mixed = ["| input | budget | final features | coarse-to-fine R² | flat R² at the same masks | "
             "flat masks for the coarse-to-fine R² | ratio |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        needed, bound, ratio = _needed(flat_curve(r["input"], rows), r["c2f_r2"], r["c2f_inferences"])
        lines.append(f"| {r['input']} | {r['n']} | {r['budget']} | {r['flat_inferences']}, {r['flat_r2']:.3f} | "
                     f"{r.get('budget_split', 'even')}, {' + '.join(map(str, r.get('level_masks', [])))} = "
                     f"{r['c2f_inferences']}, {r['c2f_r2']:.3f}, {r['c2f_features']} | {', '.join(r['split'])} | "
                     f"{bound} {needed} | {ratio} |")
        if "flat_mixed" in r:
            same = next(p["r2"] for p in r["flat_mixed"] if p["inferences"] == r["flat_inferences"])
            needed, bound, ratio = _needed(r["flat_mixed"], r["c2f_r2_mixed"], r["c2f_inferences"])
            mixed.append(f"| {r['input']} | {r['budget']} | {r['c2f_features']} | {r['c2f_r2_mixed']:.3f} | "
                         f"{same:.3f} | {bound} {needed} | {ratio} |")
    body = ["## Coarse-to-fine against flat words (issue 11)", "",
            (f"Command: `python benchmarks/long_coarse.py ...` · {machine()} · held-out R² on the input's 1000 "
             "uniform word masks; coarse-to-fine predicts them by the multilinear extension over group shares. "
             "The ratio is the flat masks needed for the coarse-to-fine R² (log-linear between the flat budgets, "
             "this table's and long_inputs.py's) "
             "over the masks coarse-to-fine paid; < and > mark bounds outside the measured flat budgets."),
            "", *lines, "",
            (f"In coarse-to-fine's own space: {N_MIXED} uniform masks over its final features (split sentences "
             "word by word, the other sentences whole), on the same word-level game; flat words are refit at "
             "long_inputs.py's budgets (cached masks) and scored on the same masks."),
            "", *mixed]
    update_section("long-coarse", "\n".join(body))


def _needed(curve: list[dict], r2: float, paid: int) -> tuple[int, str, str]:
    """The flat masks for ``r2`` on ``curve``, how sure (exact or a bound) and the ratio to ``paid``."""
    needed, bound = inferences_for(curve, r2)
    mark = {"at most": "<", "more than": ">"}.get(bound, "")
    return needed, bound, f"{mark}{needed / paid:.1f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", default="review_150,review_256")
    parser.add_argument("--budgets", default="300,600,1200")
    parser.add_argument("--keep", type=int, default=3)
    parser.add_argument("--split", default="auto", choices=("auto", "even"),
                        help="the total budget between levels: by each level's n log2 n (the library's) or halves")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--render", action="store_true")
    args = parser.parse_args()
    rows = json.loads(OUT.read_text()) if OUT.exists() else []
    if not args.render:
        lm, cache = open_model(args.threads)
        for name in args.inputs.split(","):
            new = run(name, [int(b) for b in args.budgets.split(",")], args.keep, lm, cache,
                      lambda line: print(line, flush=True), split=args.split)
            done = {(x["input"], x["budget"], x["keep"], x["budget_split"]) for x in new}
            rows = [r for r in rows if (r["input"], r["budget"], r["keep"], r.get("budget_split", "even")) not in done]
            rows += new
            OUT.write_text(json.dumps(rows, indent=1))
    render(rows)


if __name__ == "__main__":
    main()
