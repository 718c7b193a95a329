"""Core engine head-to-head: our ProxySPEX against shapiq's ProxySPEX (hpo on and off) and LASSO.

Same masks, same function, same run. Functions: sparse, low-degree, hierarchical synthetic
games (proxyspex.games.SyntheticGame) and saturating ones (games.synthetic.SaturatingGame: tanh
of a sparse sum plus OR terms), with and without noise. R^2 is measured on 2000 fresh uniform
masks against the clean function; fit time excludes querying f.

    python benchmarks/core.py --quick     # < 5 minutes
    python benchmarks/core.py --quick --family saturating --no-peers --no-write
    python benchmarks/core.py --full      # 3 seeds, both noise levels everywhere
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LassoCV

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._report import ROOT, header, update_section
from benchmarks.peers.shapiq_peer import ensure_venv, fit_shapiq_proxyspex
from proxyspex.games import SyntheticGame
from proxyspex.games.synthetic import SaturatingGame
from proxyspex.masks import sample_masks
from proxyspex.metrics import r2_score
from proxyspex.proxy import fit_proxy


def budgets(n: int) -> dict[str, int]:
    nlogn = n * math.log2(n)
    return {"n·log2 n": int(nlogn), "2·n·log2 n": int(2 * nlogn), "8n": 8 * n}


FAMILIES = {"hierarchical": SyntheticGame, "saturating": SaturatingGame}


def run_point(n: int, budget: int, noise: float, seed: int, venv, peers: bool, family: str = "hierarchical") -> dict:
    game = FAMILIES[family](n, noise=noise, random_state=seed)
    rng = np.random.default_rng(seed)
    X = sample_masks(n, budget, rng)
    y = game(X)
    X_test = sample_masks(n, 2000, np.random.default_rng(10_000 + seed))
    y_test = game.spectrum.predict(X_test)
    row = {"family": family, "n": n, "budget": budget, "noise": noise, "seed": seed}
    start = time.perf_counter()
    fit = fit_proxy(X, y, random_state=seed)
    row["ours_seconds"] = time.perf_counter() - start
    row["ours_r2"] = r2_score(y_test, fit.spectrum.predict(X_test))
    row["ours_cv_r2"] = fit.faithfulness
    row["ours_terms"] = len(fit.spectrum)
    start = time.perf_counter()
    lasso = LassoCV(cv=5, random_state=seed).fit(X, y)
    row["lasso_seconds"] = time.perf_counter() - start
    row["lasso_r2"] = r2_score(y_test, lasso.predict(X_test))
    if peers:
        for hpo in (False, True):
            peer = fit_shapiq_proxyspex(X, y, X_test, y_test, hpo=hpo, random_state=seed, venv=venv, threads=1)
            tag = "shapiq_hpo" if hpo else "shapiq"
            row[f"{tag}_r2"], row[f"{tag}_seconds"] = peer["r2"], peer["fit_seconds"]
    return row


def table(rows: list[dict], peers: bool) -> str:
    cols = ["family", "n", "budget", "noise", "ours R²", "ours CV R²", "LASSO R²"]
    if peers:
        cols += ["shapiq R²", "shapiq+HPO R²", "ours s", "shapiq s", "shapiq+HPO s", "speed-up vs HPO"]
    else:
        cols += ["ours s"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    keys = sorted({(r.get("family", "hierarchical"), r["n"], r["budget"], r["noise"]) for r in rows})
    for key in keys:
        group = [r for r in rows if (r.get("family", "hierarchical"), r["n"], r["budget"], r["noise"]) == key]
        mean = lambda k: float(np.nanmean([r[k] for r in group]))
        cells = [*key, f"{mean('ours_r2'):.3f}", f"{mean('ours_cv_r2'):.3f}",
                 f"{mean('lasso_r2'):.3f}"]
        if peers:
            cells += [f"{mean('shapiq_r2'):.3f}", f"{mean('shapiq_hpo_r2'):.3f}", f"{mean('ours_seconds'):.2f}",
                      f"{mean('shapiq_seconds'):.2f}", f"{mean('shapiq_hpo_seconds'):.2f}",
                      f"{mean('shapiq_hpo_seconds') / mean('ours_seconds'):.0f}x"]
        else:
            cells += [f"{mean('ours_seconds'):.2f}"]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--no-peers", action="store_true", help="skip shapiq (no Python 3.12 needed)")
    parser.add_argument("--seeds", type=int, nargs="+", help="override the seeds (with --no-write: a robustness check)")
    parser.add_argument("--noise", type=float, nargs="+", help="only these noise levels")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md and core.json")
    parser.add_argument("--family", choices=[*FAMILIES, "all"], default="all",
                        help="synthetic family: hierarchical AND terms, saturating (tanh + OR terms), or all")
    args = parser.parse_args()
    seeds = args.seeds or ([0, 1, 2] if args.full else [0])
    peers = not args.no_peers
    venv = ensure_venv() if peers else None
    families = list(FAMILIES) if args.family == "all" else [args.family]
    points = []
    for family in families:
        for n in (64, 128, 256):
            for label, budget in budgets(n).items():
                noises = (0.0, 0.3) if args.full or label == "2·n·log2 n" else (0.0,)
                noises = [x for x in noises if args.noise is None or x in args.noise]
                points += [(family, n, budget, noise, seed) for noise in noises for seed in seeds]
    rows = []
    for family, n, budget, noise, seed in points:
        row = run_point(n, budget, noise, seed, venv, peers, family)
        rows.append(row)
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
    if args.no_write:
        print(table(rows, peers))
        return
    out = ROOT / "benchmarks" / "results" / "core.json"
    out.write_text(json.dumps(rows, indent=1))
    command = ("python benchmarks/core.py " + ("--full" if args.full else "--quick")
               + (" --no-peers" if args.no_peers else ""))
    body = ("## Core engine: ours vs shapiq ProxySPEX vs LASSO\n\n" + header(command, seeds) +
            "\nSynthetic families: *hierarchical* (32 random AND terms of order ≤ 3) and *saturating* "
            "(`SaturatingGame`: tanh of a sparse sum over 16 features, inner std 2, plus 8 OR terms; every odd order "
            "of the 16, order ≤ 3 holds 97-98% of its variance); noise = noise std / signal std. "
            "R² on 2000 fresh uniform masks against the clean function. Seconds = surrogate fit only (f excluded). "
            "Both single-threaded (ours n_jobs=1; shapiq 1.8.0 in a Python 3.12 venv with OMP_NUM_THREADS=1), "
            "run one after the other on the same masks.\n\n" + table(rows, peers))
    update_section("core", body)
    print(body)


if __name__ == "__main__":
    main()
