"""Value functions: synthetic games with known spectra, and text games on language models.

The text games import torch only when a model is first loaded (extra 'llm').
"""

from .base import Game
from .generation import Generation
from .rag import RAG, RAG_PROMPT
from .sentiment import LABELLED_REVIEWS, SENTIMENT_PROMPT, Sentiment, sentiment_accuracy
from .synthetic import DoubleNegativeGame, SpectrumGame, SyntheticGame, hierarchical_spectrum
from .text import Segmentation, from_units, segment

__all__ = [
           "LABELLED_REVIEWS",
           "RAG",
           "RAG_PROMPT",
           "SENTIMENT_PROMPT",
           "DoubleNegativeGame",
           "Game",
           "Generation",
           "Segmentation",
           "Sentiment",
           "SpectrumGame",
           "SyntheticGame",
           "from_units",
           "hierarchical_spectrum",
           "segment",
           "sentiment_accuracy",
]
