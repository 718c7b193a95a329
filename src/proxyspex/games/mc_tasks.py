"""Multiple-choice tasks: the shipped easy set, splits, and reading tasks from a file."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

SPLITS = ("attribution", "heldout", "all")


@dataclass(frozen=True)
class MCTask:
    """One multiple-choice question; ``answer`` indexes ``options``."""

    question: str
    options: tuple[str, ...]
    answer: int
    split: str = "attribution"
    topic: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.question, str) or not self.question.strip():
            raise ValueError(f"question must be a non-empty string, got {self.question!r}")
        options = tuple(self.options)
        if len(options) < 2 or not all(isinstance(o, str) and o.strip() for o in options):
            raise ValueError(f"options must be at least two non-empty strings, got {self.options!r}")
        if len(set(options)) != len(options):
            raise ValueError(f"options must be distinct, got {options!r}")
        object.__setattr__(self, "options", options)
        if not isinstance(self.answer, int) or not 0 <= self.answer < len(options):
            raise ValueError(f"answer must index options (0..{len(options) - 1}), got {self.answer!r}")
        if self.split not in SPLITS[:2]:
            raise ValueError(f"split must be 'attribution' or 'heldout', got {self.split!r}")


def load_mc_tasks(split: str = "all") -> list[MCTask]:
    """The shipped easy multiple-choice set (capitals, colours, animals, antonyms, numbers,
    categories, facts; four options each, so chance is 25%), optionally one split of it."""
    text = resources.files("proxyspex.games").joinpath("data/mc_tasks.json").read_text("utf-8")
    return select_split([MCTask(**item) for item in json.loads(text)], split)


def select_split(tasks: Sequence[MCTask], split: str) -> list[MCTask]:
    """The tasks of ``split`` ('attribution', 'heldout' or 'all')."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return [t for t in tasks if split == "all" or t.split == split]


def as_task(item: MCTask | dict) -> MCTask:
    """``item`` as an :class:`MCTask` (a dict gives its fields)."""
    if isinstance(item, MCTask):
        return item
    if isinstance(item, dict):
        return MCTask(**item)
    raise TypeError(f"each task must be an MCTask or a dict, got {type(item).__name__}")


def read_tasks(path: str | os.PathLike) -> list[MCTask]:
    """Tasks from a JSON list (or JSON lines) of objects with question, options, answer
    (and optionally split, topic)."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    try:
        items = json.loads(text) if text.lstrip().startswith("[") else [
            json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not JSON or JSON lines: {err}") from None
    if not items:
        raise ValueError(f"no tasks in {path}")
    return [as_task(item) for item in items]
