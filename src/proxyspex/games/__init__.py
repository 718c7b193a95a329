"""Value functions: synthetic games with known spectra, and text games on language models.

The text games import torch only when a model is first loaded (extra 'llm').
"""

from .attention_heads import AttentionHeads, MCTask, load_mc_tasks, masked_heads
from .base import Game
from .data_attribution import DataAttribution, SklearnTrainer, SoftmaxRegression, top_pairs
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
           "AttentionHeads",
           "DataAttribution",
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
           "load_mc_tasks",
           "masked_heads",
           "segment",
           "sentiment_accuracy",
           "top_pairs",
]
