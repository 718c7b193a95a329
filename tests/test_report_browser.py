"""The HTML report renders in a real browser (Debian's headless Chromium) and its interactions work."""

import shutil
import subprocess

import pytest

import proxyspex as px
from proxyspex.report import write_html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")


def chromium(*args, tmp_path):
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--disable-quic", f"--user-data-dir={tmp_path / 'profile'}"]
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=120)


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
    assert dom.count('class="inter"') >= 5 and "never × fails" in dom


def test_pinning_an_interaction_highlights_its_units(report, tmp_path):
    dom = chromium("--dump-dom", report.as_uri() + "#pin=0", tmp_path=tmp_path).stdout
    highlighted = [part.split('id="u')[1].split('"')[0] for part in dom.split('<span class="unit on"')[1:]]
    assert sorted(highlighted) == ["2", "3"]  # "never" and "fails", the top Moebius interaction
