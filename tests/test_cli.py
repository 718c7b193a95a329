"""The command line and the HTML report."""

import re
import subprocess
import sys

import numpy as np
import pytest

import proxyspex as px
from proxyspex.cli import TASKS, main
from proxyspex.report import render_html, write_html
from proxyspex.report.text import format_summary, unit_labels

NEEDS_SAVE = pytest.mark.skipif(not (hasattr(px.Explanation, "save") and hasattr(px, "load")),
                                reason="Explanation.save / px.load come from the results branch")


def plain(page: str) -> str:
    """The page's text with tags removed (names sit in <bdi> elements)."""
    return re.sub(r"<[^>]+>", "", page)


def test_demo_writes_a_report(tmp_path, capsys, embedded_model_dir):
    out = tmp_path / "report.html"
    assert main(["demo", "--out", str(out), "--no-cache"]) == 0
    printed = capsys.readouterr().out
    assert "never × fails" in printed and "faithfulness" in printed
    assert "model: n/a" not in printed and re.search(r"model: SmolLM2-135M-Instruct\S* \(", printed)
    assert re.search(r"value, full input: positive, margin \+\d", printed)
    page = out.read_text()
    assert 'id="u2"' in page and "never" in page and "<script>" in page
    text = plain(page)
    assert "positive, margin +" in text and "positive vs negative" in text and re.search("smollm2", text, re.IGNORECASE)
    assert "n/a" not in text


def test_bad_budget_is_a_clean_error(capsys):
    assert main(["explain", "--task", "synthetic", "--n", "20", "--budget", "3", "--no-cache"]) == 2
    assert "budget=3 is below" in capsys.readouterr().err


@pytest.mark.parametrize("flags, message", [
    (["--top", "-2"], "--top must be a positive integer, got -2"),
    (["--budget", "0"], "--budget must be a positive integer, got 0"),
    (["--budget", "5"], "--budget=5 is below the 16 masks"),
    (["--order", "0"], "--order must be a positive integer, got 0"),
    (["--index", "shapley", "--order", "2"], "--index shapley is first order"),
    (["--unit", "document"], "--unit document does not apply to --task sentiment"),
    (["--keep", "2"], "--keep applies only with --coarse-to-fine"),
    (["--answer", "yes"], "--answer applies to --task rag"),
    (["--chat-template", "t.jinja"], "--chat-template needs --model set to a server URL"),
    (["--out", "/no/such/folder/r.html"], "the folder /no/such/folder does not exist"),
])
def test_arguments_are_checked_before_the_model_loads(flags, message, capsys):
    # The model path does not exist: an argument checked only after loading would report the model instead.
    argv = ["explain", "--task", "sentiment", "--text", "one two three four five six", "--model", "/no/such/model",
            *flags, "--no-cache"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "/no/such/model" not in err


def test_order_is_honoured_in_text_and_report(tmp_path, capsys):
    out = tmp_path / "r.html"
    argv = ["explain", "--task", "double-negative", "--budget", "16384", "--no-cache", "--index", "fsii"]
    assert main([*argv, "--order", "1", "--out", str(out)]) == 0
    first = capsys.readouterr().out
    assert "top 10 by fsii at order 1:" in first and "never × fails" not in first
    rows = re.findall(r'<tr class="inter"[^>]* data-units="\[([^\]]*)\]"', out.read_text())
    assert rows and all("," not in row for row in rows)  # first order only
    assert main([*argv, "--order", "2"]) == 0
    assert "never × fails" in capsys.readouterr().out


def test_repeated_units_are_named_with_their_position():
    assert unit_labels(["the", "cat", "saw", "the", "dog", "."]) == ["the#0", "cat", "saw", "the#3", "dog", "."]
    names = ["the", "cat", "saw", "the", "dog"]
    result = px.explain(lambda X: 2.0 * (X[:, 3] & X[:, 4]) + X[:, 1], n=5, feature_names=names, budget=32,
                        cache=False)
    summary = format_summary(result, 3, index="moebius")
    assert "the#3 × dog" in summary and "name#i: the unit at feature index i" in summary
    assert "the#3 × dog" in plain(render_html(result))


def test_task_help_lists_every_task():
    result = subprocess.run([sys.executable, "-m", "proxyspex.cli", "explain", "--help"], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0
    for task in TASKS:
        assert task in result.stdout
    assert "never" in result.stdout  # double-negative is described, not only named


def test_console_script_entry_point():
    result = subprocess.run([sys.executable, "-m", "proxyspex.cli", "--help"], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0 and "explain" in result.stdout and "show" in result.stdout


def test_explanation_writes_its_own_report(tmp_path):
    result = px.explain(px.games.DoubleNegativeGame(), budget=2 ** 14, cache=False)  # exact
    page = result.to_html(tmp_path / "r.html", title="dn").read_text()
    assert "<title>dn</title>" in page and "never × fails" in plain(page)


def test_report_says_what_is_explained(tmp_path, capsys):
    out = tmp_path / "r.html"
    assert main(["explain", "--task", "double-negative", "--budget", "16384", "--no-cache", "--out", str(out)]) == 0
    assert "value, full input: +2.8; empty input: -1" in capsys.readouterr().out
    text = plain(out.read_text())
    assert "taskdouble-negative" in text and "value, full input+2.8" in text and "value, empty input-1" in text


def test_report_escapes_names():
    result = px.explain(lambda X: X[:, 0] * 1.0, n=3, feature_names=["<b>", "&", "ok"], cache=False)
    page = render_html(result)
    units = page.split('id="units">')[1].split("</div>")[0]
    assert "&lt;b&gt;" in units and "&amp;" in units and "<b>" not in units


def test_report_isolates_each_unit_for_bidi_text():
    result = px.explain(lambda X: X[:, 0] * 1.0 + X[:, 1] * X[:, 2], n=3, feature_names=["\u202eabc", "x", "y"],
                        cache=False)
    page = render_html(result)
    assert re.search(r"\.unit\{unicode-bidi:isolate", page) and "bdi{unicode-bidi:isolate}" in page
    assert "<bdi>\u202eabc</bdi>" in page or "<bdi>x</bdi> × <bdi>y</bdi>" in page


def test_a_lone_surrogate_never_breaks_or_empties_the_report(tmp_path):
    result = px.explain(lambda X: X[:, 0] * 1.0, n=2, feature_names=["bad\udcff", "ok"], cache=False)
    (tmp_path / "out").mkdir()
    path = tmp_path / "out" / "r.html"
    path.write_text("the old report")
    write_html(result, path)
    assert "bad\ufffd" in path.read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="unknown index"):
        write_html(result, path, index="nope")  # fails while rendering: the old file stays whole
    assert "bad\ufffd" in path.read_text(encoding="utf-8")
    assert sorted(p.name for p in path.parent.iterdir()) == ["r.html"]  # no temporary file left behind


def test_the_report_lists_few_rows_and_hides_the_rest():
    spectrum = px.Spectrum.from_dict(30, {(i,): float(i + 1) for i in range(30)}, basis="moebius").to_fourier()
    result = px.Explanation(spectrum, [f"w{i}" for i in range(30)], 1.0, 0, 0)
    page = render_html(result, top=25, shown=10)
    assert page.count('<tr class="inter"') == 25 and page.count('<tr class="inter" data-more="1"') == 15
    assert "show 15 more" in page


def test_rag_task_from_a_documents_file(tmp_path, capsys, embedded_model_dir):
    docs = tmp_path / "docs.txt"
    docs.write_text("The author's first name is Maria.\n\nThe author's last name is Okafor.\n"
                    "The book was published in 2019.\n")
    out = tmp_path / "rag.html"
    code = main(["explain", "--task", "rag", "--question", "What is the full name of the author?",
                 "--docs", str(docs), "--budget", "8", "--top", "3", "--out", str(out), "--no-cache",
                 "--answer", "Maria Okafor"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "8 queries" in printed and "faithfulness R^2 = 1.000" in printed  # 2^3 masks: exact
    assert "answer: Maria Okafor" in printed and "log p(target)" in printed
    page = plain(out.read_text())
    assert "Okafor" in page and "What is the full name of the author?" in page


def test_rag_task_needs_its_arguments(capsys):
    assert main(["explain", "--task", "rag", "--question", "Who?"]) == 2
    assert "--docs" in capsys.readouterr().err


def test_rag_over_a_server_uses_the_chat_template_and_the_answer(tmp_path, capsys):
    from openai_stub import ToyLM, serve

    from proxyspex.models.openai.identity import PROBE_PROMPT

    template = tmp_path / "chat.jinja"
    template.write_text("{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}</{{ m['role'] }}>{% endfor %}"
                        "{% if add_generation_prompt %}<assistant>{% endif %}")
    docs = tmp_path / "docs.txt"
    docs.write_text("Lisbon is the capital of Portugal.\nMadrid is in Spain.\n")
    with serve(ToyLM()) as stub:
        code = main(["explain", "--task", "rag", "--question", "Capital of Portugal?", "--docs", str(docs),
                     "--model", stub.url, "--chat-template", str(template), "--answer", "Lisbon",
                     "--budget", "4", "--no-cache"])
        prompts = [r["payload"]["prompt"] for r in stub.requests if r["path"].endswith("/completions")
                   and r["payload"]["prompt"] != PROBE_PROMPT]  # the back-end's identity probe is untemplated
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "answer: Lisbon" in printed and "model: toy-lm at http://127.0.0.1" in printed
    assert prompts and all(p.startswith("<user>Answer the question") and "<assistant>" in p for p in prompts)


@NEEDS_SAVE
def test_save_then_show_without_the_model(tmp_path, capsys):
    saved, out = tmp_path / "x.json", tmp_path / "shown.html"
    assert main(["explain", "--task", "double-negative", "--budget", "16384", "--no-cache", "--save", str(saved)]) == 0
    explained = capsys.readouterr().out
    assert main(["show", str(saved), "--index", "shapley", "--top", "3", "--out", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "top 3 by shapley" in shown and "task: double-negative" in shown
    assert "value, full input+2.8" in plain(out.read_text())
    plot = tmp_path / "bar.png"
    assert main(["show", str(saved), "--plot", str(plot)]) == 0 and plot.read_bytes()[:4] == b"\x89PNG"
    capsys.readouterr()
    assert main(["show", str(saved)]) == 0  # the same list as when it was explained
    assert capsys.readouterr().out.split("top 10 by")[1] == explained.split("top 10 by")[1].split("saved:")[0]


@NEEDS_SAVE
def test_show_reads_a_file_saved_from_python(tmp_path, capsys):
    saved = px.explain(px.games.SyntheticGame(12, random_state=0), budget=64, cache=False).save(tmp_path / "s.json")
    assert main(["show", str(saved), "--top", "2"]) == 0
    printed = capsys.readouterr().out
    assert "task: SyntheticGame" in printed and "top 2 by moebius" in printed


def test_show_needs_a_file(tmp_path, capsys):
    assert main(["show", str(tmp_path / "none.json")]) == 2
    assert "none.json" in capsys.readouterr().err


def test_coarse_to_fine_over_a_server(tmp_path, capsys):
    from openai_stub import ToyLM, serve

    review = tmp_path / "review.txt"
    review.write_text("The plot was thin. But the cast never fails to impress. I would watch it again.")
    with serve(ToyLM()) as stub:
        code = main(["explain", "--task", "sentiment", "--text-file", str(review), "--model", stub.url,
                     "--coarse-to-fine", "--keep", "1", "--budget", "60", "--no-cache",
                     "--out", str(tmp_path / "c2f.html")])
    printed = capsys.readouterr().out
    assert code == 0, printed
    line = next(line for line in printed.splitlines() if line.startswith("features at mixed levels"))
    names = line.split(": ", 1)[1].split(", ")
    assert "(sentence → word)" in line and sum(name.startswith("sentence ") for name in names) == 2
    units = plain((tmp_path / "c2f.html").read_text().split('id="units">')[1].split("</div>")[0])
    assert "sentence " not in units  # a sentence left whole shows its text in the report, not its name
    assert "never" in units and ("The plot was thin ." in units or "I would watch it again ." in units)
    words = [name for name in names if not name.startswith("sentence ")]
    assert len(words) in (5, 8, 6)  # the strongest sentence split into its words, "." one of them
    assert words[-1].startswith(".")


def test_coarse_to_fine_flags_are_checked(capsys):
    assert main(["explain", "--task", "synthetic", "--coarse-to-fine", "--no-cache"]) == 2
    assert "--coarse-to-fine applies to --task sentiment or rag" in capsys.readouterr().err


class CountingGame(px.games.SyntheticGame):
    calls = 0

    def value(self, masks):
        self.calls += len(masks)
        return super().value(masks)


def test_anchor_values_come_from_the_cache(tmp_path):
    from proxyspex.cli_commands import anchor_values

    game = CountingGame(20, random_state=0)
    cache = tmp_path / "c.sqlite"
    result = px.explain(game, budget=100, cache=cache, random_state=0)
    paid = game.calls
    full, empty = anchor_values(game, result, cache=cache)
    assert game.calls == paid  # the explanation paid for both anchors already
    np.testing.assert_allclose([full, empty], game(np.array([np.ones(20, bool), np.zeros(20, bool)])), atol=1e-9)


def test_chat_template_server_is_passed_through_without_reading_a_file():
    from proxyspex.cli import build_parser
    from proxyspex.cli_commands import check_args

    args = build_parser().parse_args(["explain", "--task", "rag", "--question", "Q?", "--docs", __file__,
                                      "--model", "http://127.0.0.1:9/v1", "--chat-template", "server"])
    assert check_args(args)["chat_template"] == "server"  # no file called 'server' is read
    args = build_parser().parse_args(["explain", "--task", "rag", "--question", "Q?", "--docs", __file__,
                                      "--chat-template", "server"])
    with pytest.raises(ValueError, match="--chat-template needs --model set to a server URL"):
        check_args(args)
