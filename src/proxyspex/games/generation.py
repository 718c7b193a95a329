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
    check_coarser,
    check_masking,
    group_by_sentence,
)
from proxyspex.models.base import LanguageModel
from proxyspex.models.local import resolve_model

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
        every unit kept, generated on first use of :attr:`target` (computing the
        :attr:`fingerprint` or the first value uses it).
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
        #: The level of the units: ``unit`` for a string context, "custom" for units the user gave.
        self.unit = unit if isinstance(context_units, str) else "custom"
        self.masking = check_masking(masking)
        self.placeholder = placeholder
        self.chat = chat
        self.system = system
        self.max_new_tokens = max_new_tokens
        self.feature_names = list(self.segmentation.units)
        self.lm = resolve_model(model)
        self._target = None if target is None else self._checked_target(target)
        if self._target is not None:
            self.check_context()

    @property
    def target(self) -> str:
        """The scored continuation. When ``target=None`` was given, the model's greedy answer
        with every unit kept, generated on first use (the fingerprint uses it too)."""
        if self._target is None:
            keep_all = np.ones(self.n, dtype=bool)
            self.check_context(targets=[""])
            answer = self.lm.generate(self.full_prompt(keep_all), self.max_new_tokens).rstrip()
            if not answer.strip():
                raise ValueError("the model's greedy answer is empty; pass target= explicitly")
            self._target = self._checked_target(answer)
            self.check_context()
        return self._target

    @staticmethod
    def _checked_target(target: str) -> str:
        if not isinstance(target, str) or not target:
            raise ValueError(f"target must be a non-empty str, got {target!r}")
        return target

    def scored_targets(self) -> list[str]:
        """The continuations :meth:`value` scores (here the target)."""
        return [self.target]

    def check_context(self, targets: Sequence[str] | None = None) -> None:
        """ValueError, before anything is paid for, when the longest prompt (every unit kept, or
        every unit a placeholder) plus a scored target does not fit the model's context. Back-ends
        without a ``check_context`` method are not checked."""
        check = getattr(self.lm, "check_context", None)
        if check is None:
            return
        prompts = [self.full_prompt(np.ones(self.n, dtype=bool))]
        if self.masking == "placeholder":
            prompts.append(self.full_prompt(np.zeros(self.n, dtype=bool)))
        for target in self.scored_targets() if targets is None else targets:
            check(prompts, target)

    def feature_groups(self, level: str) -> list[list[int]]:
        """Feature indices grouped by a coarser ``level``, for coarse-to-fine explanations.

        Words (or units the user gave) group by ``"sentence"`` of the context. A level that is
        not coarser than the units raises ValueError.
        """
        check_coarser(level, self.unit, ("sentence",) if self.unit in ("word", "custom") else ())
        return group_by_sentence(self.segmentation)

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

    def unit_spans(self) -> list[tuple[int, int]]:
        """``(start, end)`` of each unit in the context with every unit kept."""
        return self.segmentation.spans()

    def fingerprint_data(self) -> dict[str, Any]:
        """Everything that changes what the model is asked: the exact prompt with every unit kept
        (chat template included), where each unit lies in its context, the separators, the
        masking, the target and the model."""
        return {
            "model": self.lm.fingerprint,
            "rendered": self.full_prompt(np.ones(self.n, dtype=bool)),
            "spans": [list(span) for span in self.unit_spans()],
            "prompt": self.prompt,
            "chat": self.chat,
            "system": self.system,
            "units": list(self.segmentation.units),
            "gaps": list(self.segmentation.gaps),
            "target": self.target,
            "masking": self.masking,
            "placeholder": self.placeholder if self.masking == "placeholder" else None,
        }
