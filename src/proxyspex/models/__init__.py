"""Model back-ends that turn masked prompts into scores.

``LocalLM`` runs any local transformers causal LM (the embedded SmolLM2-135M-Instruct by
default). Nothing is downloaded at run time. ``OpenAICompatible`` scores through an
OpenAI-compatible completions server (vLLM, llama.cpp, TGI, ...). Any object with the
methods of ``LanguageModel`` can stand in for either.
"""

from proxyspex.models.base import LanguageModel
from proxyspex.models.loading import clear_loaded, default_gguf_path, user_cache_dir
from proxyspex.models.local import LocalLM, common_prefix_length, resolve_model
from proxyspex.models.openai import OpenAICompatible, ServerError

__all__ = [
    "LanguageModel",
    "LocalLM",
    "OpenAICompatible",
    "ServerError",
    "clear_loaded",
    "common_prefix_length",
    "default_gguf_path",
    "resolve_model",
    "user_cache_dir",
]
