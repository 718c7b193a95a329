"""The HTML report renders in a real browser (Debian's headless Chromium) and its interactions work."""

import html
import json
import re
import shutil
import subprocess

import pytest

import proxyspex as px
from proxyspex.report import render_html, write_html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")

# Runs after the report's own script and writes what the page looks like into the DOM.
PROBE = r"""<script>
const rect=i=>document.getElementById('u'+i).getBoundingClientRect();
const visible=[...document.querySelectorAll('tr.inter')].filter(r=>r.offsetParent!==null).length;
const row=document.querySelectorAll('tr.inter')[0];row.dispatchEvent(new MouseEvent('mouseenter'));
const lit=[...document.querySelectorAll('.unit.on')].map(u=>+u.id.slice(1));
row.dispatchEvent(new MouseEvent('mouseleave'));
document.getElementById('more').click();
const out={scrollWidth:document.documentElement.scrollWidth,width:window.innerWidth,visible,lit,
  afterMore:[...document.querySelectorAll('tr.inter')].filter(r=>r.offsetParent!==null).length,
  arcs:document.querySelectorAll('#arcs path').length,bidi:getComputedStyle(document.getElementById('u0')).unicodeBidi,
  boxes:[148,149,150,151,152].map(i=>[rect(i).left,rect(i).top])};
document.body.insertAdjacentHTML('beforeend','<pre id="pro'+'be">'+JSON.stringify(out)+'</pre>');
</script>"""


def chromium(*args, tmp_path):
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--disable-quic",
             f"--user-data-dir={tmp_path / 'profile'}"]
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def report(tmp_path):
    result = px.explain(px.games.DoubleNegativeGame(), budget=2 ** 14, cache=False)
    return write_html(result, tmp_path / "report.html", title="double negative")


def test_report_renders_units_and_interactions(report, tmp_path):
    shot = tmp_path / "shot.png"
    run = chromium(f"--screenshot={shot}", "--window-size=1200,900", report.as_uri(), tmp_path=tmp_path)
    assert shot.exists(), run.stderr[-2000:]
    assert shot.stat().st_size > 10_000  # a blank page is a few KB
    dom = chromium("--dump-dom", report.as_uri(), tmp_path=tmp_path).stdout
    assert dom.count('class="unit"') == 14 and ">never<" in dom and ">fails<" in dom
    assert dom.count('class="inter"') >= 5 and "never</bdi> × <bdi>fails" in dom
    assert dom.count("<path ") >= 1  # the never × fails arc is drawn


def test_pinning_an_interaction_highlights_its_units(report, tmp_path):
    dom = chromium("--dump-dom", report.as_uri() + "#pin=0", tmp_path=tmp_path).stdout
    highlighted = [part.split('id="u')[1].split('"')[0] for part in dom.split('<span class="unit on"')[1:]]
    assert sorted(highlighted) == ["2", "3"]  # "never" and "fails", the top Moebius interaction


def long_explanation(n: int = 300) -> px.Explanation:
    """A 300-unit text explanation with planted pairs; unit 150 holds an unclosed U+202E."""
    vocab = ["the", "film", "was", "not", "bad", "at", "all", "and", "the", "cast", "never", "fails", "to", "impress",
             "while", "the", "plot", "drags"]
    names = [vocab[i % len(vocab)] for i in range(n)]
    names[150] = "\u202eevil"
    moebius = {(3, 200): 3.0, (10,): -1.0, (50, 51): 2.0, (299,): 0.5, (120, 280): -1.0}
    moebius.update({(i,): 0.01 * (i % 7) for i in range(0, n, 5)})
    return px.Explanation(px.Spectrum.from_dict(n, moebius, basis="moebius").to_fourier(), names, 1.0, 0, 0)


def probe(page: str, tmp_path, *, width: int = 1000) -> dict:
    path = tmp_path / "probe.html"
    path.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = chromium("--dump-dom", f"--window-size={width},900", path.as_uri(), tmp_path=tmp_path).stdout
    return json.loads(html.unescape(re.search(r'<pre id="probe">(.*?)</pre>', dom).group(1)))


def test_a_300_unit_report_stays_readable(tmp_path):
    seen = probe(render_html(long_explanation(), top=40, shown=10), tmp_path)
    assert seen["scrollWidth"] <= seen["width"]  # the text wraps: no sideways scrolling
    assert seen["visible"] == 10 and seen["afterMore"] == 40  # a short list, and "show more" shows the rest
    assert sorted(seen["lit"]) == [3, 200]  # hovering the top interaction lights its two units
    assert seen["arcs"] == 3  # the three planted pairs, drawn over the text


def test_an_unclosed_right_to_left_override_stays_inside_its_unit(tmp_path):
    seen = probe(render_html(long_explanation()), tmp_path)
    (x148, y148), (x149, y149), _, (x151, y151), (x152, y152) = seen["boxes"]
    assert y151 == y152 and x151 < x152  # the units after U+202E still run left to right
    assert y148 == y149 and x148 < x149
    assert seen["bidi"] == "isolate"
