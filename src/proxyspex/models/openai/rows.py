"""Scoring many prompts concurrently without losing the good rows to one bad one.

A row fails alone when the server refuses its request for good (a 4xx such as a content
filter's 400) or its target cannot be read (:class:`RowFailure`): the other rows are kept,
and a :class:`~proxyspex.errors.PartialOutputError` carries them, NaN on the failed rows.
Anything that no row could survive (401/403, an unknown model or route, a timeout, retries
used up) stops the start of further rows; rows already done are still returned in the error.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor

import numpy as np

from proxyspex.errors import PartialOutputError
from proxyspex.models.openai.http import UNAUTHORISED, ServerError


class RowFailure(ValueError):
    """This prompt's target cannot be scored (the other prompts may still be)."""


def fails_alone(err: BaseException) -> bool:
    """True for an error that concerns one request only."""
    if isinstance(err, RowFailure):
        return True
    return (isinstance(err, ServerError) and not err.retryable and err.status not in UNAUTHORISED
            and err.status != 404)


def collect_rows(score_row: Callable[[int], list[float]], m: int, k: int, pool: Executor, *,
                 where: str) -> np.ndarray:
    """``(m, k)`` values of ``score_row(i)`` for every row ``i``; row 0 runs first on its own
    (it teaches the back-end which path each target takes), the others on ``pool``."""
    out = np.full((m, k), np.nan)
    failures: list[tuple[int, str, BaseException]] = []
    fatal: list[BaseException] = []
    lock, stop = threading.Lock(), threading.Event()

    def run(i: int) -> None:
        if stop.is_set():
            return
        try:
            out[i] = score_row(i)
        except Exception as err:  # noqa: BLE001 - sorted below, and re-raised if no row survives
            with lock:
                failures.append((i, str(err), err))
                if not fails_alone(err):
                    stop.set()
                    fatal.append(err)

    run(0)
    if m > 1:
        list(pool.map(run, range(1, m)))
    if not failures:
        return out
    done = int(np.isfinite(out).all(axis=1).sum())
    failures.sort(key=lambda item: item[0])
    first = fatal[0] if fatal else failures[0][2]
    if done == 0 and (fatal or len({text for _, text, _ in failures}) == 1):
        raise first  # nothing to keep: the original error, unchanged
    failed = {row for row, _, _ in failures}
    skipped = [(row, f"not sent after: {first}") for row in range(m) if row not in failed
               and not np.isfinite(out[row]).all()]
    reasons = [(row, text) for row, text, _ in failures] + skipped
    shown = "; ".join(f"row {row}: {text}" for row, text, _ in failures[:3])
    more = f" (and {len(failures) - 3} more)" if len(failures) > 3 else ""
    stopped = f"; {len(skipped)} rows were not sent after that" if skipped else ""
    raise PartialOutputError(
        f"{len(reasons)} of {m} prompts sent to {where} were not scored, {done} were ({shown}{more}{stopped}); the "
        f"scored rows are in .values, NaN on the rows in .failures",
        values=out, failures=sorted(reasons)) from first


def check_text(text: object, name: str) -> None:
    """A ValueError naming ``name`` unless ``text`` is a non-empty str."""
    if not isinstance(text, str) or not text:
        raise ValueError(f"{name} must be a non-empty str, got {text!r}")


def check_prompts(prompts: Sequence[str]) -> list[str]:
    """``prompts`` as a list of non-empty str (one str is a TypeError: it is not a batch)."""
    if isinstance(prompts, str):
        raise TypeError("prompts must be a sequence of str, not one str")
    prompts = list(prompts)
    for prompt in prompts:
        check_text(prompt, "every prompt")
    return prompts
