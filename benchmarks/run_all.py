"""Reproduce the seed's experiments in one command; tables go to BENCHMARKS.md, figures to benchmarks/figures/.

    python benchmarks/run_all.py --quick      # under 20 minutes on 2 cores (LLM outputs cached)
    python benchmarks/run_all.py --full       # larger grid, more inputs and seeds
    python benchmarks/run_all.py --quick --only recall,hierarchy --no-llm

Baselines: LASSO (core), KernelSHAP (shap) and SPEX (spectralexplain), both from the
``bench`` extra (``pip install -e '.[bench]'``); a missing one is reported, not faked.
Every LLM output goes to the query cache, so a rerun pays only for new masks.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._report import ROOT, header, update_section
from benchmarks.experiments import ablation, faithfulness, hierarchy, recall, removal
from benchmarks.experiments.common import llm_benches, synthetic_benches

SPEX_ORDER = 3  # the default: the same interaction order as ProxySPEX's default max_order
EXPERIMENTS = ("faithfulness", "removal", "recall", "hierarchy", "ablation")

SETTINGS = {
    "quick": {
        "synthetic": (32, 64, 128), "reviews": 4, "documents": 12, "seeds": (0, 1), "max_enumerate": 12,
        "ablation_sizes": (32, 64), "ablation_multiples": (0.5, 1, 2, 4), "spex_levels": (1, 2),
    },
    "full": {
        "synthetic": (32, 64, 128, 256), "reviews": 4, "documents": 12, "seeds": (0, 1, 2, 3, 4), "max_enumerate": 14,
        "ablation_sizes": (32, 64, 128), "ablation_multiples": (0.25, 0.5, 1, 2, 4, 8), "spex_levels": (1, 2, 3),
    },
}


def spex_budgets(levels, order: int = SPEX_ORDER):
    """SPEX's budgets: its minimum for this n (sparsity b = 3), then b = 4, ...; empty without the extra."""
    def budgets(n: int) -> list[int]:
        try:
            from proxyspex.baselines.spex import spex_num_samples
        except ImportError:
            return []
        return [spex_num_samples(n, 2 + level, order) for level in levels]
    return budgets


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="the small grid (default)")
    mode.add_argument("--full", action="store_true", help="the larger grid")
    parser.add_argument("--only", default=",".join(EXPERIMENTS), help="comma-separated experiments to run")
    parser.add_argument("--no-llm", action="store_true", help="synthetic games only")
    parser.add_argument("--cache", default=None, help="query cache file (default: the per-user cache)")
    parser.add_argument("--spex-order", type=int, default=SPEX_ORDER,
                        help="SPEX's interaction order t in the faithfulness experiment (the authors' default: 5)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", module="shap")  # "singular regression" at small budgets, expected there
    name = "full" if args.full else "quick"
    s = SETTINGS[name]
    only = [e.strip() for e in args.only.split(",") if e.strip()]
    unknown = set(only) - set(EXPERIMENTS)
    if unknown:
        parser.error(f"unknown experiments {sorted(unknown)}; choose from {list(EXPERIMENTS)}")
    if args.spex_order != SPEX_ORDER and only != ["faithfulness"]:
        parser.error("--spex-order applies to the faithfulness experiment only: add --only faithfulness")
    seed = s["seeds"][0]
    synthetic = synthetic_benches(s["synthetic"], seed=seed)
    llm = [] if args.no_llm else llm_benches(s["reviews"], s["documents"], args.cache)
    command = f"python benchmarks/run_all.py --{name}" + (" --no-llm" if args.no_llm else "") + \
        (f" --only {args.only}" if args.only != ",".join(EXPERIMENTS) else "") + \
        (f" --spex-order {args.spex_order}" if args.spex_order != SPEX_ORDER else "")
    results, started = {}, time.perf_counter()

    def section(key, body, rows, title=None):
        seeds = s["seeds"] if key.startswith(("recall", "ablation")) else [seed]
        update_section(f"seed-{key}", f"### {title or key.capitalize()}\n\n" + header(command, seeds) + "\n" + body)
        results[key] = rows
        print(f"{key} done at {time.perf_counter() - started:.0f} s")

    small_llm = [b for b in llm if b.n <= s["max_enumerate"]]
    if "faithfulness" in only:
        order = args.spex_order
        key = "faithfulness" if order == SPEX_ORDER else f"faithfulness-spex-t{order}"
        section(key, *faithfulness.run(synthetic + llm, spex_budgets=spex_budgets(s["spex_levels"], order),
                                       seed=seed, spex_order=order),
                title=None if order == SPEX_ORDER else f"Faithfulness against SPEX at t = {order}")
    if "removal" in only:
        section("removal", *removal.run(llm + synthetic[:1], budget=lambda n: int(2 * n * math.log2(n)),
                                        spex_budget=lambda n: (spex_budgets(s["spex_levels"])(n) or [None])[0],
                                        seed=seed))
    if "recall" in only:
        section("recall", *recall.run(synthetic + small_llm, seeds=s["seeds"]))
    if "hierarchy" in only:
        section("hierarchy", *hierarchy.run(llm + synthetic, max_enumerate=s["max_enumerate"], seed=seed))
    if "ablation" in only:
        benches = synthetic_benches(s["ablation_sizes"], seed=seed) + llm[:1]
        section("ablation", *ablation.run(benches, multiples=s["ablation_multiples"], seeds=s["seeds"]))
    out = ROOT / "benchmarks" / "results" / f"seed_{name}.json"
    out.parent.mkdir(exist_ok=True)
    previous = json.loads(out.read_text()) if out.exists() else {}
    out.write_text(json.dumps({**previous, **results}, indent=1, default=str))
    print(f"all done in {time.perf_counter() - started:.0f} s; tables in BENCHMARKS.md, figures in benchmarks/figures/")


if __name__ == "__main__":
    main()
