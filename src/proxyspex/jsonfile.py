"""Plain JSON files: JSON-safe conversion, atomic writes, and reads that fail with a clear message."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np


def to_jsonable(value: Any) -> Any:
    """``value`` as plain JSON types: dataclasses and mappings become dicts, arrays and tuples lists.

    Numpy scalars become Python numbers; a non-finite float becomes ``None`` (JSON has no NaN);
    anything else unknown becomes its ``repr``.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"type": type(value).__name__, **to_jsonable(dataclasses.asdict(value))}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    return repr(value)


def write_json(path: str | os.PathLike, payload: Mapping) -> Path:
    """Write ``payload`` to ``path`` through a temporary file and a rename (never a half-written file)."""
    path = Path(path)
    text = json.dumps(payload, ensure_ascii=False, allow_nan=False, indent=1)
    handle, temporary = tempfile.mkstemp(dir=path.parent or ".", prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def read_json(path: str | os.PathLike, what: str) -> dict:
    """The JSON object in ``path``, or a ``ValueError`` naming the file and saying what was expected."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (expected {what})")
    try:
        with open(path, encoding="utf-8") as file:
            payload = json.load(file)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not a JSON file ({exc}); expected {what}") from None
    if not isinstance(payload, dict):
        raise ValueError(f"{path} holds a JSON {type(payload).__name__}, not an object; expected {what}")
    return payload
