"""Sentiment: which words, and which interactions of words, make a review read positive."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from proxyspex.games.generation import Generation
from proxyspex.games.text import DEFAULT_PLACEHOLDER, Segmentation
from proxyspex.models.base import LanguageModel
from proxyspex.models.local import resolve_model

#: Two-shot prompt that SmolLM2-135M-Instruct follows (100% on LABELLED_REVIEWS).
SENTIMENT_PROMPT = (
    "Is each review positive or negative?\n\n"
    "Review: The service was slow and the food was bland.\nSentiment: negative\n\n"
    "Review: The movie was a joy to watch, with a clever script.\nSentiment: positive\n\n"
    "Review: {context}\nSentiment:"
)

#: A small labelled set (1 = positive) to check that a model follows the prompt.
LABELLED_REVIEWS: tuple[tuple[str, int], ...] = (
    ("An absolute delight from start to finish; I laughed and cried.", 1),
    ("The food was fresh, the staff were warm, and the prices were fair.", 1),
    ("Best purchase I have made all year. It works perfectly.", 1),
    ("A gripping story with wonderful performances.", 1),
    ("Not bad at all, actually quite good.", 1),
    ("I expected to hate it, but it won me over.", 1),
    ("Her acting never fails to impress.", 1),
    ("Fast shipping, solid build, and great battery life.", 1),
    ("A charming, funny film that the whole family will enjoy.", 1),
    ("I was not disappointed; the sequel is even better.", 1),
    ("A complete waste of money. It broke after two days.", 0),
    ("The plot was dull and the acting was wooden.", 0),
    ("Terrible service: we waited an hour and the food was cold.", 0),
    ("The trailer promised a lot, but the film delivered nothing.", 0),
    ("The worst movie I have seen in years. Avoid it.", 0),
    ("The room smelled of smoke and the sheets were dirty.", 0),
    ("It never works when I need it, and support never answers.", 0),
    ("Boring, predictable and far too long.", 0),
    ("Not worth the price.", 0),
    ("I fell asleep halfway through; nothing happens in this film.", 0),
)


class Sentiment(Generation):
    """Value = ``log p(" positive") - log p(" negative")`` after a few-shot prompt.

    Features are the words (or sentences, or the units you give) of ``text``. Both
    labels are single tokens for the default model, so a mask costs one forward pass.
    See :class:`~proxyspex.games.generation.Generation` for the shared parameters.
    """

    def __init__(
        self,
        text: str | Sequence[str] | Segmentation,
        model: LanguageModel | str | os.PathLike | None = None,
        *,
        unit: str = "word",
        separator: str = " ",
        masking: str = "remove",
        placeholder: str = DEFAULT_PLACEHOLDER,
        prompt: str = SENTIMENT_PROMPT,
        labels: tuple[str, str] = (" positive", " negative"),
    ) -> None:
        if len(labels) != 2 or not all(isinstance(label, str) and label for label in labels):
            raise ValueError(f"labels must be two non-empty strings, got {labels!r}")
        self.labels = tuple(labels)
        super().__init__(
            prompt,
            text,
            target=self.labels[0],
            model=model,
            unit=unit,
            separator=separator,
            masking=masking,
            placeholder=placeholder,
            chat=False,
        )

    def value(self, masks: np.ndarray) -> np.ndarray:
        logp = self.lm.score_options(self.prompts(masks), list(self.labels))
        return logp[:, 0] - logp[:, 1]

    def scored_targets(self) -> list[str]:
        """Both labels are scored."""
        return list(self.labels)

    def fingerprint_data(self) -> dict[str, Any]:
        return {**super().fingerprint_data(), "labels": list(self.labels)}


def sentiment_accuracy(
    model: LanguageModel | str | os.PathLike | None = None,
    reviews: Sequence[tuple[str, int]] = LABELLED_REVIEWS,
    *,
    prompt: str = SENTIMENT_PROMPT,
) -> float:
    """Share of ``reviews`` whose margin sign matches the label (1 = positive)."""
    lm = resolve_model(model)
    games = [Sentiment(text, lm, prompt=prompt) for text, _ in reviews]
    prompts = [game.full_prompt(np.ones(game.n, dtype=bool)) for game in games]
    logp = lm.score_options(prompts, [" positive", " negative"])
    labels = np.array([label for _, label in reviews], dtype=bool)
    return float(np.mean((logp[:, 0] > logp[:, 1]) == labels))
