"""Inline HTML for notebooks: the units shaded by value and the top interactions, without page chrome.

Styles are scoped to the ``.proxyspex`` block so the notebook around it is untouched.
"""

from __future__ import annotations

import html
from collections import Counter

import numpy as np

_STYLE = """<style>
.proxyspex{font-family:system-ui,sans-serif;color:#222;max-width:60rem}
.proxyspex .pxs-units{line-height:2;border:1px solid #ddd;border-radius:6px;padding:.6rem;margin:.4rem 0}
.proxyspex .pxs-unit{padding:.1rem .2rem;border-radius:3px;unicode-bidi:isolate}
.proxyspex table{border-collapse:collapse}.proxyspex td,.proxyspex th{padding:.2rem .6rem;text-align:left}
.proxyspex .pxs-pos{color:#1a6b1a}.proxyspex .pxs-neg{color:#a11}.proxyspex .pxs-meta{color:#555}
</style>"""


def unit_labels(names: list[str]) -> list[str]:
    """Names, with ``#i`` (the feature index) appended where a name occurs more than once."""
    counts = Counter(names)
    return [f"{name}#{i}" if counts[name] > 1 else name for i, name in enumerate(names)]


def shade(value: float, scale: float) -> str:
    """CSS background: green for positive, red for negative, stronger with |value| / scale."""
    alpha = min(abs(value) / scale, 1.0) * 0.85 if scale > 0 else 0.0
    rgb = "40,160,60" if value >= 0 else "210,50,50"
    return f"background:rgba({rgb},{alpha:.3f})"


def units_html(names: list[str], values: np.ndarray, label: str) -> str:
    """Every unit as a span shaded by its value (hover shows it)."""
    scale = float(np.max(np.abs(values))) if len(values) else 0.0
    spans = "".join(f'<span class="pxs-unit" style="{shade(v, scale)}" title="{html.escape(label)} {v:+.3f}">'
                    f"{html.escape(name)}</span> " for name, v in zip(names, values))
    return f'<div class="pxs-units">{spans}</div>'


def rows_html(top: list[tuple[tuple[int, ...], float]], labels: list[str]) -> str:
    """The strongest sets as a table: order, units, value."""
    rows = "".join(f"<tr><td>{len(term)}</td><td>{html.escape(' × '.join(labels[i] for i in term))}</td>"
                   f'<td class="{"pxs-pos" if value >= 0 else "pxs-neg"}">{value:+.4f}</td></tr>'
                   for term, value in top)
    return f"<table><thead><tr><th>order</th><th>units</th><th>value</th></tr></thead><tbody>{rows}</tbody></table>"


def meta_html(items: dict) -> str:
    return '<p class="pxs-meta">' + " · ".join(
        f"{html.escape(str(k))}: <b>{html.escape(str(v))}</b>" for k, v in items.items()) + "</p>"


def render_values(values, top: int = 10) -> str:
    """An :class:`~proxyspex.interaction_values.InteractionValues` as an inline block."""
    labels = unit_labels(values.feature_names)
    meta = {"index": values.index, "max order": values.max_order, "baseline f(∅)": f"{values.baseline_value:+.4f}",
            "sets": len(values)}
    return (f'<div class="proxyspex">{_STYLE}{meta_html(meta)}'
            f"{units_html(labels, values.first_order(), f'first-order {values.index}')}"
            f"<b>Top interactions ({html.escape(values.index)})</b>{rows_html(values.top(top), labels)}</div>")


def render_explanation(result, top: int = 10, index: str = "moebius", unit_index: str = "shapley") -> str:
    """An :class:`~proxyspex.explanation.Explanation` as an inline block: faithfulness, cost, model, text, top sets."""
    labels = unit_labels(result.feature_names)
    description = (result.game_info or {}).get("description") or {}
    meta = {"faithfulness (held-out R²)": f"{result.faithfulness:.3f}", "inferences": result.n_queries,
            "paid": result.n_paid, "model": description.get("model", "n/a"), "terms": len(result.spectrum)}
    unit_values = result.values(unit_index).first_order()
    top_sets = result.values(index).top(top)
    return (f'<div class="proxyspex">{_STYLE}{meta_html(meta)}'
            f"<b>Units, shaded by {html.escape(unit_index)} value</b>{units_html(labels, unit_values, unit_index)}"
            f"<b>Top interactions ({html.escape(index)})</b>{rows_html(top_sets, labels)}</div>")
