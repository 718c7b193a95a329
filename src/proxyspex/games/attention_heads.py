"""Attention heads as features: which heads, and which interactions of heads, a task needs.

A head is removed by zeroing its slice of the attention output just before the output
projection ``self_attn.o_proj`` (transformers 5 dropped ``head_mask``). The hooks carry one
head mask per batch row, so one forward pass evaluates many (mask, question) pairs. With
every head kept they multiply by one, so the model's outputs are unchanged bit for bit.

The value of a head mask is the mean log-odds of the correct option among the options of
each multiple-choice question: ``log p(correct) - logsumexp(log p(others))``, where every
option is scored as a continuation of the prompt. Log-sum-exp rather than the best wrong
option keeps the value smooth in the scores, which the tree proxy fits more easily; it is
``> 0`` exactly when the correct option holds more than half of the options' mass.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Any

import numpy as np

from proxyspex.games.base import Game
from proxyspex.models.local import LocalLM, common_prefix_length

#: Two-shot question format; options are scored as ``" " + option`` after it. The shared
#: two-shot prefix runs once per head mask (see :meth:`AttentionHeads.option_logprobs`).
DEFAULT_PROMPT = ("Question: What is the capital of Norway?\nAnswer: Oslo\n\n"
                  "Question: What colour is the sun?\nAnswer: yellow\n\n"
                  "Question: {question}\nAnswer:")
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


def _as_task(item: MCTask | dict) -> MCTask:
    if isinstance(item, MCTask):
        return item
    if isinstance(item, dict):
        return MCTask(**item)
    raise TypeError(f"each task must be an MCTask or a dict, got {type(item).__name__}")


# -- hooks -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HeadLayout:
    """Where the heads of ``layers`` live: their output projections and the head width."""

    layers: tuple[int, ...]
    n_heads: int
    head_dim: int
    projections: tuple[Any, ...]  # one ``o_proj`` module per layer


def head_layout(model: Any, layers: Sequence[int] | int | None = None) -> HeadLayout:
    """Find the attention output projections of a Llama/Qwen/Mistral-style causal LM
    (``model.model.layers[i].self_attn.o_proj``); raise ValueError naming what is missing."""
    name = type(model).__name__
    blocks = getattr(getattr(model, "model", None), "layers", None)
    if blocks is None:
        raise ValueError(f"{name} has no model.layers; AttentionHeads supports Llama/Qwen/Mistral-style "
                         "causal LMs whose blocks are model.model.layers[i].self_attn.o_proj")
    config = model.config
    n_heads = getattr(config, "num_attention_heads", None)
    if not isinstance(n_heads, int) or n_heads < 1:
        raise ValueError(f"{name}.config has no num_attention_heads")
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // n_heads
    chosen = _check_layers(layers, len(blocks))
    projections = []
    for i in chosen:
        proj = getattr(getattr(blocks[i], "self_attn", None), "o_proj", None)
        if proj is None:
            raise ValueError(f"{name}.model.layers[{i}] has no self_attn.o_proj to mask heads at")
        width = getattr(proj, "in_features", None)
        if width != n_heads * head_dim:
            raise ValueError(f"{name}.model.layers[{i}].self_attn.o_proj takes {width} inputs, not "
                             f"num_attention_heads * head_dim = {n_heads} * {head_dim}")
        projections.append(proj)
    return HeadLayout(chosen, n_heads, head_dim, tuple(projections))


def _check_layers(layers: Sequence[int] | int | None, n_layers: int) -> tuple[int, ...]:
    if layers is None:
        return tuple(range(n_layers))
    if isinstance(layers, (int, np.integer)) and not isinstance(layers, bool):
        layers = [int(layers)]
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence):
        raise TypeError(f"layers must be None, an int or a sequence of ints, got {layers!r}")
    chosen = []
    for layer in layers:
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)):
            raise TypeError(f"layers must hold ints, got {layer!r}")
        if not -n_layers <= layer < n_layers:
            raise ValueError(f"layer {layer} is out of range for a model with {n_layers} layers")
        chosen.append(int(layer) % n_layers)
    if not chosen or len(set(chosen)) != len(chosen):
        raise ValueError(f"layers must be distinct and non-empty, got {list(layers)!r}")
    return tuple(sorted(chosen))


class HeadMasker:
    """Holds the per-row head masks that the hooks of :func:`masked_heads` apply."""

    def __init__(self, layout: HeadLayout):
        self.layout = layout
        self.rows: Any = None  # (batch, n_layers, n_heads) float tensor, or None = keep all

    def set(self, masks: np.ndarray | None) -> None:
        """``masks``: ``(batch, n_layers * n_heads)`` bools, one row per batch row; None keeps all."""
        import torch

        if masks is None:
            self.rows = None
            return
        masks = np.asarray(masks, dtype=np.float32)
        n = len(self.layout.layers) * self.layout.n_heads
        if masks.ndim != 2 or masks.shape[1] != n:
            raise ValueError(f"head masks must have shape (batch, {n}), got {masks.shape}")
        device = self.layout.projections[0].weight.device
        self.rows = torch.as_tensor(masks.reshape(len(masks), -1, self.layout.n_heads), device=device)

    def hook(self, position: int):
        head_dim = self.layout.head_dim

        def zero_heads(module: Any, args: tuple) -> tuple | None:
            if self.rows is None:
                return None
            hidden = args[0]
            if hidden.shape[0] != self.rows.shape[0]:
                raise RuntimeError(f"head masks for {self.rows.shape[0]} rows, batch of {hidden.shape[0]}")
            scale = self.rows[:, position].repeat_interleave(head_dim, dim=-1)[:, None, :]
            return (hidden * scale.to(hidden.dtype), *args[1:])

        return zero_heads


@contextmanager
def masked_heads(model: Any, layers: HeadLayout | Sequence[int] | int | None = None) -> Iterator[HeadMasker]:
    """Hook the heads of ``layers`` for the duration of the block; the hooks are always removed.

    ``with masked_heads(model, [3]) as heads: heads.set(masks); model(...)``
    """
    layout = layers if isinstance(layers, HeadLayout) else head_layout(model, layers)
    masker = HeadMasker(layout)
    handles = [proj.register_forward_pre_hook(masker.hook(i)) for i, proj in enumerate(layout.projections)]
    try:
        yield masker
    finally:
        for handle in handles:
            handle.remove()


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
        tokens) per forward pass; the query layer also sends this many masks per call.
    """

    def __init__(self, model: LocalLM | str | os.PathLike | None = None, *,
                 layers: Sequence[int] | int | None = None, tasks: Sequence[MCTask | dict] | None = None,
                 split: str = "attribution", prompt: str = DEFAULT_PROMPT, batch_size: int = 64) -> None:
        if model is not None and not isinstance(model, (LocalLM, str, os.PathLike)):
            raise TypeError(f"model must be a LocalLM, a path or None (heads need local weights), "
                            f"got {type(model).__name__}")
        if not isinstance(prompt, str) or "{question}" not in prompt:
            raise ValueError(f"prompt must be a string with a {{question}} field, got {prompt!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.lm = model if isinstance(model, LocalLM) else LocalLM(model)
        self.layout = head_layout(self.lm.model, layers)
        all_tasks = load_mc_tasks() if tasks is None else [_as_task(t) for t in tasks]
        self.all_tasks = all_tasks
        self.split = split
        self.tasks = select_split(all_tasks, split)
        if not self.tasks:
            raise ValueError(f"no tasks in split {split!r}")
        self.prompt = prompt
        self.batch_size = batch_size
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
        the last position); otherwise one row per option. The prompt prefix that all questions
        share runs once per mask (heads change its keys and values, so masks cannot share it).
        """
        import torch

        masks = self._check_masks(masks)
        tasks = self.tasks if tasks is None else list(tasks)
        encoded = [self._encode(task) for task in tasks]
        out = np.full((len(masks), len(tasks), max(len(t.options) for t in tasks)), -np.inf)
        # One row per single-token question (option -1: all at once), else one per option.
        rows = [(q, -1) if all(len(o) == 1 for o in opts) else (q, j)
                for q, (_, opts) in enumerate(encoded) for j in range(len(opts))
                if j == 0 or any(len(o) > 1 for o in opts)]
        union = sorted({o[0] for _, opts in encoded if all(len(o) == 1 for o in opts) for o in opts})
        column = {token: c for c, token in enumerate(union)}
        prompts = [prompt for prompt, _ in encoded]
        prefix = common_prefix_length(prompts) if self.lm.reuse_prefix else 0
        prefix = min(prefix, min(len(p) for p in prompts) - 1)  # each row keeps a token of its own
        per_chunk = max(1, round(self.batch_size / len(rows)))
        with torch.inference_mode(), masked_heads(self.lm.model, self.layout) as heads:
            for first in range(0, len(masks), per_chunk):
                chunk = list(range(first, min(first + per_chunk, len(masks))))
                past = self._prefix_cache(heads, masks[chunk], prompts[0][:prefix])
                jobs = [(m, q, j) for m in chunk for q, j in rows]
                for group in _by_target(jobs, encoded):
                    q0, j0 = group[0][1], group[0][2]
                    n_target = 1 if j0 < 0 else len(encoded[q0][1][j0])
                    for start in range(0, len(group), self.batch_size):
                        batch = group[start:start + self.batch_size]
                        seqs = [_sequence(encoded[q], j)[prefix:] for _, q, j in batch]
                        heads.set(masks[[m for m, _, _ in batch]])
                        past_rows = None if past is None else [
                            (k[[m - first for m, _, _ in batch]], v[[m - first for m, _, _ in batch]])
                            for k, v in past]
                        values = self.lm._forward(seqs, n_target, past_rows, union if j0 < 0 else None)
                        for (m, q, j), value in zip(batch, values):
                            if j < 0:
                                out[m, q, : len(encoded[q][1])] = value[[column[o[0]] for o in encoded[q][1]]]
                            else:
                                out[m, q, j] = value
        return out

    def _prefix_cache(self, heads: HeadMasker, masks: np.ndarray, prefix_ids: list[int]) -> list | None:
        """Keys and values of the shared prefix under each of ``masks``, one batch row per mask."""
        import torch

        if not prefix_ids:
            return None
        heads.set(masks)
        ids = torch.tensor([prefix_ids] * len(masks), device=self.lm.device)
        out = self.lm.model.base_model(input_ids=ids, use_cache=True)
        cache = out.get("cache", None) or out.get("past_key_values", None)
        if hasattr(cache, "layers"):
            return [(layer.keys, layer.values) for layer in cache.layers]
        return list(zip(cache.key_cache, cache.value_cache))  # transformers 4.x

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


def _sequence(encoded: tuple[list[int], list[list[int]]], option: int) -> list[int]:
    """Prompt plus the scored option; for a single-token question (option -1) any option will
    do, since only the distribution at the last prompt position is read."""
    prompt, options = encoded
    return prompt + options[max(option, 0)]


def _by_target(jobs: list, encoded: list) -> list[list]:
    """Jobs grouped by how many target tokens they score (single-token questions: one)."""
    groups: dict[int, list] = {}
    for job in jobs:
        _, q, j = job
        groups.setdefault(1 if j < 0 else -len(encoded[q][1][j]), []).append(job)
    return list(groups.values())


# -- command-line helpers ----------------------------------------------------------------------
def parse_layers(text: str | None) -> list[int] | None:
    """``"10,20"`` -> ``[10, 20]``; None or ``"all"`` -> None (every layer)."""
    if text is None or text.strip().lower() == "all":
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"--layers must be comma-separated integers such as 10,20, got {text!r}") from None


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
    return [_as_task(item) for item in items]


def pruning_summary(result: Any, game: AttentionHeads, k: int = 3) -> str:
    """The ``k`` heads whose removal the explanation's surrogate says costs least (interactions
    included), with the surrogate's value and the measured accuracy with and without them."""
    from proxyspex.selection import best_removal

    k = min(k, game.n)
    heads, predicted = best_removal(result.spectrum, k, maximize=True)
    full = float(result.predict(np.ones((1, game.n), dtype=bool))[0])
    split = "heldout" if select_split(game.all_tasks, "heldout") else game.split
    accuracy = game.accuracy(np.vstack([np.ones(game.n, dtype=bool), game.mask_without(heads)]), split=split)
    names = ", ".join(game.feature_names[h] for h in heads) or "(none)"
    return (f"suggested heads to prune (k={k}, interactions included): {names}\n"
            f"  surrogate value {predicted:+.3f} (all heads {full:+.3f}); "
            f"{split} accuracy {accuracy[1]:.3f} (all heads {accuracy[0]:.3f}, "
            f"{_count(len(select_split(game.all_tasks, split)), 'question')})")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
