"""The command line's inputs: --docs files, --text-file and --text, with clear errors naming file and line."""

import re

import pytest

from proxyspex.cli import main
from proxyspex.textfiles import read_documents, read_text_file


def docs_file(tmp_path, text, name="docs.txt"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
    return path


def test_plain_lines_and_jsonl_are_read(tmp_path):
    assert read_documents(docs_file(tmp_path, "One.\n\n  Two.  \r\nThree.\n")) == ["One.", "Two.", "Three."]
    jsonl = docs_file(tmp_path, '{"text": "A."}\n\n{"text": " B. ", "id": 2}\n', "d.jsonl")
    assert read_documents(jsonl) == ["A.", "B."]
    assert read_documents(docs_file(tmp_path, '{"text": "A."}\n{"text": "B."}\n')) == ["A.", "B."]  # sniffed


def test_a_plain_document_starting_with_a_brace_stays_text(tmp_path):
    path = docs_file(tmp_path, "{Braces} open this document.\nA second one.\n")
    assert read_documents(path) == ["{Braces} open this document.", "A second one."]
    mixed = docs_file(tmp_path, '{"text": "looks like JSON"}\nbut this line is text\n')
    assert read_documents(mixed) == ['{"text": "looks like JSON"}', "but this line is text"]


@pytest.mark.parametrize("text, name, message", [
    ('{"text": "A."}\n\n{"body": "B."}\n', "d.jsonl", ":3: no 'text' field (keys: body)"),  # no text field
    ('{"text": "A."}\n{"text": null}\n', "d.txt", ":2: 'text' must be a non-empty string, got null"),  # not "None"
    ('{"text": "A."}\n{"text": "B.\n', "d.jsonl", ":2: not valid JSON"),
    ('{"text": "A."}\n{"text": "bad \\ud800 text"}\n', "d.txt", ":2 contains a lone surrogate U+D800 at character 5"),
])
def test_bad_docs_lines_name_the_file_and_line(tmp_path, text, name, message):
    path = docs_file(tmp_path, text, name)
    with pytest.raises(ValueError, match=re.escape(f"--docs {path}{message}")):
        read_documents(path)


def test_bytes_that_are_not_utf8_are_named(tmp_path):
    path = docs_file(tmp_path, b"fine\ncaf\xe9\n")
    with pytest.raises(ValueError, match=re.escape(f"{path}:2 is not valid UTF-8 (byte 0xe9 at offset 3)")):
        read_documents(path)


def test_a_huge_line_is_capped_before_decoding(tmp_path):
    path = docs_file(tmp_path, b"short\n" + b"x" * 2_000_001 + b"\n")
    with pytest.raises(ValueError, match=re.escape(f"{path}:2 is 2.0 MB, above the 1.0 MB cap per document")):
        read_documents(path)
    with pytest.raises(ValueError, match="larger than the 0.0 MB cap per file"):
        read_documents(path, file_limit=1000)


def test_an_empty_or_missing_file(tmp_path):
    with pytest.raises(ValueError, match="has no documents"):
        read_documents(docs_file(tmp_path, "\n  \n"))
    with pytest.raises(OSError, match="no such file"):
        read_documents(tmp_path / "missing.txt")


def test_text_file_is_read_and_capped(tmp_path):
    path = docs_file(tmp_path, "\ufeffA review.\n", "review.txt")
    assert read_text_file(path) == "A review.\n"
    big = docs_file(tmp_path, "word " * 300_000, "big.txt")
    with pytest.raises(ValueError, match=re.escape(f"--text-file {big} is larger than the 1.0 MB cap per text")):
        read_text_file(big)


# -- through the command line: exit code 2 and a message, never a traceback; nothing is loaded --------------
def run_cli(capsys, *argv):
    code = main(["explain", *argv, "--model", "/no/such/model", "--no-cache"])
    return code, capsys.readouterr().err


def test_cli_docs_errors_are_clean(tmp_path, capsys):
    path = docs_file(tmp_path, '{"text": "A."}\n{"text": null}\n')
    code, err = run_cli(capsys, "--task", "rag", "--question", "Who?", "--docs", str(path))
    assert code == 2 and f"{path}:2: 'text' must be a non-empty string" in err and "Traceback" not in err


def test_cli_text_with_a_surrogate_is_clean(capsys):
    code, err = run_cli(capsys, "--task", "sentiment", "--text", "caf\udce9 au lait")
    assert code == 2 and "--text contains a lone surrogate U+DCE9 at character 4" in err


def test_cli_text_file(tmp_path, capsys):
    code, err = run_cli(capsys, "--task", "sentiment", "--text-file", str(tmp_path / "none.txt"))
    assert code == 2 and "--text-file" in err and "no such file" in err
    code, err = run_cli(capsys, "--task", "sentiment", "--text", "a", "--text-file", "x.txt")
    assert code == 2 and "--text TEXT or --text-file FILE (one of them)" in err
