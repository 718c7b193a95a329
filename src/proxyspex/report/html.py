"""A self-contained HTML report: the units shaded by attribution, and the top interactions.

Hovering or clicking an interaction highlights the units it joins.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
.units{line-height:2.2;font-size:1.15rem;border:1px solid #ddd;border-radius:6px;padding:1rem}
.unit{padding:.15rem .25rem;border-radius:4px;margin:0 .1rem;border:2px solid transparent;cursor:default}
.unit.on{border-color:#111;outline:2px solid #fc0}
table{border-collapse:collapse;margin-top:1rem;width:100%}
td,th{padding:.3rem .6rem;border-bottom:1px solid #eee;text-align:left}
tr.inter{cursor:pointer} tr.inter:hover,tr.inter.on{background:#fff6cc}
.pos{color:#1a6b1a}.neg{color:#a11}.meta{color:#555;font-size:.9rem}
"""

_SCRIPT = r"""
const rows=document.querySelectorAll('tr.inter');
function show(row,on){JSON.parse(row.dataset.units).forEach(i=>
  document.getElementById('u'+i).classList.toggle('on',on));row.classList.toggle('on',on);}
rows.forEach(r=>{r.addEventListener('mouseenter',()=>show(r,true));
  r.addEventListener('mouseleave',()=>{if(!r.dataset.pinned)show(r,false)});
  r.addEventListener('click',()=>{r.dataset.pinned=r.dataset.pinned?'':'1';show(r,!!r.dataset.pinned)});});
const pin=location.hash.match(/pin=(\d+)/);  // report.html#pin=0 opens with row 0 pinned
if(pin&&rows[+pin[1]])rows[+pin[1]].click();
"""


def _shade(value: float, scale: float) -> str:
    """Green for positive, red for negative, alpha by magnitude."""
    alpha = min(abs(value) / scale, 1.0) * 0.85 if scale > 0 else 0.0
    rgb = "40,160,60" if value >= 0 else "210,50,50"
    return f"background: rgba({rgb},{alpha:.3f})"


def render_html(result, title: str = "proxyspex explanation", top: int = 15, index: str = "moebius",
                unit_index: str = "shapley", metadata: dict | None = None) -> str:
    """The report as one HTML string (no external resources)."""
    attribution = result.index(unit_index)
    scale = max((abs(v) for v in attribution.values()), default=0.0)
    units = "".join(
        f'<span class="unit" id="u{i}" style="{_shade(attribution[(i,)], scale)}" '
        f'title="{unit_index} {attribution[(i,)]:+.3f}">{html.escape(name)}</span>'
        for i, name in enumerate(result.feature_names))
    rows = []
    for term, value in result.values(index).top(top):
        names = " × ".join(html.escape(result.feature_names[i]) for i in term)
        cls = "pos" if value >= 0 else "neg"
        rows.append(f'<tr class="inter" data-units="{json.dumps(list(term))}"><td>{len(term)}</td>'
                    f'<td>{names}</td><td class="{cls}">{value:+.4f}</td></tr>')
    meta = {"faithfulness (held-out R²)": f"{result.faithfulness:.3f}", "inferences": result.n_queries,
            "terms": len(result.spectrum), **(metadata or {})}
    meta_html = " · ".join(f"{html.escape(str(k))}: <b>{html.escape(str(v))}</b>" for k, v in meta.items())
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{_STYLE}</style></head><body>
<h1>{html.escape(title)}</h1>
<p class="meta" id="meta">{meta_html}</p>
<h2>Units, shaded by {html.escape(unit_index)} value</h2>
<div class="units" id="units">{units}</div>
<h2>Top interactions ({html.escape(index)})</h2>
<p class="meta">Hover or click a row to highlight its units.</p>
<table id="interactions"><thead><tr><th>order</th><th>units</th><th>value</th></tr></thead>
<tbody>{''.join(rows)}</tbody></table>
<script>{_SCRIPT}</script></body></html>"""


def write_html(result, path, **kwargs) -> Path:
    """Write :func:`render_html` to ``path``."""
    path = Path(path)
    path.write_text(render_html(result, **kwargs), encoding="utf-8")
    return path
