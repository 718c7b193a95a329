"""Split text into units (the features) and render it under a mask.

A :class:`Segmentation` holds the units and the separator text (usually whitespace) that
preceded each one, so keeping every unit reproduces the text. Masking either removes a unit (the default for
causal LMs) or replaces it with a placeholder.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

UNITS = ("word", "sentence")
#: Unit levels from fine to coarse; a feature group is always at a coarser level than the units.
LEVELS = ("word", "sentence", "document")
MASKINGS = ("remove", "placeholder")
DEFAULT_PLACEHOLDER = "_"

# A word keeps inner apostrophes and hyphens ("don't", "well-made") and a number its
# separators ("3.5", "1,000"); a run of other non-space characters (".", "?!", "...")
# is a unit of its own.
_WORD = re.compile(r"\d+(?:[.,]\d+)+|\w+(?:['’\-]\w+)*|[^\w\s]+")
# A sentence runs to a . ! ? (plus closing quotes or brackets) that whitespace or the end
# follows, so "3.5" and "e.g.x" stay whole.
_SENTENCE = re.compile(r"\S.*?(?:[.!?]+['\"’”)\]]*(?=\s|\Z)|\Z)", re.DOTALL)


@dataclass(frozen=True)
class Segmentation:
    """Units of a text plus the separator (usually whitespace) before each unit."""

    units: tuple[str, ...]
    gaps: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.units) != len(self.gaps):
            raise ValueError("units and gaps must have the same length")

    @property
    def n(self) -> int:
        """Number of units."""
        return len(self.units)

    def render(
        self, keep: np.ndarray, masking: str = "remove", placeholder: str = DEFAULT_PLACEHOLDER
    ) -> str:
        """Text with the units where ``keep`` is False removed or replaced by ``placeholder``."""
        keep = np.asarray(keep, dtype=bool)
        if keep.shape != (self.n,):
            raise ValueError(f"mask has shape {keep.shape}, expected ({self.n},)")
        check_masking(masking)
        parts = []
        for unit, gap, kept in zip(self.units, self.gaps, keep):
            if kept:
                parts.append(gap + unit)
            elif masking == "placeholder":
                parts.append(gap + placeholder)
        return "".join(parts).strip()

    @property
    def text(self) -> str:
        """The text with every unit kept, exactly as :meth:`render` gives it."""
        return self._joined().strip()

    def spans(self) -> list[tuple[int, int]]:
        """``(start, end)`` of each unit in :attr:`text` (clipped to it)."""
        joined = self._joined()
        offset, size = len(joined) - len(joined.lstrip()), len(joined.strip())
        spans, end = [], 0
        for gap, unit in zip(self.gaps, self.units):
            start, end = end + len(gap), end + len(gap) + len(unit)
            spans.append((min(max(start - offset, 0), size), min(max(end - offset, 0), size)))
        return spans

    def _joined(self) -> str:
        return "".join(gap + unit for gap, unit in zip(self.gaps, self.units))

    def render_batch(
        self, masks: np.ndarray, masking: str = "remove", placeholder: str = DEFAULT_PLACEHOLDER
    ) -> list[str]:
        """:meth:`render` for each row of a ``(m, n)`` bool array."""
        masks = np.asarray(masks, dtype=bool)
        if masks.ndim != 2 or masks.shape[1] != self.n:
            raise ValueError(f"masks must have shape (m, {self.n}), got {masks.shape}")
        return [self.render(row, masking, placeholder) for row in masks]


def group_by_sentence(seg: Segmentation) -> list[list[int]]:
    """Indices of ``seg``'s units, grouped by the sentence of :attr:`Segmentation.text` they lie in.

    Raises ValueError when a unit spans two sentences (units given by the user can).
    """
    sentences = segment(seg.text, "sentence").spans()
    starts = [start for start, _ in sentences]
    groups: list[list[int]] = [[] for _ in sentences]
    for index, (start, end) in enumerate(seg.spans()):
        k = bisect.bisect_right(starts, start) - 1
        if k < 0 or end > sentences[k][1]:
            raise ValueError(f"unit {index} ({seg.units[index]!r}) spans more than one sentence, "
                             "so the units cannot be grouped by sentence")
        groups[k].append(index)
    return [group for group in groups if group]


def check_coarser(level: str, unit: str, allowed: Sequence[str]) -> str:
    """``level`` if it is one of ``allowed`` and coarser than ``unit``, else a ValueError that says which are."""
    if not isinstance(level, str):
        raise TypeError(f"level must be a string, one of {', '.join(allowed) or '(none)'}; got {level!r}")
    if level not in allowed:
        hint = f"one of {', '.join(allowed)}" if allowed else "none: no coarser level exists for these units"
        finer = level in LEVELS and unit in LEVELS and LEVELS.index(level) <= LEVELS.index(unit)
        why = f" (level {level!r} is not coarser than the units, {unit!r})" if finer else ""
        raise ValueError(f"level must be {hint}; got {level!r}{why}")
    return level


def check_masking(masking: str) -> str:
    """Validate a masking mode name."""
    if masking not in MASKINGS:
        raise ValueError(f"masking must be one of {MASKINGS}, got {masking!r}")
    return masking


def _split(text: str, pattern: re.Pattern[str]) -> Segmentation:
    units, gaps, end = [], [], 0
    for match in pattern.finditer(text):
        piece = match.group()
        if not piece.strip():
            continue
        lead = len(piece) - len(piece.lstrip())
        units.append(piece.strip())
        gaps.append(text[end : match.start() + lead])
        end = match.start() + lead + len(piece.strip())
    return Segmentation(tuple(units), tuple(gaps))


def segment(text: str, unit: str = "word") -> Segmentation:
    """Split ``text`` into words (punctuation runs are their own units) or sentences."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}, got {unit!r}")
    seg = _split(text, _WORD if unit == "word" else _SENTENCE)
    if seg.n == 0:
        raise ValueError("text is empty: it has no units to explain")
    return seg


def from_units(units: Sequence[str], separator: str = " ") -> Segmentation:
    """A segmentation from units the user gives, joined by ``separator``."""
    if isinstance(units, str):
        raise TypeError("units must be a sequence of str; use segment() to split a string")
    if isinstance(units, bytes) or not isinstance(units, Sequence):
        raise TypeError(f"text must be a str or a sequence of str, got {type(units).__name__}")
    units = [str(u) for u in units]
    if not units:
        raise ValueError("units is empty: there are no features to explain")
    if any(not u.strip() for u in units):
        raise ValueError("every unit must contain non-whitespace text")
    return Segmentation(tuple(units), ("",) + (separator,) * (len(units) - 1))


def as_segmentation(
    text: str | Sequence[str] | Segmentation, unit: str = "word", separator: str = " "
) -> Segmentation:
    """Segment a string, wrap user units, or pass a :class:`Segmentation` through."""
    if isinstance(text, Segmentation):
        return text
    if isinstance(text, str):
        return segment(text, unit)
    return from_units(text, separator)
