"""One way to validate arguments, in the spirit of scikit-learn's ``check_scalar``.

Convention: a value of the wrong *type* raises ``TypeError``; a value of the right type but
outside its range raises ``ValueError``. Every message names the argument and shows the value.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any


def is_int(value: Any) -> bool:
    """True for integers (numpy's included), False for bools and everything else."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_int(name: str, value: Any, *, min_value: int | None = None, max_value: int | None = None,
              allow_none: bool = False, what: str | None = None) -> int | None:
    """``value`` as an ``int``, or a ``TypeError``/``ValueError`` naming ``name``.

    ``what`` describes the expected value in messages (default: "an integer" with its bounds).
    """
    if value is None and allow_none:
        return None
    if what is None:
        what = _int_description(min_value, max_value)
    if not is_int(value):
        raise TypeError(f"{name} must be {what}, got {value!r}")
    if (min_value is not None and value < min_value) or (max_value is not None and value > max_value):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return int(value)


def check_real(name: str, value: Any, *, low: float | None = None, high: float | None = None,
               include_low: bool = True, include_high: bool = True, allow_none: bool = False,
               what: str | None = None) -> float | None:
    """``value`` as a finite ``float`` within the given bounds, or an error naming ``name``."""
    if value is None and allow_none:
        return None
    if what is None:
        what = _real_description(low, high, include_low, include_high)
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{name} must be {what}, got {value!r}")
    value = float(value)
    too_low = low is not None and (value < low or (value == low and not include_low))
    too_high = high is not None and (value > high or (value == high and not include_high))
    if not math.isfinite(value) or too_low or too_high:
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return value


def check_bool(name: str, value: Any) -> bool:
    """``value`` if it is a bool (numpy's included), else a ``TypeError``."""
    if not isinstance(value, (bool,)) and type(value).__name__ != "bool_":
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """``value`` if it is one of ``choices`` (strings), else an error listing them."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {', '.join(choices)}; got {value!r}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value


def check_feature_names(names: Sequence[str] | None, n: int) -> list[str]:
    """Validate user feature names against ``n``; ``None`` gives ``x0 .. x{n-1}``."""
    if names is None:
        return default_feature_names(n)
    if isinstance(names, (str, bytes)):
        raise TypeError(f"feature_names must be a sequence of names, not one {type(names).__name__}")
    names = [str(name) for name in names]
    if len(names) != n:
        raise ValueError(f"feature_names has {len(names)} entries but n={n}")
    return names


def default_feature_names(n: int) -> list[str]:
    """Names ``x0 .. x{n-1}`` for features of a plain value function."""
    return [f"x{i}" for i in range(n)]


def _int_description(min_value: int | None, max_value: int | None) -> str:
    if min_value == 1 and max_value is None:
        return "a positive integer"
    if min_value == 0 and max_value is None:
        return "a non-negative integer"
    if min_value is not None and max_value is not None:
        return f"an integer in [{min_value}, {max_value}]"
    if min_value is not None:
        return f"an integer >= {min_value}"
    if max_value is not None:
        return f"an integer <= {max_value}"
    return "an integer"


def _real_description(low, high, include_low, include_high) -> str:
    if low is None and high is None:
        return "a finite real number"
    left = "[" if include_low else "("
    right = "]" if include_high else ")"
    return f"in {left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
