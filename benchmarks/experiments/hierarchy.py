"""Experiment 4: is the spectrum sparse, low-degree and hierarchical? The seed's reason trees work.

For each game: the share of (non-constant) energy in the top-k terms, the energy by interaction
order, and the direct subset rate: the share of top-k terms of order >= 2 that have a proper,
non-empty subset also in the top-k. Spectra are exact where the full 2^n table is affordable,
otherwise those of a large-budget ProxySPEX fit (marked "estimated").
"""

from __future__ import annotations

import math

import numpy as np

from proxyspex.evaluate import spectral_hierarchy
from proxyspex.masks import all_masks
from proxyspex.spectrum import Spectrum

from .common import ours_on, save_figure, short

TOP_K = (5, 10, 20)


def spectrum_of(bench, max_enumerate: int, seed: int) -> tuple[Spectrum, str]:
    if bench.kind == "synthetic":
        s = bench.game.spectrum
        return (s if s.basis == "fourier" else s.to_fourier()), "exact (known)"
    if bench.n <= max_enumerate:
        return Spectrum.from_table(bench.queries(all_masks(bench.n))), f"exact (2^{bench.n} masks)"
    budget = int(8 * bench.n * math.log2(bench.n))
    X, y = bench.pool(budget, seed)
    return ours_on(bench, X, y, seed).spectrum, f"estimated (ProxySPEX, {budget} masks)"


def run(benches, *, max_enumerate: int, seed: int, progress=print) -> tuple[str, list[dict]]:
    rows = []
    for bench in benches:
        progress(f"  hierarchy: {bench.name}")
        spectrum, how = spectrum_of(bench, max_enumerate, seed)
        for basis, s in (("Fourier", spectrum), ("Moebius", spectrum.to_moebius())):
            rows.append({"input": bench.name, "n": bench.n, "source": how, "basis": basis,
                         **spectral_hierarchy(s, TOP_K)})
    return report(rows), rows


def report(rows: list[dict]) -> str:
    lines = [("Share of non-constant energy in the top-k terms, energy by order, and the direct subset rate "
              "(top-k terms of order ≥ 2 with a proper subset also in the top-k). "
              "Figure `benchmarks/figures/hierarchy.png`."), "",
             ("| input | n | spectrum | basis | top-5 | top-10 | top-20 | order 1 | order 2 | order 3 | order ≥4 "
              "| subset rate top-10 | top-20 |"), "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = [r[c] for c in ("top5", "top10", "top20", "order1", "order2", "order3", "order4+", "subset10",
                                "subset20")]
        lines.append(f"| {short(r['input'], 40)} | {r['n']} | {r['source']} | {r['basis']} | "
                     + " | ".join("—" if np.isnan(c) else f"{c:.2f}" for c in cells) + " |")
    figure(rows)
    return "\n".join(lines)


def figure(rows: list[dict]) -> None:
    import matplotlib.pyplot as plt
    fourier = [r for r in rows if r["basis"] == "Fourier"]
    fig, ax = plt.subplots(figsize=(max(4.5, 1.1 * len(fourier)), 3.4))
    bottom = np.zeros(len(fourier))
    for key, color in (("order1", "#4c72b0"), ("order2", "#dd8452"), ("order3", "#55a868"), ("order4+", "#c44e52")):
        vals = np.array([r[key] for r in fourier])
        ax.bar(range(len(fourier)), vals, bottom=bottom, color=color, label=key.replace("order", "order "))
        bottom += vals
    ax.set_xticks(range(len(fourier)), [short(r["input"], 18) for r in fourier], rotation=30, ha="right", fontsize=7)
    ax.set_ylabel("share of Fourier energy")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    save_figure(fig, "hierarchy.png")
