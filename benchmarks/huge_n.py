"""Huge n: n = 5000 features, 50,000 masks, wall time and peak memory of one explanation.

    python benchmarks/huge_n.py                       # n = 5000, budget 50,000, seed 0
    python benchmarks/huge_n.py --seeds 0 1 --profile # plus the top cProfile entries
    python benchmarks/huge_n.py --src /tmp/old/src --label before   # another source tree, e.g.
        # git archive <commit> src | tar -x -C /tmp/old

Each run is a fresh subprocess, so its peak RSS (``ru_maxrss``) is that run's alone. The
game is a ``SyntheticGame`` (random sparse AND terms of order <= 3, 1% noise variance);
faithfulness is the cross-validated estimate, and the exact R^2 against the clean function
comes from Parseval. Queries go through a SQLite cache in a temporary directory, so cache
writes are timed too. Writes the ``huge-n`` section of BENCHMARKS.md (unless ``--no-write``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks._report import header, update_section  # noqa: E402 (after the path set-up)

RESULTS = ROOT / "benchmarks" / "results" / "huge_n.json"
STAGES = {  # cumulative profile time of (file, function); design matrices are part of selection and refit
    "sample masks": ("masks.py", "sample_masks"),
    "query + SQLite cache": ("query.py", "__call__"),
    "LightGBM binning": ("lightgbm/basic.py", "construct"),
    "LightGBM boosting": ("lightgbm/engine.py", "train"),
    "tree extraction": ("trees.py", "booster_spectrum"),
    "support selection (CV)": ("proxy.py", "select_support"),
    "refit": ("proxy.py", "refit"),
    "design matrices": ("spectrum.py", "design_matrix"),
}


def child(n: int, budget: int, seed: int, interactions: int, profile: bool) -> dict:
    """One explanation in this process; returns its measurements."""
    import cProfile
    import io
    import pstats
    import resource
    import time

    import proxyspex as px
    from proxyspex.games import SyntheticGame

    game = SyntheticGame(n, n_interactions=interactions, max_order=3, noise=0.1, random_state=seed)
    profiler = cProfile.Profile() if profile else None
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        if profiler:
            profiler.enable()
        result = px.explain(game, budget=budget, random_state=seed, cache=Path(tmp) / "cache.sqlite",
                            progress=False)
        if profiler:
            profiler.disable()
        wall = time.perf_counter() - start
    stats, stages = "", {}
    if profiler:
        buffer = io.StringIO()
        table = pstats.Stats(profiler, stream=buffer)
        table.sort_stats("cumulative").print_stats(25)
        stats = buffer.getvalue()
        for stage, (file, function) in STAGES.items():
            stages[stage] = sum(ct for (path, _, name), (_, _, _, ct, _) in table.stats.items()
                                if path.endswith(file) and name == function)
    return {"n": n, "budget": budget, "seed": seed, "wall_s": wall,
            "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20,
            "faithfulness": result.faithfulness, "exact_r2": game.r2(result.spectrum),
            "terms": len(result.spectrum), "n_queries": result.n_queries, "profile": stats, "stages": stages}


def run(args, seed: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(Path(args.src).resolve()) if args.src else str(ROOT / "src"))
    command = [sys.executable, __file__, "--child", "--n", str(args.n), "--budget", str(args.budget),
               "--seeds", str(seed), "--interactions", str(args.interactions)] + (["--profile"] if args.profile else [])
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--budget", type=int, default=50_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--interactions", type=int, default=64)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--src", help="source tree (the folder holding proxyspex/) to measure instead of ./src")
    parser.add_argument("--label", default="this tree")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.n, args.budget, args.seeds[0], args.interactions, args.profile)))
        return
    rows = []
    for seed in args.seeds:
        row = {**run(args, seed), "label": args.label}
        print(row.pop("profile") or "", flush=True)
        print(json.dumps(row), flush=True)
        rows.append(row)
    if args.no_write:
        return
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    keep = [r for r in previous if (r.get("label"), r.get("seed"), r.get("n"), r.get("budget"))
            not in {(args.label, seed, args.n, args.budget) for seed in args.seeds}]
    RESULTS.write_text(json.dumps(keep + rows, indent=1))
    write_section(keep + rows, args)


def write_section(rows: list[dict], args) -> None:
    command = "python benchmarks/huge_n.py " + " ".join(sys.argv[1:])
    lines = ["## Huge n: 5000 features, 50,000 masks", "",
             header(command, sorted({r["seed"] for r in rows})), "",
             ("One `px.explain` of a `SyntheticGame(n, n_interactions=64, max_order=3, noise=0.1)` with a "
              "fixed budget, default parameters, SQLite cache; each run is its own process. Peak RSS is the "
              "process's `ru_maxrss`. The machine was shared with other jobs, so wall times are noisy. "
              "A `before` row is the same command on an older source tree: `git archive <commit> src | tar -x -C "
              "/tmp/old` then `--src /tmp/old/src --label ...`."), "",
             "| code | n | budget | seed | wall (s) | peak RSS (GiB) | faithfulness (CV) | exact R² | terms |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['label']} | {r['n']} | {r['budget']:,} | {r['seed']} | {r['wall_s']:.0f} | "
                     f"{r['peak_rss_gib']:.2f} | {r['faithfulness']:.4f} | {r['exact_r2']:.4f} | {r['terms']} |")
    profiled = [r for r in rows if r.get("stages")]
    if profiled:
        lines += ["", ("Where the time goes (cProfile, cumulative seconds, `--profile`; stages overlap: design "
                       "matrices are spent inside selection, refit and the synthetic game's own evaluation, and "
                       "code that bins lazily bins inside boosting):"), "",
                  "| stage | " + " | ".join(f"{r['label']} (seed {r['seed']})" for r in profiled) + " |",
                  "|---|" + "---|" * len(profiled)]
        for stage in STAGES:
            lines.append(f"| {stage} | " + " | ".join(f"{r['stages'].get(stage, 0):.1f}" for r in profiled) + " |")
    update_section("huge-n", "\n".join(lines))


if __name__ == "__main__":
    main()
