"""Experiment 1: held-out R^2 against inferences, for ProxySPEX, SPEX and LASSO.

ProxySPEX and LASSO are fitted on prefixes of one pool of uniform masks (so each budget costs
only its new masks); SPEX queries its own structured masks and reports its real count.
Headline: for each input, the fewest inferences at which ProxySPEX reaches the R^2 that SPEX
reached, and the ratio of SPEX's inferences to ours.
"""

from __future__ import annotations

import math
import time

from .common import lasso_on, ours_on, save_figure, short, spex_on


def budget_grid(n: int, top: int) -> list[int]:
    """Budgets from 16 up to ``top``, each ~1.41x the last, capped by the 2^n masks there are."""
    cap = min(top, 2 ** n) if n < 40 else top
    grid = {round(16 * 2 ** (j / 2)) for j in range(40)}
    return sorted(b for b in grid | {cap} if b <= cap)


def run(benches, *, spex_budgets, seed: int, spex_order: int = 3, progress=print) -> tuple[str, list[dict]]:
    """R² against inferences per input; SPEX at interaction order ``spex_order``."""
    rows, started = [], time.perf_counter()
    for bench in benches:
        progress(f"  faithfulness: {bench.name} (at {time.perf_counter() - started:.0f} s)")
        test = None if bench.kind == "synthetic" else bench.test_set()
        spex = []
        for budget in spex_budgets(bench.n):
            try:
                result = spex_on(bench, budget, seed, max_order=spex_order)
            except ValueError as err:  # below SPEX's minimum for this n
                progress(f"    SPEX budget {budget}: {err}")
                continue
            if result is None:
                break
            spex.append(result)
            rows.append({"input": bench.name, "n": bench.n, "method": "SPEX", "inferences": result.n_queries,
                         "r2": bench.r2(result, test)})
        top = max([r.n_queries for r in spex] + [int(8 * bench.n * math.log2(bench.n))])
        grid = budget_grid(bench.n, top)
        X, y = bench.pool(grid[-1], seed)
        for budget in grid:
            for method, fit in (("ProxySPEX", ours_on), ("LASSO", lasso_on)):
                result = fit(bench, X[:budget], y[:budget], seed)
                rows.append({"input": bench.name, "n": bench.n, "method": method, "inferences": budget,
                             "r2": bench.r2(result, test), "seconds": result.details["seconds"]})
    return report(rows, spex_order), rows


MATCH_TOLERANCE = 0.01  # "reaches SPEX's R^2" means within this much of it


def headline(rows: list[dict]) -> list[dict]:
    """Per input: SPEX's cheapest point at its best R^2, and the fewest ProxySPEX inferences within
    MATCH_TOLERANCE of that R^2."""
    out = []
    for name in dict.fromkeys(r["input"] for r in rows):
        spex = [r for r in rows if r["input"] == name and r["method"] == "SPEX"]
        ours = sorted((r for r in rows if r["input"] == name and r["method"] == "ProxySPEX"),
                      key=lambda r: r["inferences"])
        if not spex:
            continue
        top = max(r["r2"] for r in spex)
        best = min((r for r in spex if r["r2"] >= top - MATCH_TOLERANCE), key=lambda r: r["inferences"])
        match = next((r for r in ours if r["r2"] >= best["r2"] - MATCH_TOLERANCE), None)
        out.append({"input": name, "n": best["n"], "spex_r2": best["r2"], "spex_inferences": best["inferences"],
                    "ours_inferences": match["inferences"] if match else None,
                    "ours_r2": match["r2"] if match else None,
                    "ours_best_r2": max(r["r2"] for r in ours),
                    "ratio": best["inferences"] / match["inferences"] if match else None})
    return out


def figure_name(spex_order: int) -> str:
    return "faithfulness.png" if spex_order == 3 else f"faithfulness_spex_t{spex_order}.png"


def report(rows: list[dict], spex_order: int = 3) -> str:
    lines = [(f"Held-out R² (exact by Parseval for synthetic games; 300 fresh uniform masks for LLM games) "
              f"against inferences; SPEX at interaction order t = {spex_order}. "
              f"Figure: `benchmarks/figures/{figure_name(spex_order)}`."), "",
             ("**Headline: inferences ProxySPEX needs to match SPEX's R²** (SPEX: its cheapest budget within "
              f"{MATCH_TOLERANCE} of its best R²; match: ProxySPEX within {MATCH_TOLERANCE} of that R²)"), "",
             "| input | n | SPEX R² | SPEX inferences | ProxySPEX inferences to match (R²) | ratio "
             "| ProxySPEX best R² |",
             "|---|---|---|---|---|---|---|"]
    for h in headline(rows):
        ours = f"{h['ours_inferences']} ({h['ours_r2']:.3f})" if h["ours_inferences"] is not None else "not reached"
        ratio = f"{h['ratio']:.1f}x" if h["ratio"] else "—"
        lines.append(f"| {short(h['input'], 48)} | {h['n']} | {h['spex_r2']:.3f} | {h['spex_inferences']} | {ours} "
                     f"| {ratio} | {h['ours_best_r2']:.3f} |")
    if not headline(rows):
        lines.append("| (SPEX not installed: `pip install -e '.[bench]'`) | | | | | | |")
    lines += ["", "**R² at each budget**", "", "| input | n | method | inferences → R² |", "|---|---|---|---|"]
    for name in dict.fromkeys(r["input"] for r in rows):
        for method in ("ProxySPEX", "SPEX", "LASSO"):
            pts = sorted((r["inferences"], r["r2"]) for r in rows if r["input"] == name and r["method"] == method)
            if pts:
                n = next(r["n"] for r in rows if r["input"] == name)
                cells = ", ".join(f"{b}→{r2:.2f}" for b, r2 in pts)
                lines.append(f"| {short(name, 48)} | {n} | {method} | {cells} |")
    figure(rows, figure_name(spex_order))
    return "\n".join(lines)


def figure(rows: list[dict], filename: str = "faithfulness.png") -> None:
    import matplotlib.pyplot as plt
    names = list(dict.fromkeys(r["input"] for r in rows))
    cols = min(3, len(names))
    n_rows = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(n_rows, cols, figsize=(4.2 * cols, 3.2 * n_rows), squeeze=False)
    styles = {"ProxySPEX": ("tab:blue", "o"), "SPEX": ("tab:orange", "s"), "LASSO": ("tab:gray", "^")}
    for ax, name in zip(axes.flat, names):
        for method, (color, marker) in styles.items():
            pts = sorted((r["inferences"], r["r2"]) for r in rows if r["input"] == name and r["method"] == method)
            if pts:
                ax.plot(*zip(*pts), marker=marker, color=color, label=method, ms=4)
        ax.set_xscale("log")
        ax.set_ylim(max(-0.1, min(ax.get_ylim()[0], 0)), 1.02)
        ax.set_title(short(name, 40), fontsize=9)
        ax.set_xlabel("inferences")
        ax.set_ylabel("held-out R²")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, filename)


__all__ = ["budget_grid", "headline", "run"]
