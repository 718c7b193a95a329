"""A self-contained HTML report: what is explained, the units shaded by attribution with the strongest pairs
drawn as arcs, and the top interactions.

Hovering or clicking an interaction highlights the units it joins. Each unit is isolated for bidirectional
text, so a name holding U+202E cannot reverse the units after it.
"""

from __future__ import annotations

import html
import json
import os
import tempfile
from pathlib import Path

from .assets import SCRIPT, STYLE
from .text import scrub, strongest_pairs, top_terms, unit_labels


def _text(value) -> str:
    """Escaped text that always encodes as UTF-8."""
    return html.escape(scrub(value))


def _shade(value: float, scale: float) -> str:
    """Green for positive, red for negative, alpha by magnitude."""
    alpha = min(abs(value) / scale, 1.0) * 0.85 if scale > 0 else 0.0
    rgb = "40,160,60" if value >= 0 else "210,50,50"
    return f"background: rgba({rgb},{alpha:.3f})"


def _names(labels: list[str], term) -> str:
    return " × ".join(f"<bdi>{_text(labels[i])}</bdi>" for i in term)


def _units_html(result, unit_index: str) -> str:
    attribution = result.index(unit_index)
    scale = max((abs(v) for v in attribution.values()), default=0.0)
    # Coarse-to-fine: a unit left whole ("sentence 3") shows its text, from details["unit_text"].
    shown = (getattr(result, "details", None) or {}).get("unit_text") or result.feature_names
    if len(shown) != result.n:
        shown = result.feature_names
    return " ".join(  # the spaces let a long text wrap
        f'<span class="unit{" coarse" if text != name else ""}" id="u{i}" '
        f'style="{_shade(attribution[(i,)], scale)}" title="{_text(name)} · feature {i} · {unit_index} '
        f'{attribution[(i,)]:+.3f}">{_text(text)}</span>'
        for i, (name, text) in enumerate(zip(result.feature_names, shown)))


def _rows_html(result, labels: list[str], *, top: int, shown: int, index: str, order: int | None) -> list[str]:
    rows = []
    for rank, (term, value) in enumerate(top_terms(result, top, index=index, order=order)):
        more = "" if rank < shown else ' data-more="1"'  # behind "show more"
        sign = "pos" if value >= 0 else "neg"
        rows.append(f'<tr class="inter"{more} data-units="{json.dumps(list(term))}"><td>{len(term)}</td>'
                    f'<td>{_names(labels, term)}</td><td class="{sign}">{value:+.4f}</td></tr>')
    return rows


def _pairs_html(result, labels: list[str], *, pairs: int, index: str) -> tuple[str, list]:
    found = strongest_pairs(result, pairs, index=index)
    scale = max((abs(v) for _, v in found), default=0.0) or 1.0
    data = [[i, j, round(v, 6), round(abs(v) / scale, 4)] for (i, j), v in found]
    spans = " ".join(f'<span class="pair {"pos" if v >= 0 else "neg"}" data-units="[{i}, {j}]">'
                     f'{_names(labels, (i, j))} {v:+.3f}</span>' for (i, j), v in found)
    return spans, data


def render_html(result, title: str = "proxyspex explanation", top: int = 50, index: str = "moebius",
                unit_index: str = "shapley", metadata: dict | None = None, *, order: int | None = None,
                shown: int = 10, pairs: int = 5, description: dict | None = None) -> str:
    """The report as one HTML string (no external resources).

    ``top`` interactions of ``index`` (at ``order``) are listed, the first ``shown`` visible and the rest behind
    "show more"; the ``pairs`` strongest pairs are drawn over the text. ``description`` (default:
    ``result.details["description"]``) says what is explained: task, prompt, target, model and its values.
    """
    labels = unit_labels(result.feature_names)
    rows = _rows_html(result, labels, top=top, shown=shown, index=index, order=order)
    pair_spans, pair_data = _pairs_html(result, labels, pairs=pairs, index=index)
    if description is None:
        description = (getattr(result, "details", None) or {}).get("description") or {}
    about = "".join(f"<tr><th>{_text(k)}</th><td><bdi>{_text(v)}</bdi></td></tr>" for k, v in description.items())
    meta = {"faithfulness (held-out R²)": f"{result.faithfulness:.3f}", "inferences": result.n_queries,
            "terms": len(result.spectrum), **(metadata or {})}
    meta_html = " · ".join(f"{_text(k)}: <b><bdi>{_text(v)}</bdi></b>" for k, v in meta.items())
    at = f", order {order}" if order is not None else ""
    more = (f'<button id="more" type="button" data-label="show {len(rows) - shown} more">show {len(rows) - shown} '
            "more</button>" if len(rows) > shown else "")
    pair_note = (f'<p class="meta pairs" id="pairs">Arcs: the {len(pair_data)} strongest pairs by '
                 f'{_text("moebius" if index in ("shapley", "banzhaf") else index)} (green raises the value beyond '
                 f"the two units alone, red lowers it): {pair_spans}</p>" if pair_data else "")
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{_text(title)}</title>
<style>{STYLE}</style></head><body>
<h1><bdi>{_text(title)}</bdi></h1>
<table class="about" id="about">{about}</table>
<p class="meta" id="meta">{meta_html}</p>
<h2>Units, shaded by {_text(unit_index)} value</h2>
<div class="textbox" id="textbox"><div class="textview" id="textview">
<svg class="arcs" id="arcs" xmlns="http://www.w3.org/2000/svg"></svg>
<div class="units" id="units">{_units_html(result, unit_index)}</div></div></div>
{pair_note}
<h2>Top interactions ({_text(index)}{at})</h2>
<p class="meta">Hover or click a row to highlight its units. name#i is the unit at feature index i, where a
name repeats.</p>
<table id="interactions" class="inter-table collapsed"><thead><tr><th>order</th><th>units</th><th>value</th></tr>
</thead><tbody>{''.join(rows)}</tbody></table>{more}
<script>const PAIRS={json.dumps(pair_data)};{SCRIPT}</script></body></html>"""


def write_html(result, path, **kwargs) -> Path:
    """Write :func:`render_html` to ``path`` atomically: a failure never leaves a partial or empty file."""
    path = Path(path)
    data = render_html(result, **kwargs).encode("utf-8")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
