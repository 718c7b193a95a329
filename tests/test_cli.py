"""The command line and the HTML report."""

import subprocess
import sys

import pytest

import proxyspex as px
from proxyspex.cli import main
from proxyspex.report import render_html


def test_demo_writes_a_report(tmp_path, capsys):
    out = tmp_path / "report.html"
    assert main(["demo", "--out", str(out), "--no-cache"]) == 0
    printed = capsys.readouterr().out
    assert "never × fails" in printed and "faithfulness" in printed
    page = out.read_text()
    assert 'id="u2"' in page and "never" in page and "<script>" in page


def test_bad_budget_is_a_clean_error(capsys):
    assert main(["explain", "--task", "synthetic", "--n", "20", "--budget", "3", "--no-cache"]) == 2
    assert "budget=3 is below" in capsys.readouterr().err


def test_console_script_entry_point():
    result = subprocess.run([sys.executable, "-m", "proxyspex.cli", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "explain" in result.stdout


def test_explanation_writes_its_own_report(tmp_path):
    result = px.explain(px.games.DoubleNegativeGame(), budget=2 ** 14, cache=False)  # exact
    page = result.to_html(tmp_path / "r.html", title="dn").read_text()
    assert "<title>dn</title>" in page and "never × fails" in page


def test_report_escapes_names():
    result = px.explain(lambda X: X[:, 0] * 1.0, n=3, feature_names=["<b>", "&", "ok"], cache=False)
    page = render_html(result)
    units = page.split('id="units">')[1].split("</div>")[0]
    assert "&lt;b&gt;" in units and "&amp;" in units and "<b>" not in units


def test_rag_task_from_a_documents_file(tmp_path, capsys):
    pytest.importorskip("torch")
    docs = tmp_path / "docs.txt"
    docs.write_text("The author's first name is Maria.\n\nThe author's last name is Okafor.\n"
                    '{"text": "The book was published in 2019."}\n')
    out = tmp_path / "rag.html"
    code = main(["explain", "--task", "rag", "--question", "What is the full name of the author?",
                 "--docs", str(docs), "--budget", "8", "--top", "3", "--out", str(out), "--no-cache"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "8 queries" in printed and "faithfulness R^2 = 1.000" in printed  # 2^3 masks: exact
    assert "Okafor" in out.read_text()


def test_rag_task_needs_its_arguments(capsys):
    assert main(["explain", "--task", "rag", "--question", "Who?"]) == 2
    assert "--docs" in capsys.readouterr().err
