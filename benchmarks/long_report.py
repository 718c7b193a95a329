"""BENCHMARKS.md tables and figures/long_r2.png from results/long_inputs.json (see long_inputs.py)."""

from __future__ import annotations

import math
from itertools import pairwise
from pathlib import Path

from _report import machine, update_section

FIGURE = Path(__file__).resolve().parent / "figures" / "long_r2.png"
LABELS = {"proxyspex": "ProxySPEX", "lasso": "LASSO", "spex_t3": "SPEX t=3", "spex_t5": "SPEX t=5"}


def inferences_for(points: list[dict], target: float, key: str = "inferences") -> tuple[float, str]:
    """Inferences a method's ``points`` (``key``, ``"r2"``) need for R^2 ``target``, log-linear between
    measured budgets, and the bound: "at most" (already at the smallest), "about", or "more than"."""
    points = sorted(points, key=lambda p: p[key])
    if points[0]["r2"] >= target:
        return points[0][key], "at most"
    for low, high in pairwise(points):
        if high["r2"] >= target:
            share = (target - low["r2"]) / (high["r2"] - low["r2"])
            return round(math.exp(math.log(low[key]) + share * math.log(high[key] / low[key]))), "about"
    return points[-1][key], "more than"


def match_spex(points: list[dict]) -> dict | None:
    """Inferences ProxySPEX needs for SPEX's best R^2, and the ratio SPEX masks / ProxySPEX masks."""
    spex = [p for p in points if p["method"].startswith("spex")]
    ours = [p for p in points if p["method"] == "proxyspex"]
    if not spex or not ours:
        return None
    best = max(spex, key=lambda p: p["r2"])
    needed, bound = inferences_for(ours, best["r2"])
    return {"spex": best, "target": best["r2"], "needed": needed, "bound": bound,
            "ratio": best["inferences"] / needed}


def budget_table(results: dict[str, dict]) -> list[str]:
    lines = ["| input | n | α | masks | ProxySPEX R² | LASSO R² | ProxySPEX − LASSO | reported faithfulness | "
             "ProxySPEX wall time (masks paid) |", "|---|---|---|---|---|---|---|---|---|"]
    for name, record in results.items():
        lasso = {p["alpha"]: p for p in record["points"] if p["method"] == "lasso"}
        for p in sorted((p for p in record["points"] if p["method"] == "proxyspex"), key=lambda p: p["alpha"]):
            other = lasso.get(p["alpha"])
            lasso_r2, gap = (f"{other['r2']:.3f}", f"{p['r2'] - other['r2']:+.2f}") if other else ("–", "–")
            lines.append(f"| {name} | {record['n']} | {p['alpha']:g} | {p['inferences']} | {p['r2']:.3f} | "
                         f"{lasso_r2} | {gap} | {p['faithfulness']:.3f} | {wall_time(p)} |")
    return lines


def wall_time(point: dict) -> str:
    """The explain call's wall time and the masks it paid for (the rest came from the cache)."""
    if "explain_seconds" not in point:
        return "–"
    seconds = point["explain_seconds"]
    return f"{seconds / 60:.1f} min ({point['paid']})" if seconds >= 60 else f"{seconds:.0f} s ({point['paid']})"


def spex_table(results: dict[str, dict]) -> list[str]:
    lines = ["| input | n | SPEX t | b | distinct masks | SPEX R² | best SPEX R² matched by ProxySPEX at | ratio |",
             "|---|---|---|---|---|---|---|---|"]
    for name, record in results.items():
        match = match_spex(record["points"])
        for p in (p for p in record["points"] if p["method"].startswith("spex")):
            head = match and p is match["spex"]
            cell = f"{match['bound']} {match['needed']} masks" if head else ""
            mark = {"at most": "≥ ", "more than": "< "}.get(match["bound"], "") if head else ""  # bounds, not values
            ratio = f"**{mark}{match['ratio']:.1f}x**" if head else ""
            lines.append(f"| {name} | {record['n']} | {p['t']} | {p['b']} | {p['inferences']} | {p['r2']:.3f} | "
                         f"{cell} | {ratio} |")
    return lines


def figure(results: dict[str, dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, axes = plt.subplots(1, len(results), figsize=(3.2 * len(results), 3.0), squeeze=False)
    for ax, (name, record) in zip(axes[0], results.items()):
        for method, style in (("proxyspex", "o-"), ("lasso", "s--"), ("spex_t3", "^"), ("spex_t5", "v")):
            pts = sorted((p for p in record["points"] if p["method"] == method), key=lambda p: p["inferences"])
            if pts:
                ax.plot([p["inferences"] for p in pts], [p["r2"] for p in pts], style, label=LABELS[method], ms=5)
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_title(f"{name} (n={record['n']})", fontsize=9)
        ax.set_xlabel("distinct inferences", fontsize=8)
        ax.set_ylim(min(-0.1, ax.get_ylim()[0]), 1.0)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("held-out R² (1000 masks)", fontsize=8)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(FIGURE, dpi=80)
    plt.close(fig)


def render(results: dict[str, dict]) -> None:
    """Rewrite the ``long-inputs`` section of BENCHMARKS.md and the figure."""
    if not results:
        return
    figure(results)
    commands = sorted({r.get("command", "") for r in results.values()})
    body = [
        "## Long inputs (issue 11): held-out R² against inferences",
        "",
        "Inputs: `benchmarks/inputs/long/` (written for this repository): reviews of 61–291 words (features = "
        "words and punctuation runs, Sentiment margin log p(positive) − log p(negative)) and QA contexts of 48 and "
        "64 one-sentence documents (RAG, the model's own greedy answer, features = documents). Held-out R² on "
        "1000 uniform masks per input, queried once. Model: the embedded SmolLM2-135M-Instruct (dtype auto: fp32 "
        "on this CPU). "
        f"Machine: {machine()} (shared with other jobs). Command(s): "
        + ", ".join(f"`python benchmarks/long_inputs.py {c}`" for c in commands) + ".",
        "",
        "![held-out R² against inferences](benchmarks/figures/long_r2.png)",
        "",
        *budget_table(results),
        "",
        ("SPEX at its feasible budgets, and the headline: the inferences ProxySPEX needs to reach SPEX's best R² "
         "(log-linear between measured budgets; *at most* = already at ProxySPEX's smallest budget), and the "
         "ratio SPEX masks / ProxySPEX masks."),
        "",
        *spex_table(results),
    ]
    update_section("long-inputs", "\n".join(body))
