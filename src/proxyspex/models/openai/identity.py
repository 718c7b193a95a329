"""Who is serving: the model a server reports, asked once, explicitly, when a back-end is built.

The cache key of a server back-end is built from what the server says about itself:

* ``GET /models``: the served name (``id``), the weights it was loaded from (``root``, vLLM)
  and the context length (``max_model_len``, vLLM);
* the ``system_fingerprint`` of a one-token completion (vLLM 0.32 derives it from its whole
  engine config: model, dtype, quantisation, ...; OpenAI sends one too), where present.

What it cannot see: weights rewritten behind the same name and root on a server that sends
no ``system_fingerprint``, or a server that changes its configuration without changing it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from proxyspex.models.openai.http import HttpClient, ServerError

#: A tiny fixed prompt for the identity probe (one generated token).
PROBE_PROMPT = "Hello"


@dataclass(frozen=True)
class ServerIdentity:
    """What the server reports about the model it serves."""

    model: str
    root: str | None = None
    max_model_len: int | None = None
    system_fingerprint: str | None = None

    def key(self) -> str:
        """The part of the back-end's fingerprint that comes from the server."""
        return (f"model={self.model}|root={self.root}|max_model_len={self.max_model_len}"
                f"|system_fingerprint={self.system_fingerprint}")


def identify(client: HttpClient, model: str | None) -> ServerIdentity:
    """Ask the server which model it serves (and check ``model`` is one of them)."""
    try:
        listing = client.request("GET", "/models")
    except ServerError as err:  # a server without /models: trust the given name
        if model is None or err.status not in (404, 405):
            raise
        listing = {"data": [{"id": model}]}
    cards = [card for card in (listing.get("data") if isinstance(listing, dict) else None) or []
             if isinstance(card, dict) and isinstance(card.get("id"), str)]
    names = [card["id"] for card in cards]
    if model is None:
        if len(cards) != 1:
            raise ValueError(f"{client.base_url}/models lists {names!r}; pass model= to choose exactly one")
        card = cards[0]
    else:
        found = [card for card in cards if card["id"] == model]
        if not found:
            raise ValueError(f"model={model!r} is not served by {client.base_url}: its /models lists "
                             f"{names!r}; pass one of those as model=")
        card = found[0]
    answer = client.request("POST", "/completions", {"model": card["id"], "prompt": PROBE_PROMPT,
                                                      "max_tokens": 1, "temperature": 0})
    length = card.get("max_model_len")
    return ServerIdentity(
        model=card["id"],
        root=str(card["root"]) if card.get("root") else None,
        max_model_len=int(length) if isinstance(length, int) and length > 0 else None,
        system_fingerprint=reported_fingerprint(answer),
    )


def reported_fingerprint(answer: Any) -> str | None:
    """The ``system_fingerprint`` of an answer, where the server sends one."""
    found = answer.get("system_fingerprint") if isinstance(answer, dict) else None
    return str(found) if found else None


def count_tokens(client: HttpClient, model: str, text: str) -> int | None:
    """Tokens of ``text`` by the server's tokenizer (vLLM ``POST /tokenize``); None where the
    server has no such endpoint."""
    try:
        answer = client.request("POST", "/tokenize", {"model": model, "prompt": text,
                                                      "add_special_tokens": True}, root=True)
    except ServerError as err:
        if err.retryable:
            raise
        return None
    except ValueError:
        return None
    count = answer.get("count") if isinstance(answer, dict) else None
    return int(count) if isinstance(count, int) else None
