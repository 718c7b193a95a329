"""Retrieval-augmented QA: which documents, alone and together, produce the answer."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from proxyspex.games.generation import Generation
from proxyspex.games.text import DEFAULT_PLACEHOLDER, Segmentation, check_coarser, from_units, segment
from proxyspex.models.base import LanguageModel

#: Chat prompt; ``{context}`` holds the kept documents, one "- " line each.
RAG_PROMPT = (
    "Answer the question using the documents.\n\nDocuments:\n{context}\n\nQuestion: {question}"
)
RAG_UNITS = ("document", "sentence")


class RAG(Generation):
    """Value = ``log p(answer | question, kept documents)``.

    Features are the documents (``unit="document"``) or their sentences
    (``unit="sentence"``). ``answer=None`` takes the model's own greedy answer with
    every document kept. Each document is rendered as its own ``- `` line, so removing
    sentences never merges two documents.
    """

    def __init__(
        self,
        question: str,
        documents: Sequence[str],
        model: LanguageModel | str | os.PathLike | None = None,
        *,
        answer: str | None = None,
        unit: str = "document",
        masking: str = "remove",
        placeholder: str = DEFAULT_PLACEHOLDER,
        prompt: str = RAG_PROMPT,
        system: str | None = None,
        max_new_tokens: int = 32,
    ) -> None:
        if not isinstance(question, str) or not question.strip():
            raise ValueError("question must be a non-empty str")
        if isinstance(documents, str):
            raise TypeError("documents must be a sequence of str, not one str")
        documents = [str(doc).strip() for doc in documents]
        if not documents or not all(documents):
            raise ValueError("documents must be a non-empty sequence of non-empty strings")
        if unit not in RAG_UNITS:
            raise ValueError(f"unit must be one of {RAG_UNITS}, got {unit!r}")
        self.question = question
        self.documents = documents
        self.parts: list[Segmentation] = [
            segment(doc, "sentence") if unit == "sentence" else from_units([doc])
            for doc in documents
        ]
        self._bounds = np.cumsum([0] + [part.n for part in self.parts])
        names = [unit for part in self.parts for unit in part.units]
        super().__init__(
            prompt,
            from_units(names, "\n"),
            target=answer,
            model=model,
            masking=masking,
            placeholder=placeholder,
            chat=True,
            system=system,
            max_new_tokens=max_new_tokens,
        )
        self.unit = unit

    @property
    def answer(self) -> str:
        """The scored answer (given, or the model's greedy answer with every document)."""
        return self.target

    def feature_groups(self, level: str) -> list[list[int]]:
        """Sentence features grouped by ``"document"``; ValueError for a level not coarser than ``unit``."""
        check_coarser(level, self.unit, ("document",) if self.unit == "sentence" else ())
        return [list(range(lo, hi)) for lo, hi in zip(self._bounds[:-1], self._bounds[1:])]

    def prompt_fields(self) -> dict[str, str]:
        return {"question": self.question}

    def context(self, keep: np.ndarray) -> str:
        lines = []
        for part, lo, hi in zip(self.parts, self._bounds[:-1], self._bounds[1:]):
            if keep[lo:hi].any() or self.masking == "placeholder":
                lines.append("- " + part.render(keep[lo:hi], self.masking, self.placeholder))
        return "\n".join(lines)

    def unit_spans(self) -> list[tuple[int, int]]:
        """``(start, end)`` of each unit in the context with every unit kept, where each
        document is a ``- `` line."""
        spans, offset = [], 0
        for part in self.parts:
            spans += [(offset + 2 + start, offset + 2 + end) for start, end in part.spans()]
            offset += 2 + len(part.text) + 1
        return spans

    def fingerprint_data(self) -> dict[str, Any]:
        parts = [[list(part.units), list(part.gaps)] for part in self.parts]
        return {**super().fingerprint_data(), "question": self.question, "unit": self.unit, "parts": parts}
