"""Stable identities for cache keys: canonical JSON, and the identity of a Python function.

A fingerprint must be the same in every process and differ whenever the values could. So
everything is reduced to plain JSON first; an object whose only description is a ``repr``
with a memory address (``<object at 0x...>``) is refused rather than hashed.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
import types
from typing import Any

import numpy as np

#: Version of the fingerprint layout and of what a cached value means. Bump it when either
#: changes, so no cache written under the old meaning is ever read back.
FINGERPRINT_VERSION = 2

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_PLAIN = (type(None), bool, int, float, str)


def digest(payload: Any, length: int = 32) -> str:
    """Hex SHA-256 of the canonical JSON of ``payload`` (see :func:`plain`)."""
    blob = json.dumps(plain(payload), sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:length]


def plain(value: Any, *, depth: int = 0) -> Any:
    """``value`` as JSON-ready data that is the same in every process, or a TypeError."""
    if depth > 20:
        raise TypeError("cannot fingerprint a structure nested more than 20 levels deep")
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        raw = array.astype(str) if array.dtype == object else array
        return {"array": str(array.dtype), "shape": list(array.shape),
                "sha256": hashlib.sha256(np.ascontiguousarray(raw).tobytes()).hexdigest()}
    if isinstance(value, dict):
        return {str(key): plain(item, depth=depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item, depth=depth + 1) for item in value]
    if isinstance(value, (set, frozenset)):
        return sorted((plain(item, depth=depth + 1) for item in value), key=repr)
    if hasattr(value, "fingerprint_data"):
        return {"type": _qualname(value), "data": plain(value.fingerprint_data(), depth=depth + 1)}
    if isinstance(value, (types.FunctionType, types.MethodType)):
        return function_identity(value, depth=depth + 1)
    if isinstance(value, (type, types.ModuleType, types.BuiltinFunctionType)):
        return {"name": _qualname(value)}
    text = repr(value)
    if _ADDRESS.search(text):
        raise TypeError(f"cannot fingerprint {_qualname(value)} (its repr holds a memory address); "
                        "give it a fingerprint_data() method returning what determines its behaviour")
    return {"type": _qualname(type(value)), "repr": text}


def function_identity(function: Any, *, depth: int = 0) -> dict[str, Any]:
    """What determines a Python function's results: its code (source where available), its
    defaults, the values its closure captures, and the plain-data globals it reads.

    Two lambdas with the same code but different captured values get different identities.
    A captured value or default that has no stable description raises TypeError naming it;
    a global without one counts by its type only. Classes count by name, not by their code.
    """
    if isinstance(function, types.MethodType):
        return {"method": function_identity(function.__func__, depth=depth + 1),
                "self": _named(plain, "the bound object", function.__self__, depth + 1)}
    code = function.__code__
    try:
        source = inspect.getsource(function)
    except (OSError, TypeError):
        source = None
    cells = [cell.cell_contents for cell in (function.__closure__ or ())]
    globals_read = {name: function.__globals__[name] for name in sorted(_names(code))
                    if name in function.__globals__ and not name.startswith("__")}
    return {
        "name": _qualname(function),
        "code": source if source is not None else _code_text(code),
        "defaults": _named(plain, "its defaults", function.__defaults__, depth + 1),
        "kwdefaults": _named(plain, "its keyword defaults", function.__kwdefaults__, depth + 1),
        "closure": {name: _named(plain, f"closure variable {name!r}", cell, depth + 1)
                    for name, cell in zip(code.co_freevars, cells)},
        "globals": {name: _global(value, depth + 1) for name, value in globals_read.items()},
    }


def _global(value: Any, depth: int) -> Any:
    """A global read by a function: functions by name and code (not followed further, so
    recursion ends), other values as :func:`plain`, or only their type where they have no
    stable description (a logger, a lock)."""
    if isinstance(value, types.FunctionType):
        try:
            code = inspect.getsource(value)
        except (OSError, TypeError):
            code = _code_text(value.__code__)
        return {"name": _qualname(value), "code": code}
    try:
        return plain(value, depth=depth)
    except (TypeError, RecursionError):
        return {"type": _qualname(type(value))}


def _named(fn: Any, what: str, value: Any, depth: int) -> Any:
    try:
        return fn(value, depth=depth)
    except TypeError as err:
        raise TypeError(f"{what}: {err}") from None
    except RecursionError:
        raise TypeError(f"{what} refers back to itself; give the function's owner a fingerprint_data()") from None


def _names(code: types.CodeType) -> set[str]:
    """Global names read by ``code`` and the code objects nested in it."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def _code_text(code: types.CodeType) -> str:
    consts = [_code_text(c) if isinstance(c, types.CodeType) else repr(c) for c in code.co_consts]
    return repr((code.co_code.hex(), consts, code.co_names, code.co_varnames))


def _qualname(value: Any) -> str:
    target = value if isinstance(value, (type, types.FunctionType, types.ModuleType, types.BuiltinFunctionType,
                                         types.MethodType)) else type(value)
    module = getattr(target, "__module__", None) or getattr(target, "__name__", "?")
    return f"{module}.{getattr(target, '__qualname__', getattr(target, '__name__', '?'))}"
