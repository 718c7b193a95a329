"""Read user text for the command line: a text file, or a file of documents (plain lines or JSONL).

Every error names the file (and the line) and says what to change. Sizes are capped before anything is
decoded, so a runaway 10 MB line never reaches a tokenizer.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

MAX_DOC_BYTES = 1_000_000  # one document, or one --text / --text-file
MAX_FILE_BYTES = 20_000_000  # one --docs file
JSONL_SUFFIXES = (".jsonl", ".ndjson")
_SURROGATE = re.compile("[\ud800-\udfff]")


def check_unicode(name: str, text: str) -> str:
    """``text`` if it holds no lone surrogate (which no tokenizer can encode), else a ``ValueError``."""
    match = _SURROGATE.search(text)
    if match:
        raise ValueError(f"{name} contains a lone surrogate U+{ord(match.group()):04X} at character "
                         f"{match.start() + 1}; it is not valid Unicode text (fix the encoding of the input)")
    return text


def check_size(name: str, text: str, limit: int = MAX_DOC_BYTES) -> str:
    """``text`` if its UTF-8 form fits in ``limit`` bytes, else a ``ValueError`` naming ``name``."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limit:
        raise ValueError(f"{name} is {_mb(size)}, above the {_mb(limit)} cap per text; split it or pass a shorter "
                         "excerpt (explanations of very long texts should use --coarse-to-fine)")
    return text


def read_text_file(path: str | Path, *, name: str = "--text-file", limit: int = MAX_DOC_BYTES) -> str:
    """The UTF-8 text of ``path`` (a leading BOM dropped), at most ``limit`` bytes."""
    path = Path(path)
    data = _read_capped(path, name, limit, what="per text")
    text = _decode(data, f"{name} {path}")
    if not text.strip():
        raise ValueError(f"{name} {path} is empty: there is no text to explain")
    return text


def read_documents(path: str | Path, *, limit: int = MAX_DOC_BYTES, file_limit: int = MAX_FILE_BYTES) -> list[str]:
    """One document per non-blank line, or JSONL objects with a ``text`` field.

    The file is JSONL when its suffix is ``.jsonl``/``.ndjson``, or when every non-blank line starts with
    ``{`` and the first of them is a JSON object; otherwise every line is plain text, even one that starts
    with ``{``. Errors name ``file:line``.
    """
    path = Path(path)
    data = _read_capped(path, "--docs", file_limit, what="per file")
    lines = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        where = f"--docs {path}:{number}"
        if len(raw) > limit:
            raise ValueError(f"{where} is {_mb(len(raw))}, above the {_mb(limit)} cap per document; split it "
                             "into several documents")
        line = _decode(raw, where).strip()
        if line:
            lines.append((number, line))
    if not lines:
        raise ValueError(f"--docs {path} has no documents: write one per line, or JSONL with a 'text' field")
    if _is_jsonl(path, lines):
        return [_jsonl_text(line, f"--docs {path}:{number}") for number, line in lines]
    return [line for _, line in lines]


def _read_capped(path: Path, name: str, limit: int, *, what: str) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise OSError(f"{name} {path}: no such file") from None
    except IsADirectoryError:
        raise OSError(f"{name} {path} is a directory; give a file") from None
    if len(data) > limit:
        raise ValueError(f"{name} {path} is larger than the {_mb(limit)} cap {what}; split it or shorten it")
    return data


def _decode(data: bytes, where: str) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{where} is not valid UTF-8 (byte 0x{data[err.start]:02x} at offset {err.start}); "
                         "save the file as UTF-8") from None
    return check_unicode(where, text.removeprefix("\ufeff"))


def _is_jsonl(path: Path, lines: list[tuple[int, str]]) -> bool:
    if path.suffix.lower() in JSONL_SUFFIXES:
        return True
    if not all(line.startswith("{") for _, line in lines):
        return False
    try:
        return isinstance(json.loads(lines[0][1]), dict)
    except ValueError:
        return False


def _jsonl_text(line: str, where: str) -> str:
    try:
        record = json.loads(line)
    except ValueError as err:
        raise ValueError(f"{where}: not valid JSON ({err.msg} at column {err.colno}); every line of a JSONL "
                         "file must be one object such as {\"text\": \"...\"}") from None
    if not isinstance(record, dict):  # bad file content, not a bad argument: ValueError
        raise ValueError(f"{where}: expected a JSON object with a 'text' field, got "  # noqa: TRY004
                         f"{type(record).__name__}")
    if "text" not in record:
        keys = ", ".join(map(str, record)) or "none"
        raise ValueError(f"{where}: no 'text' field (keys: {keys}); each JSONL line needs {{\"text\": \"...\"}}")
    text = record["text"]
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{where}: 'text' must be a non-empty string, got {json.dumps(text)[:40]}")
    return check_unicode(where, text.strip())


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"
