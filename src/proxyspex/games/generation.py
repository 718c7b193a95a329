"""The general text game: log p(target | prompt whose context units are masked)."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from proxyspex.games.base import Game
from proxyspex.games.text import (
    DEFAULT_PLACEHOLDER,
    Segmentation,
    as_segmentation,
    check_masking,
)
from proxyspex.models.base import LanguageModel
from proxyspex.models.local import common_prefix_length, resolve_model

CONTEXT = "{context}"


def fill(template: str, **fields: str) -> str:
    """Replace ``{name}`` fields in one pass, so filled-in text is never re-scanned."""
    pattern = re.compile(r"\{(" + "|".join(map(re.escape, fields)) + r")\}")
    return pattern.sub(lambda match: fields[match.group(1)], template)


class Generation(Game):
    """Value of a mask = ``log p(target | prompt with only the kept context units)``.

    Parameters
    ----------
    prompt : str
        Template with a ``{context}`` field; without one the context goes first,
        followed by a blank line and the prompt.
    context_units : str, sequence of str, or Segmentation
        A string is split into ``unit`` units; a sequence gives the units directly.
    target : str or None
        The continuation to score; ``None`` uses the model's greedy continuation with
        every unit kept.
    model : LanguageModel, str, path or None
        A back-end such as :class:`~proxyspex.models.LocalLM`, or anything LocalLM
        accepts: None (the embedded default), a path, or a locally cached name.
    unit : {"word", "sentence"}
        How to split a string ``context_units``.
    separator : str
        Joins user-given units.
    masking : {"remove", "placeholder"}
        Drop a masked unit, or replace it with ``placeholder``.
    chat : bool
        Wrap the filled prompt in the model's chat template as a user message.
    system : str or None
        System message for the chat template (None = the template's default).
    max_new_tokens : int
        Length cap of the greedy target.
    """

    def __init__(
        self,
        prompt: str,
        context_units: str | Sequence[str] | Segmentation,
        target: str | None = None,
        *,
        model: LanguageModel | str | os.PathLike | None = None,
        unit: str = "word",
        separator: str = " ",
        masking: str = "remove",
        placeholder: str = DEFAULT_PLACEHOLDER,
        chat: bool = True,
        system: str | None = None,
        max_new_tokens: int = 32,
    ) -> None:
        if not isinstance(prompt, str):
            raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
        self.prompt = prompt if CONTEXT in prompt else CONTEXT + "\n\n" + prompt
        self.segmentation = as_segmentation(context_units, unit, separator)
        self.masking = check_masking(masking)
        self.placeholder = placeholder
        self.chat = chat
        self.system = system
        self.max_new_tokens = max_new_tokens
        self.feature_names = list(self.segmentation.units)
        self.lm = resolve_model(model)
        self.target = self._check_target(target)

    def _check_target(self, target: str | None) -> str:
        if target is None:
            keep_all = np.ones(self.n, dtype=bool)
            target = self.lm.generate(self.full_prompt(keep_all), self.max_new_tokens).rstrip()
            if not target.strip():
                raise ValueError("the model's greedy answer is empty; pass target= explicitly")
        if not isinstance(target, str) or not target:
            raise ValueError(f"target must be a non-empty str, got {target!r}")
        return target

    def context(self, keep: np.ndarray) -> str:
        """The context text for one mask."""
        return self.segmentation.render(keep, self.masking, self.placeholder)

    def prompt_fields(self) -> dict[str, str]:
        """Fields other than ``{context}`` to fill into the prompt (none here)."""
        return {}

    def full_prompt(self, keep: np.ndarray) -> str:
        """The exact text fed to the model for one mask (chat template included)."""
        text = fill(self.prompt, **self.prompt_fields(), context=self.context(keep))
        return self.lm.chat(text, self.system) if self.chat else text

    def prompts(self, masks: np.ndarray) -> list[str]:
        """:meth:`full_prompt` for each row of a ``(m, n)`` bool array."""
        masks = np.asarray(masks, dtype=bool)
        if masks.ndim != 2 or masks.shape[1] != self.n:
            raise ValueError(f"masks must have shape (m, {self.n}), got {masks.shape}")
        return [self.full_prompt(row) for row in masks]

    def value(self, masks: np.ndarray) -> np.ndarray:
        return self.lm.score(self.prompts(masks), self.target)

    @property
    def batch_size(self) -> int | None:
        """Masks per model batch (the batch protocol of :mod:`proxyspex.query`): the back-end's
        ``rows_per_batch`` for the full prompt, so each batch is cached as soon as the model ends it."""
        rows_per_batch = getattr(self.lm, "rows_per_batch", None)
        encode = getattr(self.lm, "encode", None)
        if rows_per_batch is None or encode is None:
            return None if rows_per_batch is None else rows_per_batch(0)
        full, empty = (encode(self.full_prompt(np.full(self.n, keep))) for keep in (True, False))
        shared = min(common_prefix_length([full, empty]), len(empty) - 1)
        return rows_per_batch(len(full) + len(encode(self.target)), max(0, shared))

    def fingerprint_data(self) -> dict[str, Any]:
        return {
            "model": self.lm.fingerprint,
            "prompt": self.prompt,
            "chat": self.chat,
            "system": self.system,
            "units": list(self.segmentation.units),
            "gaps": list(self.segmentation.gaps),
            "target": self.target,
            "masking": self.masking,
            "placeholder": self.placeholder if self.masking == "placeholder" else None,
        }
