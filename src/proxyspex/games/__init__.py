"""Value functions: synthetic games with known spectra, and text games on language models.

The text games import torch only when a model is first loaded (extra 'llm').
"""

from .attention_heads import AttentionHeads, MCTask, load_mc_tasks, masked_heads
from .base import Game
from .data_attribution import DataAttribution, DigitsSample
from .generation import Generation
from .rag import RAG, RAG_PROMPT
from .sentiment import LABELLED_REVIEWS, SENTIMENT_PROMPT, Sentiment, sentiment_accuracy
from .synthetic import (
    DoubleNegativeGame,
    SaturatingGame,
    SpectrumGame,
    SyntheticGame,
    hierarchical_spectrum,
    saturating_spectrum,
)
from .text import Segmentation, from_units, segment
from .trainers import SklearnTrainer, SoftmaxRegression

_MOVED_TO_REPORT = ("Pair", "format_pairs", "pruning_summary", "top_pairs")


def __getattr__(name: str):
    """``proxyspex.games.top_pairs`` and friends moved to :mod:`proxyspex.report.text`; the old
    names keep working (imported on first use, so importing the games never loads the report)."""
    if name in _MOVED_TO_REPORT:
        from proxyspex.report import text

        return getattr(text, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
           "LABELLED_REVIEWS",
           "RAG",
           "RAG_PROMPT",
           "SaturatingGame",
           "SENTIMENT_PROMPT",
           "AttentionHeads",
           "DataAttribution",
           "DigitsSample",
           "DoubleNegativeGame",
           "Game",
           "Generation",
           "MCTask",
           "Segmentation",
           "Sentiment",
           "SklearnTrainer",
           "SoftmaxRegression",
           "SpectrumGame",
           "SyntheticGame",
           "from_units",
           "hierarchical_spectrum",
           "saturating_spectrum",
           "load_mc_tasks",
           "masked_heads",
           "segment",
           "sentiment_accuracy",
]
