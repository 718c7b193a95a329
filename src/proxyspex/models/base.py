"""What a game needs from a language model back-end."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class LanguageModel(Protocol):
    """A back-end that scores continuations; :class:`~proxyspex.models.LocalLM` is one.

    Optional: ``check_context(prompts, target)`` raising ValueError when a prompt plus the target
    does not fit the model's context. Games call it when they are built, before paying, if the
    back-end has it.
    """

    @property
    def fingerprint(self) -> str:
        """Identity of the model and its numerics, for cache keys."""
        ...

    def score(self, prompts: Sequence[str], target: str) -> np.ndarray:
        """``(m,)`` array of ``log p(target | prompt)`` summed over target tokens."""
        ...

    def score_options(self, prompts: Sequence[str], options: Sequence[str]) -> np.ndarray:
        """``(m, k)`` array of ``log p(option | prompt)``."""
        ...

    def generate(self, prompt: str, max_new_tokens: int = 32) -> str:
        """Greedy continuation of ``prompt``."""
        ...

    def chat(self, user: str, system: str | None = None) -> str:
        """``user`` wrapped in the model's chat template, ready for the reply."""
        ...


def split_boundary(prompt: str, target: str) -> tuple[str, str]:
    """The one prompt/target boundary rule of every back-end.

    Trailing spaces and tabs of ``prompt`` move to the front of ``target``:
    ``("Sentiment: ", "positive")`` is scored as ``("Sentiment:", " positive")``, the way a
    tokenizer splits the joined text (BPE and SentencePiece glue a space to the word after it).
    Newlines stay (they are tokens of their own, so chat prompts ending in one are unchanged),
    and so does a prompt of only whitespace.
    """
    stripped = prompt.rstrip(" \t")
    if not stripped.strip() or stripped == prompt:
        return prompt, target
    return stripped, prompt[len(stripped):] + target


def needs_split(prompt: object) -> bool:
    """True for a str prompt that :func:`split_boundary` changes."""
    return isinstance(prompt, str) and split_boundary(prompt, "")[0] != prompt


def score_split(score_options: Callable[[list, list[str]], np.ndarray], prompts: Sequence,
                options: Sequence[str]) -> np.ndarray:
    """``(m, k)`` scores of ``options`` after ``prompts`` with :func:`split_boundary` applied:
    prompts are grouped by the whitespace they give up, one ``score_options`` call per group."""
    out = np.empty((len(prompts), len(options)))
    groups: dict[str, list[int]] = {}
    for row, prompt in enumerate(prompts):
        moved = split_boundary(prompt, "")[1]
        groups.setdefault(moved, []).append(row)
    for moved, rows in groups.items():
        stripped = [prompts[r][: len(prompts[r]) - len(moved)] for r in rows]
        out[rows] = score_options(stripped, [moved + option for option in options])
    return out


def resolve_model(model: LanguageModel | str | os.PathLike | None, **kwargs: Any) -> LanguageModel:
    """Return ``model`` if it is already a back-end (see :class:`LanguageModel`); an
    ``http(s)://`` URL becomes an :class:`~proxyspex.models.openai.OpenAICompatible` server
    client; anything else loads as a :class:`LocalLM` (None = the embedded default)."""
    if model is not None and isinstance(model, LanguageModel):
        return model
    if isinstance(model, str) and model.startswith(("http://", "https://")):
        from proxyspex.models.openai import OpenAICompatible

        return OpenAICompatible(model, **kwargs)
    if model is not None and not isinstance(model, (str, os.PathLike)):
        raise TypeError(f"model must be a LanguageModel back-end, a path, a model name or None, "
                        f"got {type(model).__name__}")
    from proxyspex.models.local import LocalLM

    return LocalLM(model, **kwargs)
