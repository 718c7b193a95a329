"""Attention heads as features: which heads, and which interactions of heads, a task needs.

Heads are removed by the hooks of :func:`proxyspex.models.heads.masked_heads`, one head mask
per batch row, so one forward pass evaluates many (mask, question) pairs.

The value of a head mask is the mean log-odds of the correct option among the options of
each multiple-choice question: ``log p(correct) - logsumexp(log p(others))``, where every
option is scored as a continuation of the prompt. Log-sum-exp rather than the best wrong
option keeps the value smooth in the scores, which the tree proxy fits more easily; it is
``> 0`` exactly when the correct option holds more than half of the options' mass.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from proxyspex._validation import check_int
from proxyspex.games.base import Game
from proxyspex.games.mc_tasks import SPLITS, MCTask, as_task, load_mc_tasks, read_tasks, select_split
from proxyspex.models.heads import HeadLayout, HeadMasker, head_layout, masked_heads, parse_layers
from proxyspex.models.local import LocalLM, common_prefix_length

__all__ = ["DEFAULT_PROMPT", "SPLITS", "AttentionHeads", "HeadLayout", "HeadMasker", "MCTask", "ScoringRow",
           "head_layout", "load_mc_tasks", "masked_heads", "parse_layers", "read_tasks", "scoring_rows",
           "select_split"]

#: Two-shot question format; options are scored as ``" " + option`` after it. The shared
#: two-shot prefix runs once per head mask (see :meth:`AttentionHeads.option_logprobs`).
DEFAULT_PROMPT = ("Question: What is the capital of Norway?\nAnswer: Oslo\n\n"
                  "Question: What colour is the sun?\nAnswer: yellow\n\n"
                  "Question: {question}\nAnswer:")


@dataclass(frozen=True)
class ScoringRow:
    """One forward-pass row for a question: its prompt plus one option.

    ``reads`` holds the token of every option when all of them are single tokens: the row then
    fills ``columns`` (all options) from the distribution at the last prompt position. Otherwise
    ``reads`` is None and the row fills its one column with the option's summed log-probability.
    """

    question: int
    tokens: tuple[int, ...]
    n_target: int
    columns: tuple[int, ...]
    reads: tuple[int, ...] | None

    @property
    def group(self) -> tuple[int, bool]:
        """Rows of one group share a pass: the same target length and the same kind of read."""
        return self.n_target, self.reads is not None


def scoring_rows(encoded: Sequence[tuple[list[int], list[list[int]]]]) -> list[ScoringRow]:
    """The rows that score every option of every ``(prompt, options)`` question: one row for a
    question of single-token options, else one row per option."""
    rows = []
    for q, (prompt, options) in enumerate(encoded):
        if all(len(option) == 1 for option in options):
            reads = tuple(option[0] for option in options)
            rows.append(ScoringRow(q, tuple(prompt + options[0]), 1, tuple(range(len(options))), reads))
        else:
            rows += [ScoringRow(q, tuple(prompt + option), len(option), (j,), None)
                     for j, option in enumerate(options)]
    return rows


# -- the game ----------------------------------------------------------------------------------
class AttentionHeads(Game):
    """Value of a head mask = mean log-odds of the correct option over multiple-choice tasks.

    Parameters
    ----------
    model : a :class:`~proxyspex.models.LocalLM`, a path, or None for the embedded default.
    layers : layer indices whose heads are the features (None = every layer).
    tasks : :class:`MCTask` objects or dicts (None = :func:`load_mc_tasks`).
    split : which tasks give the value: 'attribution' (default), 'heldout' or 'all'.
    prompt : question format with a ``{question}`` field; options follow as ``" " + option``.
    batch_size : rows (one mask x one question, or x one option when options span several
        tokens) per forward pass (stored as ``rows_per_pass``). The query layer reads the
        :attr:`batch_size` property instead: the masks whose rows fill about one pass, so each
        mask's value reaches the cache as soon as its rows are scored.
    """

    def __init__(self, model: LocalLM | str | os.PathLike | None = None, *,
                 layers: Sequence[int] | int | None = None, tasks: Sequence[MCTask | dict] | None = None,
                 split: str = "attribution", prompt: str = DEFAULT_PROMPT, batch_size: int = 64) -> None:
        if model is not None and not isinstance(model, (LocalLM, str, os.PathLike)):
            raise TypeError(f"model must be a LocalLM, a path or None (heads need local weights), "
                            f"got {type(model).__name__}")
        if not isinstance(prompt, str) or "{question}" not in prompt:
            raise ValueError(f"prompt must be a string with a {{question}} field, got {prompt!r}")
        batch_size = check_int("batch_size", batch_size, min_value=1)
        self.lm = model if isinstance(model, LocalLM) else LocalLM(model)
        self.layout = head_layout(self.lm.model, layers)
        all_tasks = load_mc_tasks() if tasks is None else [as_task(t) for t in tasks]
        self.all_tasks = all_tasks
        self.split = split
        self.tasks = select_split(all_tasks, split)
        if not self.tasks:
            raise ValueError(f"no tasks in split {split!r}")
        self.prompt = prompt
        self.rows_per_pass = batch_size
        self.feature_names = [f"L{layer}.H{head}" for layer in self.layout.layers
                              for head in range(self.layout.n_heads)]

    @property
    def layers(self) -> tuple[int, ...]:
        return self.layout.layers

    def __repr__(self) -> str:
        return (f"AttentionHeads(n={self.n}, layers={list(self.layers)}, split={self.split!r}, "
                f"tasks={len(self.tasks)})")

    def fingerprint_data(self) -> dict[str, Any]:
        return {"model": self.lm.fingerprint, "layers": list(self.layers), "n_heads": self.layout.n_heads,
                "split": self.split, "prompt": self.prompt, "tasks": [asdict(t) for t in self.tasks]}

    # -- values ---------------------------------------------------------------------------
    def value(self, masks: np.ndarray) -> np.ndarray:
        return self.margins(masks).mean(axis=1)

    def margins(self, masks: np.ndarray, split: str | None = None) -> np.ndarray:
        """``(m, q)`` log-odds of the correct option, per mask and question of ``split``
        (default: this game's split)."""
        return self.evaluate(masks, split)[0]

    def accuracy(self, masks: np.ndarray | None = None, split: str | None = None) -> np.ndarray | float:
        """Share of questions of ``split`` whose correct option scores highest; one float for
        one mask (None = every head kept), else ``(m,)``."""
        single = masks is None or np.ndim(masks) == 1
        masks = np.ones(self.n, dtype=bool) if masks is None else masks
        acc = self.evaluate(np.atleast_2d(masks), split)[1].mean(axis=1)
        return float(acc[0]) if single else acc

    def evaluate(self, masks: np.ndarray, split: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(margins, correct)``, both ``(m, q)``: the log-odds of the correct option and
        whether it scores highest, per mask and question of ``split``, from one pass."""
        tasks = self._tasks(split)
        scores = self.option_logprobs(masks, tasks)
        margins = np.empty(scores.shape[:2])
        correct = np.empty(scores.shape[:2], dtype=bool)
        for q, task in enumerate(tasks):
            s = scores[:, q, : len(task.options)]
            others = np.delete(s, task.answer, axis=1)
            top = others.max(axis=1, keepdims=True)
            margins[:, q] = s[:, task.answer] - (top[:, 0] + np.log(np.exp(others - top).sum(axis=1)))
            correct[:, q] = np.argmax(s, axis=1) == task.answer
        return margins, correct

    def mask_without(self, heads: Sequence[int | str]) -> np.ndarray:
        """The ``(n,)`` mask keeping every head but ``heads`` (indices or names like ``"L3.H5"``)."""
        mask = np.ones(self.n, dtype=bool)
        for head in heads:
            if isinstance(head, str):
                if head not in self.feature_names:
                    raise ValueError(f"unknown head {head!r}; names look like {self.feature_names[0]!r}")
                head = self.feature_names.index(head)
            if not 0 <= int(head) < self.n:
                raise ValueError(f"head index {head} is out of range for {self.n} heads")
            mask[int(head)] = False
        return mask

    def _tasks(self, split: str | None) -> list[MCTask]:
        if split is None:
            return self.tasks
        tasks = select_split(self.all_tasks, split)
        if not tasks:
            raise ValueError(f"no tasks in split {split!r}")
        return tasks

    # -- scoring --------------------------------------------------------------------------
    def option_logprobs(self, masks: np.ndarray, tasks: Sequence[MCTask] | None = None) -> np.ndarray:
        """``(m, q, k)`` ``log p(option | prompt)`` per mask, task and option (k = most options;
        shorter rows are padded with -inf).

        A question whose options are single tokens costs one row (all options are read from
        the last position); otherwise one row per option (see :func:`scoring_rows`). The prompt
        prefix that all questions share runs once per mask (heads change its keys and values,
        so masks cannot share it).
        """
        import torch

        masks = self._check_masks(masks)
        tasks = self.tasks if tasks is None else list(tasks)
        encoded = [self._encode(task) for task in tasks]
        rows = scoring_rows(encoded)
        groups: dict[tuple[int, bool], list[ScoringRow]] = {}
        for row in rows:
            groups.setdefault(row.group, []).append(row)
        reads = sorted({token for row in rows for token in row.reads or ()})
        prompts = [prompt for prompt, _ in encoded]
        prefix = common_prefix_length(prompts) if self.lm.reuse_prefix else 0
        prefix = min(prefix, min(len(p) for p in prompts) - 1)  # each row keeps a token of its own
        out = np.full((len(masks), len(tasks), max(len(t.options) for t in tasks)), -np.inf)
        per_chunk = max(1, round(self.rows_per_pass / len(rows)))
        with torch.inference_mode(), masked_heads(self.lm.model, self.layout) as heads:
            for first in range(0, len(masks), per_chunk):
                chunk = np.arange(first, min(first + per_chunk, len(masks)))
                heads.set(masks[chunk])
                past = self.lm.prefix_cache(prompts[0][:prefix], rows=len(chunk)) if prefix else None
                for group in groups.values():
                    jobs = [(i, row) for i in range(len(chunk)) for row in group]
                    for start in range(0, len(jobs), self.rows_per_pass):
                        batch = jobs[start:start + self.rows_per_pass]
                        self._score_batch(heads, masks[chunk], batch, past, prefix, reads, out[chunk[0]:])
        return out

    def _score_batch(self, heads: HeadMasker, masks: np.ndarray, batch: list[tuple[int, ScoringRow]],
                     past: list | None, prefix: int, reads: list[int], out: np.ndarray) -> None:
        """Score ``batch`` (pairs of a row of ``masks`` and a :class:`ScoringRow`) in one pass
        and write each score into ``out[mask, question, columns]``."""
        index = [i for i, _ in batch]
        heads.set(masks[index])
        past_rows = None if past is None else [(k[index], v[index]) for k, v in past]
        first = batch[0][1]
        values = self.lm.forward_scores([list(row.tokens[prefix:]) for _, row in batch], first.n_target,
                                        past_rows, reads if first.reads is not None else None)
        column = {token: c for c, token in enumerate(reads)}
        for (i, row), value in zip(batch, values):
            if row.reads is None:
                out[i, row.question, row.columns[0]] = value
            else:
                out[i, row.question, list(row.columns)] = value[[column[token] for token in row.reads]]

    @property
    def batch_size(self) -> int:
        """Masks per query batch (the batch protocol of :mod:`proxyspex.query`): as many as one
        forward pass of ``rows_per_pass`` rows scores, at least one."""
        rows = len(scoring_rows([self._encode(task) for task in self.tasks]))
        return max(1, round(self.rows_per_pass / rows))

    def _encode(self, task: MCTask) -> tuple[list[int], list[list[int]]]:
        prompt = self.lm.encode(self.prompt.format(question=task.question))
        options = [self.lm.encode(" " + option.strip()) for option in task.options]
        if not prompt or any(not o for o in options):
            raise ValueError(f"the prompt or an option of {task.question!r} encodes to no tokens")
        return prompt, options

    def _check_masks(self, masks: np.ndarray) -> np.ndarray:
        masks = np.asarray(masks)
        if masks.ndim != 2 or masks.shape[1] != self.n:
            raise ValueError(f"masks must have shape (m, {self.n}), got {masks.shape}")
        return masks.astype(bool)
