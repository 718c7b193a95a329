"""The OpenAI-compatible server back-end (vLLM, llama.cpp, TGI, OpenAI, ...).

* :mod:`~proxyspex.models.openai.http`: the HTTP client (retries, deadlines, redaction);
* :mod:`~proxyspex.models.openai.identity`: what the server reports, for the cache key;
* :mod:`~proxyspex.models.openai.logprobs`: reading and aligning log-probabilities;
* :mod:`~proxyspex.models.openai.templates`: chat templates, local or the server's;
* :mod:`~proxyspex.models.openai.rows`: many prompts at once, keeping the good rows;
* :mod:`~proxyspex.models.openai.backend`: :class:`OpenAICompatible` itself.
"""

from proxyspex.models.openai.backend import CACHE_FORMAT, SCORING, OpenAICompatible
from proxyspex.models.openai.http import RETRYABLE, ServerError
from proxyspex.models.openai.identity import ServerIdentity
from proxyspex.models.openai.rows import RowFailure

__all__ = ["CACHE_FORMAT", "RETRYABLE", "SCORING", "OpenAICompatible", "RowFailure", "ServerError",
           "ServerIdentity"]
