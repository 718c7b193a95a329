"""Attention-head pruning on the embedded SmolLM2-135M-Instruct: which heads can go together.

Part 1, pruning curves. The features are the heads of each ``--layers`` group (default: layers 16, 20,
23, where removing a whole layer hurts most, and layers 0, 6, 12, whose heads interact most; 27 heads
each). ProxySPEX and LASSO explain the mean log-odds of
the correct option on the attribution questions from the same ``--budget`` masks (LASSO reuses
ProxySPEX's cached outputs). For k = 0..K heads removed we pick

1. ProxySPEX: ``best_removal(spectrum, k)``, the k heads whose joint removal the sparse surrogate,
   interactions included, says leaves the highest value;
2. LASSO: the same search on LASSO's first-order surrogate (the k heads of smallest marginal effect);
3. random heads (nested random orders, several seeds);

and measure accuracy and mean log-odds on the held-out questions, which no method saw.

Part 2, how non-linear each layer's heads are: for a handful of layers (9 heads each), the
held-out R^2 of LASSO's first-order fit against ProxySPEX's on the same masks, on fresh random masks.

    python benchmarks/heads.py           # ~20 min on 2 busy cores; a cached rerun pays for held-out evals only
    python benchmarks/heads.py --quick   # smaller: 2 layers, budget 80, 2 linearity layers
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._report import ROOT, header, update_section
from proxyspex import ProxySPEX
from proxyspex.baselines import Lasso
from proxyspex.games.attention_heads import AttentionHeads, load_mc_tasks
from proxyspex.masks import sample_masks
from proxyspex.metrics import r2_score
from proxyspex.models import LocalLM
from proxyspex.query import Queries
from proxyspex.selection import best_removal

FIGURES = ROOT / "benchmarks" / "figures"
RESULTS = ROOT / "benchmarks" / "results" / "heads.json"


def pruning_curve(lm: LocalLM, layers: list[int], args) -> dict:
    """Held-out accuracy and log-odds against heads removed, for each way of choosing them."""
    game = AttentionHeads(lm, layers=layers, split="attribution")
    heldout = AttentionHeads(lm, layers=layers, split="heldout")
    start = time.perf_counter()
    spex = ProxySPEX(budget=args.budget, random_state=args.seed).explain(game)
    spent = time.perf_counter() - start
    lasso = Lasso(budget=args.budget, random_state=args.seed).explain(game)
    ks = list(range(min(args.max_k, game.n) + 1))
    picks: dict[str, list[tuple[int, ...]]] = {
        "ProxySPEX": [best_removal(spex.spectrum, k, maximize=True)[0] for k in ks],
        "LASSO": [best_removal(lasso.spectrum, k, maximize=True)[0] for k in ks],
    }
    for r in range(args.random_seeds):
        order = np.random.default_rng(args.seed + 1000 + r).permutation(game.n)
        picks[f"random {r}"] = [tuple(sorted(order[:k].tolist())) for k in ks]
    distinct = sorted({heads for sets in picks.values() for heads in sets})
    masks = np.array([game.mask_without(heads) for heads in distinct])
    start = time.perf_counter()
    margins, correct = heldout.evaluate(masks)
    eval_rate = masks.size / game.n * len(heldout.tasks) / (time.perf_counter() - start)
    row = {heads: i for i, heads in enumerate(distinct)}
    curves = {name: {"heads": [[game.feature_names[h] for h in heads] for heads in sets],
                     "accuracy": [float(correct[row[h]].mean()) for h in sets],
                     "log_odds": [float(margins[row[h]].mean()) for h in sets]} for name, sets in picks.items()}
    return {"layers": list(game.layers), "n": game.n, "budget": args.budget, "ks": ks,
            "attribution_questions": len(game.tasks), "heldout_questions": len(heldout.tasks),
            "faithfulness": {"ProxySPEX": spex.faithfulness, "LASSO": lasso.faithfulness},
            "paid": spex.n_paid, "explain_seconds": spent, "eval_rows_per_s": eval_rate,
            "top": [[list(names), value] for names, value in spex.top(5, index="moebius")],
            "curves": curves}


def linearity(lm: LocalLM, args) -> list[dict]:
    """Per layer: held-out R^2 of the first-order (LASSO) and ProxySPEX surrogates on the same masks."""
    tasks = load_mc_tasks("attribution")[:: args.linearity_stride]
    rows = []
    for layer in args.linearity_layers:
        game = AttentionHeads(lm, layers=[layer], tasks=tasks)
        spex = ProxySPEX(budget=args.linearity_budget, random_state=args.seed).explain(game)
        lasso = Lasso(budget=args.linearity_budget, random_state=args.seed).explain(game)
        test = sample_masks(game.n, args.linearity_test, np.random.default_rng(args.seed + 7))
        queries = Queries(game, game.n, key=f"{game.fingerprint}|n={game.n}")  # the explanations' cache
        y = queries(test)
        ends = queries(np.array([np.ones(game.n, bool), np.zeros(game.n, bool)]))  # paid for already
        rows.append({"layer": layer, "questions": len(tasks), "std": float(y.std()),
                     "full_minus_empty": float(ends[0] - ends[1]),
                     "r2_first_order": r2_score(y, lasso.predict(test)),
                     "r2_proxyspex": r2_score(y, spex.predict(test)),
                     "top": [[list(names), value] for names, value in spex.top(30, index="moebius")
                             if len(names) > 1][:3]})
        print(f"layer {layer}: R^2 first-order {rows[-1]['r2_first_order']:.3f}, "
              f"ProxySPEX {rows[-1]['r2_proxyspex']:.3f}", flush=True)
    return rows


def plot(curves: list[dict], layers: list[dict], full: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    FIGURES.mkdir(parents=True, exist_ok=True)
    fig, grid = plt.subplots(len(curves), 2, figsize=(10, 3.6 * len(curves)), squeeze=False)
    for curve, axes in zip(curves, grid):
        ks = curve["ks"]
        for ax, key, label in [(axes[0], "accuracy", "held-out accuracy"),
                               (axes[1], "log_odds", "held-out mean log-odds")]:
            randoms = np.array([c[key] for name, c in curve["curves"].items() if name.startswith("random")])
            ax.fill_between(ks, randoms.min(axis=0), randoms.max(axis=0), color="0.8", label="random (range)")
            ax.plot(ks, randoms.mean(axis=0), color="0.5", lw=1, label="random (mean)")
            ax.plot(ks, curve["curves"]["LASSO"][key], "s-", color="tab:blue", ms=4, label="LASSO (marginal)")
            ax.plot(ks, curve["curves"]["ProxySPEX"][key], "o-", color="tab:red", ms=4, label="ProxySPEX")
            ax.axhline(curve["curves"]["ProxySPEX"][key][0], ls="--", color="k", lw=1, label="unpruned")
            if key == "accuracy":
                ax.axhline(full["chance"], ls=":", color="0.4", lw=1, label="chance")
            ax.set_xlabel(f"heads removed (of {curve['n']} in layers {', '.join(map(str, curve['layers']))})")
            ax.set_ylabel(label)
    grid[0, 0].legend(fontsize=8, loc="lower left")
    fig.suptitle("SmolLM2-135M-Instruct: pruning attention heads", fontsize=11)
    fig.tight_layout()
    fig.savefig(FIGURES / "heads_pruning.png", dpi=90)
    plt.close(fig)
    if layers:
        fig, ax = plt.subplots(figsize=(6, 3.4))
        x = np.arange(len(layers))
        ax.bar(x - 0.2, [max(r["r2_first_order"], 0) for r in layers], 0.4, label="first order (LASSO)",
               color="tab:blue")
        ax.bar(x + 0.2, [max(r["r2_proxyspex"], 0) for r in layers], 0.4, label="ProxySPEX", color="tab:red")
        ax.set_xticks(x, [str(r["layer"]) for r in layers])
        ax.set_xlabel("layer (its 9 heads are the features)")
        ax.set_ylabel("held-out R^2")
        ax.set_ylim(0, 1)
        ax.legend(fontsize=8, loc="lower right")
        fig.tight_layout()
        fig.savefig(FIGURES / "heads_linearity.png", dpi=100)
        plt.close(fig)


def report(args, full: dict, curves: list[dict], layers: list[dict]) -> str:
    lines = [
        "## Attention heads: pruning with interactions (`benchmarks/heads.py`)", "",
        header(args.command, [args.seed]),
        (f"Model: embedded SmolLM2-135M-Instruct ({full['dtype']}, CPU, one torch thread). Task set: the shipped "
         f"`mc_tasks.json`, {full['n_tasks']} easy four-option questions (capitals, colours, animals, antonyms, "
         f"numbers, categories, facts), two-shot prompt, options scored as continuations. Unpruned accuracy: "
         f"**{full['attribution']:.3f}** on the {full['n_attribution']} attribution questions and "
         f"**{full['heldout']:.3f}** on the {full['n_heldout']} held-out ones; chance is {full['chance']:.2f}."), "",
        ("Value: mean log-odds of the correct option on the attribution questions. ProxySPEX and LASSO use the "
         "same masks; the heads to remove are `best_removal(spectrum, k, maximize=True)` on each surrogate; "
         f"random: {args.random_seeds} nested random orders. Accuracy and log-odds are measured on the held-out "
         "questions, which no method saw."), "",
        "![pruning](benchmarks/figures/heads_pruning.png)",
    ]
    for curve in curves:
        c, ks = curve["curves"], curve["ks"]
        randoms = np.array([v["accuracy"] for name, v in c.items() if name.startswith("random")])
        means = [("ProxySPEX", c["ProxySPEX"]["accuracy"], c["ProxySPEX"]["log_odds"]),
                 ("LASSO", c["LASSO"]["accuracy"], c["LASSO"]["log_odds"]),
                 ("random", randoms.mean(axis=0),
                  np.mean([v["log_odds"] for name, v in c.items() if name.startswith("random")], axis=0))]
        lines += [
            "", (f"**Layers {curve['layers']}** ({curve['n']} heads, {curve['budget']} masks, "
                 f"{curve['paid']} of them paid in this run, {curve['explain_seconds']:.0f} s to query and fit "
                 f"ProxySPEX; cross-validated R^2 ProxySPEX {curve['faithfulness']['ProxySPEX']:.3f}, LASSO "
                 f"{curve['faithfulness']['LASSO']:.3f}; held-out evaluation at {curve['eval_rows_per_s']:.0f} "
                 f"question-passes/s). Mean over k = 1..{ks[-1]} of held-out accuracy / log-odds: "
                 + ", ".join(f"{name} {np.mean(acc[1:]):.3f} / {np.mean(odds[1:]):.2f}" for name, acc, odds in means)
                 + "."),
            "",
            "| heads removed | " + " | ".join(str(k) for k in ks) + " |",
            "|---|" + "---|" * len(ks),
            "| ProxySPEX acc | " + " | ".join(f"{a:.3f}" for a in c["ProxySPEX"]["accuracy"]) + " |",
            "| LASSO acc | " + " | ".join(f"{a:.3f}" for a in c["LASSO"]["accuracy"]) + " |",
            "| random acc (mean) | " + " | ".join(f"{a:.3f}" for a in randoms.mean(axis=0)) + " |",
            "| ProxySPEX log-odds | " + " | ".join(f"{a:.2f}" for a in c["ProxySPEX"]["log_odds"]) + " |",
            "| LASSO log-odds | " + " | ".join(f"{a:.2f}" for a in c["LASSO"]["log_odds"]) + " |", "",
            (f"Heads kept at k={ks[-1]}: ProxySPEX {', '.join(_kept(curve, 'ProxySPEX'))}; LASSO "
             f"{', '.join(_kept(curve, 'LASSO'))}. Strongest Moebius terms: "
             + "; ".join(f"{' x '.join(names)} {value:+.3f}" for names, value in curve["top"]) + "."),
        ]
    if layers:
        lines += [
            "", ("**How non-linear are a layer's heads?** Held-out R^2 on "
                 f"{args.linearity_test} fresh random masks of surrogates fitted on the same "
                 f"{args.linearity_budget} masks (value on {layers[0]['questions']} attribution questions; "
                 "9 heads per layer)."), "",
            "![linearity](benchmarks/figures/heads_linearity.png)", "",
            "| layer | value(all) - value(none) | std over masks | R^2 first order | R^2 ProxySPEX "
            "| strongest interactions |",
            "|---|---|---|---|---|---|",
        ]
        for r in layers:
            top = "; ".join(f"{' x '.join(names)} {value:+.3f}" for names, value in r["top"][:2]) or "none"
            lines.append(f"| {r['layer']} | {r['full_minus_empty']:+.2f} | {r['std']:.3f} | "
                         f"{r['r2_first_order']:.3f} | {r['r2_proxyspex']:.3f} | {top} |")
        lines += ["", linearity_summary(layers)]
    return "\n".join(lines)


def linearity_summary(layers: list[dict], n_layers: int = 30) -> str:
    """One sentence comparing the first-order fit in the first and second half of the model."""
    early = [r for r in layers if r["layer"] < n_layers // 2]
    late = [r for r in layers if r["layer"] >= n_layers // 2]
    if not early or not late:
        return ""
    fit = {name: np.mean([r["r2_first_order"] for r in rows]) for name, rows in (("early", early), ("late", late))}
    gain = {name: np.mean([r["r2_proxyspex"] - r["r2_first_order"] for r in rows])
            for name, rows in (("early", early), ("late", late))}
    verdict = ("the opposite of the seed's Llama-3.1-8B note (early layers near-linear, later ones interacting): "
               "here the early layers are the non-linear ones" if fit["early"] < fit["late"] else
               "in line with the seed's Llama-3.1-8B note: early layers are nearer linear")
    return (f"Mean first-order R^2: {fit['early']:.3f} on layers {[r['layer'] for r in early]}, {fit['late']:.3f} on "
            f"layers {[r['layer'] for r in late]}; ProxySPEX adds {gain['early']:+.3f} and {gain['late']:+.3f}. "
            "This is "
            f"{verdict}.")


def _kept(curve: dict, method: str) -> list[str]:
    removed = set(curve["curves"][method]["heads"][-1])
    return [f"L{layer}.H{h}" for layer in curve["layers"] for h in range(curve["n"] // len(curve["layers"]))
            if f"L{layer}.H{h}" not in removed]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", nargs="+", default=["16,20,23", "0,6,12"],
                        help="one pruning curve per comma-separated group")
    parser.add_argument("--budget", type=int, default=240)
    parser.add_argument("--max-k", type=int, default=24)
    parser.add_argument("--random-seeds", type=int, default=3)
    parser.add_argument("--linearity-layers", default="0,6,12,18,23,29")
    parser.add_argument("--linearity-budget", type=int, default=64)
    parser.add_argument("--linearity-test", type=int, default=64)
    parser.add_argument("--linearity-stride", type=int, default=3, help="every k-th attribution question")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="print, but leave BENCHMARKS.md and figures alone")
    parser.add_argument("--report-only", action="store_true",
                        help=f"redraw the figures and the section from {RESULTS.name}, without the model")
    args = parser.parse_args()
    if args.report_only:
        saved = json.loads(RESULTS.read_text())
        args.__dict__.update(saved["args"])
        plot(saved["curves"], saved["layers"], saved["full"])
        update_section("heads", report(args, saved["full"], saved["curves"], saved["layers"]))
        return
    args.command = "python " + " ".join(["benchmarks/heads.py", *sys.argv[1:]])
    if args.quick:
        args.layers, args.budget, args.max_k, args.linearity_layers = ["20,23"], 80, 6, "0,23"
    args.layers = [[int(x) for x in group.split(",")] for group in args.layers]
    args.linearity_layers = [int(x) for x in args.linearity_layers.split(",") if x]

    import torch

    torch.set_num_threads(1)  # on a busy 2-core machine more threads ran slower
    lm = LocalLM()
    everything = AttentionHeads(lm, layers=[0], split="all")
    full_acc = everything.evaluate(np.ones((1, 9), dtype=bool))[1][0]
    split_of = np.array([t.split for t in everything.tasks])
    full = {"dtype": lm.dtype, "n_tasks": len(everything.tasks), "chance": 0.25,
            "attribution": float(full_acc[split_of == "attribution"].mean()),
            "heldout": float(full_acc[split_of == "heldout"].mean()),
            "n_attribution": int((split_of == "attribution").sum()), "n_heldout": int((split_of == "heldout").sum())}
    print(f"unpruned accuracy: attribution {full['attribution']:.3f}, held-out {full['heldout']:.3f}", flush=True)
    curves = []
    for group in args.layers:
        curves.append(pruning_curve(lm, group, args))
        for name in ("ProxySPEX", "LASSO"):
            print(group, name, " ".join(f"{a:.3f}" for a in curves[-1]["curves"][name]["accuracy"]), flush=True)
    layers = linearity(lm, args)
    if args.no_write:
        return
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    saved_args = {key: getattr(args, key) for key in ("command", "seed", "random_seeds", "linearity_test",
                                                      "linearity_budget")}
    RESULTS.write_text(json.dumps({"args": saved_args, "full": full, "curves": curves, "layers": layers}, indent=1))
    plot(curves, layers, full)
    update_section("heads", report(args, full, curves, layers))
    print(f"wrote {FIGURES / 'heads_pruning.png'} and the 'heads' section of BENCHMARKS.md")


if __name__ == "__main__":
    main()
