"""What a game needs from a language model back-end."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

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
