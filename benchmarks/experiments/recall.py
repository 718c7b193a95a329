"""Experiment 3: top-10 Shapley recall after alpha * n * log2(n) inferences, ProxySPEX vs KernelSHAP.

Ground truth: exact Shapley values from the known spectrum (synthetic games), from the full
2^n table (LLM games with n <= MAX_ENUMERATE), else KernelSHAP at a very large budget.
"""

from __future__ import annotations

import math

import numpy as np

from proxyspex.evaluate import shapley_recall
from proxyspex.indices import interaction_values
from proxyspex.masks import MIN_BUDGET, all_masks
from proxyspex.spectrum import Spectrum

from .common import kernelshap_on, ours_on, save_figure, short

ALPHAS = (0.25, 0.5, 0.75, 1.0)
MAX_ENUMERATE = 16
TRUTH_BUDGET_FACTOR = 40  # KernelSHAP ground truth at 40 n log2 n when n is too big to enumerate


def ground_truth(bench, seed: int) -> tuple[np.ndarray, str]:
    """Exact Shapley values where possible, with a word saying how they were obtained."""
    if bench.kind == "synthetic":
        spectrum = bench.game.spectrum
        fourier = spectrum if spectrum.basis == "fourier" else spectrum.to_fourier()
        values = interaction_values(fourier, "shapley").to_dict()
        return np.array([values.get((i,), 0.0) for i in range(bench.n)]), "exact (known spectrum)"
    if bench.n <= MAX_ENUMERATE:
        table = bench.queries(all_masks(bench.n))
        values = interaction_values(Spectrum.from_table(table), "shapley").to_dict()
        return np.array([values.get((i,), 0.0) for i in range(bench.n)]), f"exact (all 2^{bench.n} masks)"
    budget = int(TRUTH_BUDGET_FACTOR * bench.n * math.log2(bench.n))
    result = kernelshap_on(bench, budget, seed + 1)
    if result is None:
        raise ImportError("KernelSHAP ground truth needs the bench extra: pip install -e '.[bench]'")
    values = result.index("shapley")
    return np.array([values[(i,)] for i in range(bench.n)]), f"KernelSHAP at {result.n_queries} inferences"


def run(benches, *, seeds, progress=print) -> tuple[str, list[dict]]:
    rows = []
    for bench in benches:
        progress(f"  recall: {bench.name}")
        truth, how = ground_truth(bench, seeds[0])
        k = min(10, bench.n // 2)
        for alpha in ALPHAS:
            budget = max(MIN_BUDGET, round(alpha * bench.n * math.log2(bench.n)))
            budget = min(budget, 2 ** bench.n)
            for seed in seeds:
                X, y = bench.pool(budget, seed)
                rows.append({"input": bench.name, "n": bench.n, "truth": how, "alpha": alpha, "k": k,
                             "method": "ProxySPEX", "seed": seed, "inferences": budget,
                             "recall": shapley_recall(ours_on(bench, X, y, seed), truth, k)})
                shap = kernelshap_on(bench, budget, seed)
                if shap is not None:
                    rows.append({"input": bench.name, "n": bench.n, "truth": how, "alpha": alpha, "k": k,
                                 "method": "KernelSHAP", "seed": seed, "inferences": shap.n_queries,
                                 "recall": shapley_recall(shap, truth, k)})
    return report(rows, seeds), rows


def report(rows: list[dict], seeds) -> str:
    lines = [(f"Top-k Shapley recall (k = min(10, n/2)), mean over seeds {list(seeds)}, at α·n·log2 n "
              f"inferences (at least {MIN_BUDGET}). Figure `benchmarks/figures/recall.png`."), "",
             "| input | n | ground truth | method | " + " | ".join(f"α={a}" for a in ALPHAS) + " |",
             "|---|---|---|---|" + "---|" * len(ALPHAS)]
    for name in dict.fromkeys(r["input"] for r in rows):
        for method in ("ProxySPEX", "KernelSHAP"):
            sub = [r for r in rows if r["input"] == name and r["method"] == method]
            if not sub:
                continue
            cells = []
            for a in ALPHAS:
                hits = [r for r in sub if r["alpha"] == a]
                cells.append(f"{np.mean([r['recall'] for r in hits]):.2f} ({hits[0]['inferences']})")
            lines.append(f"| {short(name, 40)} | {sub[0]['n']} | {sub[0]['truth']} | {method} | "
                         + " | ".join(cells) + " |")
    lines += ["", "Cells: recall (inferences actually used by that method).", "", summary(rows)]
    figure(rows)
    return "\n".join(lines)


def summary(rows: list[dict]) -> str:
    parts = []
    for a in ALPHAS:
        ours = np.mean([r["recall"] for r in rows if r["alpha"] == a and r["method"] == "ProxySPEX"])
        theirs = [r["recall"] for r in rows if r["alpha"] == a and r["method"] == "KernelSHAP"]
        if theirs:
            parts.append(f"α={a}: ProxySPEX {ours:.2f} vs KernelSHAP {np.mean(theirs):.2f}")
    return ("Mean over all inputs — " + "; ".join(parts) + ".") if parts else "KernelSHAP not installed."


def figure(rows: list[dict]) -> None:
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(4.5, 3.3))
    for method, color, marker in (("ProxySPEX", "tab:blue", "o"), ("KernelSHAP", "tab:green", "D")):
        means = [np.mean([r["recall"] for r in rows if r["alpha"] == a and r["method"] == method] or [np.nan])
                 for a in ALPHAS]
        ax.plot(ALPHAS, means, marker=marker, color=color, label=method)
    ax.set_xlabel("α (inferences = α · n · log2 n)")
    ax.set_ylabel("top-10 Shapley recall")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, "recall.png")
