"""Test doubles shared by the test modules (one copy each)."""

from __future__ import annotations

import numpy as np


class FakeLM:
    """A language-model back-end whose scores count words, so values are predictable without a model.

    ``score`` counts the spaces of each prompt; ``score_options`` counts "good" and "bad" (one column
    per option, at most two); ``generate`` returns ``answer``. Every scored prompt is kept in ``seen``.
    """

    fingerprint = "fake-lm-v1"

    def __init__(self, answer: str = " forty-two") -> None:
        self.answer = answer
        self.seen: list[str] = []

    def chat(self, user: str, system: str | None = None) -> str:
        return f"<user>{user}</user><assistant>"

    def generate(self, prompt: str, max_new_tokens: int = 32) -> str:
        return self.answer

    def score(self, prompts, target):
        self.seen.extend(prompts)
        return np.array([float(p.count(" ")) for p in prompts])

    def score_options(self, prompts, options):
        self.seen.extend(prompts)
        return np.array([[p.count("good"), p.count("bad")][:len(options)] for p in prompts], dtype=float)
