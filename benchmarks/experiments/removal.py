"""Experiment 2: remove the k features each surrogate says matter most; measure the model's change.

The pick accounts for interactions (exact search or MILP over the sparse surrogate, see
``proxyspex.selection``); for LASSO's first-order surrogate the same search reduces to ranking
by the first-order effects. The change is |f(all) - f(removed)| / |f(all)| on the model itself.
"""

from __future__ import annotations

import numpy as np

from proxyspex.evaluate import removal_curve

from .common import lasso_on, ours_on, save_figure, short, spex_on

METHODS = ("ProxySPEX", "SPEX", "LASSO", "ProxySPEX ¼")  # ¼: a quarter of the inferences


def run(benches, *, budget, spex_budget, seed: int, max_k: int = 10, progress=print) -> tuple[str, list[dict]]:
    rows = []
    for bench in benches:
        progress(f"  removal: {bench.name}")
        ks = range(1, min(max_k, bench.n - 1) + 1)
        spex_masks = spex_budget(bench.n)
        try:  # SPEX first: ProxySPEX and LASSO then get as many inferences as SPEX used
            spex = spex_on(bench, spex_masks, seed) if spex_masks else None
        except ValueError as err:
            progress(f"    SPEX: {err}")
            spex = None
        b = spex.n_queries if spex is not None else budget(bench.n)
        b = min(b, 2 ** bench.n) if bench.n < 40 else b
        X, y = bench.pool(b, seed)
        quarter = max(16, b // 4)
        results = {"ProxySPEX": ours_on(bench, X, y, seed),
                   "ProxySPEX ¼": ours_on(bench, X[:quarter], y[:quarter], seed),
                   "LASSO": lasso_on(bench, X, y, seed)}
        if spex is not None:
            results["SPEX"] = spex
        for method, result in results.items():
            curve = removal_curve(result, bench.queries, ks)
            for k, removed, change in zip(curve.k, curve.removed, curve.change):
                rows.append({"input": bench.name, "kind": bench.kind, "method": method, "k": int(k),
                             "inferences": result.n_queries, "removed": removed, "change": float(change)})
    return report(rows), rows


def report(rows: list[dict]) -> str:
    lines = [("Relative change |f(all) − f(removed)| / |f(all)| of the model when the k features each "
              "surrogate ranks most influential are removed (higher is better), every method at SPEX's number of "
              "inferences (ProxySPEX ¼: a quarter of them); per input, since inputs "
              "with a small |f(all)| have large relative changes. Figure `benchmarks/figures/removal.png` "
              "(median over inputs)."), "",
             "| input | method | inferences | " + " | ".join(f"k={k}" for k in range(1, 11)) + " |",
             "|---|---|---|" + "---|" * 10]
    for name in dict.fromkeys(r["input"] for r in rows):
        for method in METHODS:
            m = {r["k"]: r for r in rows if r["input"] == name and r["method"] == method}
            if m:
                cells = [f"{m[k]['change']:.3f}" if k in m else "" for k in range(1, 11)]
                inferences = next(iter(m.values()))["inferences"]
                lines.append(f"| {short(name, 40)} | {method} | {inferences} | " + " | ".join(cells) + " |")
    wins = win_counts(rows)
    if wins:
        lines += ["", "Per input and k, the share of cases where ProxySPEX's pick changes the model at least as "
                  "much as the other method's: " + ", ".join(f"vs {m}: {w:.0%}" for m, w in wins.items()) + "."]
    figure(rows)
    return "\n".join(lines)


def win_counts(rows: list[dict]) -> dict[str, float]:
    ours = {(r["input"], r["k"]): r["change"] for r in rows if r["method"] == "ProxySPEX"}
    out = {}
    for method in ("SPEX", "LASSO"):
        pairs = [(ours[(r["input"], r["k"])], r["change"]) for r in rows
                 if r["method"] == method and (r["input"], r["k"]) in ours]
        if pairs:
            out[method] = float(np.mean([a >= b - 1e-12 for a, b in pairs]))
    return out


def figure(rows: list[dict]) -> None:
    import matplotlib.pyplot as plt
    kinds = list(dict.fromkeys(r["kind"] for r in rows))
    fig, axes = plt.subplots(1, len(kinds), figsize=(4.5 * len(kinds), 3.3), squeeze=False)
    styles = {"ProxySPEX": ("tab:blue", "o"), "ProxySPEX ¼": ("tab:cyan", "o"), "SPEX": ("tab:orange", "s"),
              "LASSO": ("tab:gray", "^")}
    for ax, kind in zip(axes.flat, kinds):
        for method, (color, marker) in styles.items():
            m = [r for r in rows if r["kind"] == kind and r["method"] == method]
            ks = sorted({r["k"] for r in m})
            if ks:
                ax.plot(ks, [np.median([r["change"] for r in m if r["k"] == k]) for k in ks], marker=marker,
                        color=color, label=method, ms=4)
        ax.set_xlabel("features removed (k)")
        ax.set_ylabel("relative change of output (median)")
        ax.set_title(f"{kind} inputs", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, "removal.png")


__all__ = ["run", "short"]
