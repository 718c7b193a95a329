"""Chat templates for the server back-end: local Jinja or callables, or the server's own.

A server applies its chat template only on ``/chat/completions``, which cannot score a
given reply; proxyspex scores on ``/completions``, so the prompt must be wrapped here.

What servers offer (checked against vLLM 0.32 and llama.cpp's server):

* vLLM has no endpoint that returns the template text, but ``POST /tokenize`` accepts
  ``messages`` and applies the served template; ``POST /detokenize`` turns the ids back
  into text. ``chat_template="server"`` renders through these two (two requests per
  distinct message, remembered).
* llama.cpp's server returns the template text in ``GET /props`` (``chat_template``);
  :func:`read_server_template` reads it.
* OpenAI's API offers neither: pass the model's template yourself.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from typing import Any

#: The ``chat_template`` value that asks the server to render (vLLM's ``/tokenize``).
SERVER = "server"

ChatTemplate = str | Callable[[str, str | None], str] | None


def check_template(chat_template: Any) -> ChatTemplate:
    """``chat_template`` if it is None, a Jinja str, ``"server"`` or a callable; else TypeError."""
    if chat_template is not None and not (isinstance(chat_template, str) or callable(chat_template)):
        raise TypeError("chat_template must be None, a Jinja str, 'server' or a callable f(user, system), "
                        f"got {type(chat_template).__name__}")
    return chat_template


def template_digest(chat_template: ChatTemplate) -> str:
    """A short stable identity of the template, for cache keys (a callable: its source code)."""
    if chat_template is None:
        return "none"
    if chat_template == SERVER:
        return "server"
    if callable(chat_template):
        try:
            text = inspect.getsource(chat_template)
        except (OSError, TypeError):
            text = getattr(chat_template, "__qualname__", repr(chat_template))
        text = f"callable:{text}"
    else:
        text = chat_template
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def messages_for(user: str, system: str | None) -> list[dict[str, str]]:
    """The chat messages of one user turn, with an optional system message first."""
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": user})
    return messages


def render_jinja(template: str, messages: list[dict[str, str]]) -> str:
    """Render a Hugging Face style chat template for ``messages`` plus the reply header
    (``bos_token`` is empty: servers add their own)."""
    try:
        from jinja2.exceptions import TemplateError
        from jinja2.sandbox import ImmutableSandboxedEnvironment
    except ImportError as err:
        raise ImportError("a str chat_template needs jinja2 (`pip install jinja2`)") from err

    def raise_exception(message: str) -> None:
        raise TemplateError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=["jinja2.ext.loopcontrols"])
    env.globals["raise_exception"] = raise_exception
    return env.from_string(template).render(messages=messages, add_generation_prompt=True, bos_token="",
                                            eos_token="")


def render_on_server(client: Any, model: str, messages: list[dict[str, str]]) -> str:
    """The prompt the server's own template makes of ``messages`` (vLLM ``/tokenize`` then
    ``/detokenize``); a clear error where the server offers neither."""
    from proxyspex.models.openai.http import ServerError

    try:
        ids = client.request("POST", "/tokenize", {"model": model, "messages": messages,
                                                   "add_generation_prompt": True, "add_special_tokens": False},
                             root=True).get("tokens")
        text = client.request("POST", "/detokenize", {"model": model, "tokens": ids}, root=True).get("prompt")
    except ServerError as err:
        if err.retryable:
            raise
        raise ValueError(f"chat_template='server' needs vLLM's /tokenize and /detokenize, and "
                         f"{client.server_root()} refused them ({err}); pass the model's template as "
                         "chat_template= instead") from None
    if not isinstance(text, str):
        raise ValueError(f"{client.server_root()}/detokenize answered without a prompt text")  # noqa: TRY004
    return text


def read_server_template(client: Any) -> str | None:
    """The chat template text the server publishes (llama.cpp's ``GET /props``), else None."""
    from proxyspex.models.openai.http import ServerError

    try:
        props = client.request("GET", "/props", root=True)
    except (ServerError, ValueError):
        return None
    found = props.get("chat_template") if isinstance(props, dict) else None
    return found if isinstance(found, str) and found else None
