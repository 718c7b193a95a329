"""Score targets through an OpenAI-compatible completions server (vLLM, llama.cpp, TGI, ...).

Scoring uses ``POST {base_url}/completions``. Two ways, detected once per back-end:

* ``"echo"`` (exact): send ``prompt + target`` with ``echo=true``, ``logprobs=1`` and
  ``max_tokens=0`` (``max_tokens=1`` where the server refuses 0, as some vLLM versions
  do; the generated token is ignored), then sum the echoed log-probabilities of the
  tokens that hold target characters, located by ``text_offset`` (a token that straddles
  the prompt/target boundary counts as a target token: give the target its leading space).
* ``"top_logprobs"`` (fallback for servers without echo, e.g. llama.cpp): teacher
  forcing on the text. Complete ``prompt`` with ``max_tokens=1`` and ``logprobs=K``, take
  the longest returned top token that begins the rest of the target, add its log-prob,
  append it to the prompt and repeat. Exact for a single-token target or option among the
  top K; for longer targets the server re-tokenizes each extended prompt, which can differ
  slightly from scoring the target in one pass. A target piece outside the top K is an
  error, not a guess.

Only the standard library is used: ``http.client`` for separate connect and read
timeouts, ``concurrent.futures`` threads for concurrency.
"""

from __future__ import annotations

import email.utils
import itertools
import json
import os
import random
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPConnection, HTTPException, HTTPSConnection
from typing import Any
from urllib.parse import urlsplit

import numpy as np

SCORING = ("auto", "echo", "top_logprobs")
#: Statuses of a request that was refused but might be accepted later.
RETRYABLE = frozenset({408, 409, 425, 429})


class ServerError(OSError):
    """The server answered with an HTTP error (``status``), or could not be reached."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    def __str__(self) -> str:
        return str(self.args[0])


class _Secret:
    """Holds the API key; its repr never shows it."""

    def __init__(self, value: str | None) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<hidden>" if self.value else "None"


class OpenAICompatible:
    """A language model behind an OpenAI-compatible server, scored via ``/v1/completions``.

    Implements :class:`~proxyspex.models.LanguageModel`, so it can replace
    :class:`~proxyspex.models.LocalLM` in ``Sentiment``, ``RAG`` and ``Generation``.

    Parameters
    ----------
    base_url : str
        ``http(s)://host:port/v1``; a URL without a path gets ``/v1``.
    model : str or None
        The served model name; ``None`` asks ``{base_url}/models`` once (it must list one).
    api_key_env : str
        Environment variable holding the API key (sent as a Bearer token if set). The key
        never appears in ``repr``, the fingerprint or error messages.
    scoring : {"auto", "echo", "top_logprobs"}
        ``"auto"`` tries echo once, then falls back (see the module docstring).
    chat_template : None, str or callable
        How :meth:`chat` wraps a user message: ``None`` returns it unchanged, a Jinja
        string is rendered like transformers' ``apply_chat_template`` (``bos_token`` is
        empty, since servers add their own), a callable is called as ``f(user, system)``.
    max_concurrency : int
        Most requests in flight at once, across every call on this back-end.
    connect_timeout, read_timeout : float
        Seconds to wait for a connection, and for each read of the answer.
    max_retries : int
        Retries of a request refused with 408, 409, 425, 429 or 5xx, or whose connection
        failed. Other 4xx fail at once with the server's message. Timeouts are not retried.
    backoff, max_backoff : float
        Retry ``r`` waits ``min(max_backoff, backoff * 2**r)`` seconds times a jitter in
        [0.5, 1], and at least the server's ``Retry-After`` (or ``retry-after-ms``).
    top_logprobs : int
        Candidates per step of the ``"top_logprobs"`` fallback (OpenAI allows 5, vLLM 20).
    random_state : int or None
        Seeds the backoff jitter.
    """

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        *,
        api_key_env: str = "OPENAI_API_KEY",
        scoring: str = "auto",
        chat_template: str | Callable[[str, str | None], str] | None = None,
        max_concurrency: int = 8,
        connect_timeout: float = 10.0,
        read_timeout: float = 120.0,
        max_retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        top_logprobs: int = 20,
        random_state: int | None = None,
    ) -> None:
        self.base_url = _check_url(base_url)
        if model is not None and (not isinstance(model, str) or not model):
            raise ValueError(f"model must be a non-empty str or None, got {model!r}")
        if not isinstance(api_key_env, str) or not api_key_env:
            raise ValueError(f"api_key_env must name an environment variable, got {api_key_env!r}")
        if scoring not in SCORING:
            raise ValueError(f"scoring must be one of {SCORING}, got {scoring!r}")
        if chat_template is not None and not (
            isinstance(chat_template, str) or callable(chat_template)
        ):
            raise TypeError(
                "chat_template must be None, a Jinja str or a callable, "
                f"got {type(chat_template).__name__}"
            )
        for name, value in [("max_concurrency", max_concurrency), ("top_logprobs", top_logprobs)]:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError(f"max_retries must be a non-negative int, got {max_retries!r}")
        for name, value in [
            ("connect_timeout", connect_timeout),
            ("read_timeout", read_timeout),
            ("backoff", backoff),
            ("max_backoff", max_backoff),
        ]:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        self.model = model
        self.api_key_env = api_key_env
        self.scoring = scoring
        self.chat_template = chat_template
        self.max_concurrency = max_concurrency
        self.connect_timeout = float(connect_timeout)
        self.read_timeout = float(read_timeout)
        self.max_retries = max_retries
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.top_logprobs = top_logprobs
        self.random_state = random_state
        self._api_key = _Secret(os.environ.get(api_key_env) or None)
        self._method: str | None = None if scoring == "auto" else scoring
        self._echo_max_tokens = 0
        self._echo_refusal: str | None = None  # why echo failed, for the fallback's errors
        self._warned_chat = False
        self._init_runtime()

    def _init_runtime(self) -> None:
        self._rng = random.Random(self.random_state)
        self._slots = threading.BoundedSemaphore(self.max_concurrency)
        self._detect_lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:  # locks do not pickle (Ray ships games to actors)
        return {
            k: v for k, v in self.__dict__.items() if k not in {"_rng", "_slots", "_detect_lock"}
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_runtime()

    def __repr__(self) -> str:
        return (
            f"OpenAICompatible({self.base_url!r}, model={self.model!r}, scoring={self.scoring!r})"
        )

    @property
    def fingerprint(self) -> str:
        """Server URL, model name and scoring mode (never the key); asks for the model if unset."""
        return f"openai:{self.base_url}|model={self.served_model()}|scoring={self.scoring}"

    @property
    def method(self) -> str | None:
        """``"echo"`` or ``"top_logprobs"`` once known (``None`` before the first score)."""
        return self._method

    def served_model(self) -> str:
        """The model name, asked of ``{base_url}/models`` the first time when not given."""
        if self.model is None:
            listed = [m.get("id") for m in self._request("GET", "/models").get("data", [])]
            if len(listed) != 1 or not isinstance(listed[0], str):
                raise ValueError(
                    f"{self.base_url}/models lists {listed!r}; pass model= to choose exactly one"
                )
            self.model = listed[0]
        return self.model

    # -- LanguageModel protocol -----------------------------------------------------------
    def rows_per_batch(self, n_tokens: int = 0, shared: int = 0) -> int:
        """Prompts per game batch (the batch protocol of :mod:`proxyspex.query`): four waves of
        ``max_concurrency`` requests, so paid answers reach the cache soon after they arrive."""
        return 4 * self.max_concurrency

    def chat(self, user: str, system: str | None = None) -> str:
        """Wrap ``user`` with :attr:`chat_template`; without one, return it and warn once."""
        if self.chat_template is None:
            if not self._warned_chat:
                self._warned_chat = True
                warnings.warn(
                    f"{self!r} has no chat_template, so chat prompts (RAG, Generation) go to "
                    "the server unwrapped; pass the model's template as chat_template=",
                    stacklevel=2,
                )
            return user
        if callable(self.chat_template):
            return self.chat_template(user, system)
        messages = [{"role": "system", "content": system}] if system else []
        messages.append({"role": "user", "content": user})
        return _render_jinja(self.chat_template, messages)

    def generate(self, prompt: str, max_new_tokens: int = 32) -> str:
        """Greedy (temperature 0) continuation of ``prompt``."""
        _check_text(prompt, "prompt")
        if (
            isinstance(max_new_tokens, bool)
            or not isinstance(max_new_tokens, int)
            or max_new_tokens < 1
        ):
            raise ValueError(f"max_new_tokens must be a positive int, got {max_new_tokens!r}")
        return str(self._complete(prompt, max_tokens=max_new_tokens).get("text") or "")

    def score(self, prompts: Sequence[str], target: str) -> np.ndarray:
        """``(m,)`` array of ``log p(target | prompt)``; give ``target`` its leading space."""
        prompts = _check_prompts(prompts)
        _check_text(target, "target")
        return np.array(self._map(prompts, [target]), dtype=float).reshape(len(prompts))

    def score_options(self, prompts: Sequence[str], options: Sequence[str]) -> np.ndarray:
        """``(m, k)`` array of ``log p(option | prompt)``."""
        prompts = _check_prompts(prompts)
        if isinstance(options, str) or not options:
            raise ValueError(f"options must be a non-empty sequence of str, got {options!r}")
        for option in options:
            _check_text(option, "every option")
        return np.array(self._map(prompts, list(options)), dtype=float).reshape(
            len(prompts), len(options)
        )

    # -- scoring --------------------------------------------------------------------------
    def _map(self, prompts: list[str], targets: list[str]) -> list[list[float]]:
        """Score every target after every prompt; one task per prompt, at most
        ``max_concurrency`` requests in flight (the semaphore in :meth:`_request`)."""
        if not prompts:
            return []
        self._detect(prompts[0], targets[0])
        if len(prompts) == 1:
            return [self._score_prompt(prompts[0], targets)]
        pool = ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(prompts)))
        try:
            return list(pool.map(lambda p: self._score_prompt(p, targets), prompts))
        finally:  # after a failure, start no further prompt
            pool.shutdown(wait=True, cancel_futures=True)

    def _score_prompt(self, prompt: str, targets: list[str]) -> list[float]:
        if self._method == "echo":
            return [self._echo_logprob(prompt, t) for t in targets]
        memo: dict[str, dict[str, float]] = {}  # options share their first step
        return [self._forced_logprob(prompt, t, memo) for t in targets]

    def _detect(self, prompt: str, target: str) -> None:
        """Find once whether the server echoes prompt log-probs; commit only on success."""
        with self._detect_lock:
            if self._method is not None:
                return
            refusal = None
            for max_tokens in (0, 1):
                try:
                    choice = self._complete(
                        prompt + target, max_tokens=max_tokens, echo=True, logprobs=1
                    )
                except ServerError as err:
                    if err.status is None or err.status in RETRYABLE or err.status >= 500:
                        raise
                    refusal = str(err)
                    continue
                if _echoed_span(choice, len(prompt), prompt + target):
                    self._method, self._echo_max_tokens = "echo", max_tokens
                    return
                refusal = "it answered echo=true without log-probabilities of the prompt"
                break
            self._next_token_logprobs(prompt)  # raises a clear error if this fails too
            self._method = "top_logprobs"
            self._echo_refusal = refusal

    def _echo_logprob(self, prompt: str, target: str) -> float:
        text = prompt + target
        choice = self._complete(text, max_tokens=self._echo_max_tokens, echo=True, logprobs=1)
        span = _echoed_span(choice, len(prompt), text)
        if not span:
            raise ValueError(
                f"{self.base_url} echoed no tokens of the target {target!r} with log-probabilities"
            )
        return float(sum(span))

    def _forced_logprob(self, prompt: str, target: str, memo: dict[str, dict[str, float]]) -> float:
        total, done = 0.0, 0
        while done < len(target):
            context = prompt + target[:done]
            if context not in memo:
                memo[context] = self._next_token_logprobs(context)
            top, rest = memo[context], target[done:]
            # A lone whitespace token before a word is a split BPE tokenizers never make
            # (they merge the space into the word): taking it would score garbage.
            pieces = [
                token
                for token in top
                if token
                and rest.startswith(token)
                and (token.strip() or len(token) == len(rest) or rest[len(token)].isspace())
            ]
            if not pieces:
                raise ValueError(
                    f"{self.base_url} does not return prompt log-probabilities with echo=true "
                    f"({self._echo_refusal or 'scoring=top_logprobs'}), and "
                    f"{rest!r} starts with none of the {len(top)} most likely next tokens it "
                    f"returned ({sorted(top, key=top.get, reverse=True)[:5]!r}...), so "
                    f"log p({target!r} | prompt) is unavailable; raise top_logprobs (up to the "
                    "server's limit) or use a server with echo support such as vLLM"
                )
            piece = max(pieces, key=len)
            total += top[piece]
            done += len(piece)
        return total

    def _next_token_logprobs(self, context: str) -> dict[str, float]:
        choice = self._complete(context, max_tokens=1, logprobs=self.top_logprobs)
        tokens = _parse_logprobs(choice.get("logprobs"))
        if not tokens or tokens[0][2] is None:
            raise ValueError(
                f"{self.base_url} returned no log-probabilities: proxyspex needs either echo=true "
                "with logprobs (prompt log-probabilities) or logprobs of generated tokens with "
                "top_logprobs, and this server supports neither"
            )
        token, logprob, top = tokens[0][1], tokens[0][2], tokens[0][3]
        return {**top, token: logprob}

    # -- HTTP -----------------------------------------------------------------------------
    def _complete(self, prompt: str, **params: Any) -> dict[str, Any]:
        payload = {"model": self.served_model(), "prompt": prompt, "temperature": 0, **params}
        answer = self._request("POST", "/completions", payload)
        choices = answer.get("choices") if isinstance(answer, dict) else None
        if not choices or not isinstance(choices[0], dict):
            raise ValueError(
                f"{self.base_url}/completions answered without choices: {str(answer)[:300]}"
            )
        return choices[0]

    def _request(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        """One JSON request, retried with exponential backoff and jitter where that can help."""
        body = None if payload is None else json.dumps(payload).encode()
        url = self.base_url + path
        for attempt in range(self.max_retries + 1):
            with self._slots:
                try:
                    status, headers, data = self._send(method, path, body)
                except TimeoutError as err:
                    raise TimeoutError(f"{url}: {err}") from None
                except (HTTPException, OSError) as err:  # refused, reset, bad status line
                    status, headers, data = None, {}, f"{type(err).__name__}: {err}".encode()
            if status is not None and status < 400:
                try:
                    return json.loads(data)
                except ValueError:
                    raise ValueError(
                        f"{url} answered HTTP {status} with non-JSON: {data[:200]!r}"
                    ) from None
            message = self._redact(_error_message(data))
            retryable = status is None or status in RETRYABLE or status >= 500
            if not retryable or attempt == self.max_retries:
                what = "could not be reached" if status is None else f"answered HTTP {status}"
                tries = f" (after {attempt + 1} attempts)" if retryable else ""
                raise ServerError(f"{method} {url} {what}{tries}: {message}", status)
            time.sleep(self._retry_delay(attempt, headers))
        raise AssertionError("unreachable")

    def _send(self, method: str, path: str, body: bytes | None) -> tuple[int, Any, bytes]:
        parts = urlsplit(self.base_url)
        connection_class = HTTPSConnection if parts.scheme == "https" else HTTPConnection
        connection = connection_class(parts.hostname, parts.port, timeout=self.connect_timeout)
        try:
            try:
                connection.connect()
            except TimeoutError:
                raise TimeoutError(
                    f"no connection within connect_timeout={self.connect_timeout} s"
                ) from None
            connection.sock.settimeout(self.read_timeout)
            connection.putrequest(method, parts.path + path)
            connection.putheader("Content-Type", "application/json")
            connection.putheader("Accept", "application/json")
            if self._api_key.value:
                connection.putheader("Authorization", "Bearer " + self._api_key.value)
            connection.putheader("Content-Length", str(len(body or b"")))
            try:
                connection.endheaders(body)
                response = connection.getresponse()
                return response.status, response.headers, response.read()
            except TimeoutError:
                raise TimeoutError(f"no answer within read_timeout={self.read_timeout} s") from None
        finally:
            connection.close()

    def _retry_delay(self, attempt: int, headers: Any) -> float:
        delay = min(self.max_backoff, self.backoff * 2**attempt) * (0.5 + 0.5 * self._rng.random())
        return max(delay, _retry_after(headers))

    def _redact(self, text: str) -> str:
        key = self._api_key.value
        return text.replace(key, "<hidden>") if key else text


def _check_url(base_url: str) -> str:
    if not isinstance(base_url, str):
        raise TypeError(f"base_url must be a str, got {type(base_url).__name__}")
    parts = urlsplit(base_url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(
            f"base_url must be an http:// or https:// URL with a host, got {base_url!r}"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(
            "base_url must not carry a query, a fragment or credentials (use api_key_env)"
        )
    try:
        _ = parts.port  # raises on a port that is not a number in 0-65535
    except ValueError as err:
        raise ValueError(f"base_url has a bad port: {err}") from None
    path = parts.path.rstrip("/") or "/v1"
    return f"{parts.scheme}://{parts.netloc}{path}"


def _check_text(text: object, name: str) -> None:
    if not isinstance(text, str) or not text:
        raise ValueError(f"{name} must be a non-empty str, got {text!r}")


def _check_prompts(prompts: Sequence[str]) -> list[str]:
    if isinstance(prompts, str):
        raise TypeError("prompts must be a sequence of str, not one str")
    prompts = list(prompts)
    for prompt in prompts:
        _check_text(prompt, "every prompt")
    return prompts


def _parse_logprobs(logprobs: Any) -> list[tuple[int | None, str, float | None, dict[str, float]]]:
    """``(text_offset, token, logprob, top)`` per token, from the legacy completions format
    (``tokens``/``token_logprobs``/``top_logprobs``/``text_offset``) or the chat-style
    ``content`` list some servers return."""
    if not isinstance(logprobs, dict):
        return []
    if isinstance(logprobs.get("content"), list):
        rows = []
        for item in logprobs["content"]:
            top = {t["token"]: t["logprob"] for t in item.get("top_logprobs") or []}
            rows.append((None, item.get("token", ""), item.get("logprob"), top))
        return rows
    tokens = logprobs.get("tokens") or []
    values = logprobs.get("token_logprobs") or [None] * len(tokens)
    offsets = logprobs.get("text_offset") or [None] * len(tokens)
    tops = logprobs.get("top_logprobs") or [None] * len(tokens)
    return [(o, t, v, dict(top or {})) for o, t, v, top in zip(offsets, tokens, values, tops)]


def _echoed_span(choice: dict[str, Any], start: int, text: str) -> list[float]:
    """Log-probs of the echoed tokens that hold characters of ``text[start:]``; empty if the
    answer does not echo ``text`` with log-probs. A token that straddles ``start`` counts
    as a target token."""
    tokens = _parse_logprobs(choice.get("logprobs"))
    shown = str(choice.get("text") or "")
    if not tokens or not shown.startswith(text):
        return []
    pieces = [piece for _, piece, _, _ in tokens]
    summed = [0, *itertools.accumulate(len(piece) for piece in pieces)]
    offsets = [offset for offset, *_ in tokens]
    if None in offsets or offsets == summed[:-1]:
        # Offsets that are summed token lengths count special tokens the text does not
        # show (some servers echo a leading "<s>"): measure them from the end instead.
        shift = summed[-1] - len(shown) if "".join(pieces).endswith(shown) else 0
        offsets = [offset - shift for offset in summed[:-1]]
    ends = [*offsets[1:], len(shown)]
    span = [lp for o, e, (_, _, lp, _) in zip(offsets, ends, tokens) if o < len(text) and e > start]
    if not span or any(lp is None for lp in span):
        return []
    return [float(lp) for lp in span]


def _error_message(data: bytes) -> str:
    """The ``error.message`` (OpenAI, vLLM), ``message`` or ``detail`` text of an answer."""
    text = data.decode("utf-8", "replace").strip()
    try:
        body = json.loads(text)
    except ValueError:
        return text[:500] or "(empty answer)"
    if isinstance(body, dict):
        error = body.get("error")
        for found in (
            error.get("message") if isinstance(error, dict) else error,
            body.get("message"),
            body.get("detail"),
        ):
            if found:
                return str(found)[:500]
    return text[:500]


def _retry_after(headers: Any) -> float:
    """Seconds asked by ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date), else 0."""
    try:
        if headers.get("retry-after-ms"):
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        value = headers.get("Retry-After")
        if not value:
            return 0.0
        try:
            return max(0.0, float(value))
        except ValueError:
            return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, AttributeError):
        return 0.0


def _render_jinja(template: str, messages: list[dict[str, str]]) -> str:
    """Render a Hugging Face style chat template for ``messages`` plus the reply header."""
    try:
        from jinja2.exceptions import TemplateError
        from jinja2.sandbox import ImmutableSandboxedEnvironment
    except ImportError as err:
        raise ImportError("a str chat_template needs jinja2 (`pip install jinja2`)") from err

    def raise_exception(message: str) -> None:
        raise TemplateError(message)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
    )
    env.globals["raise_exception"] = raise_exception
    return env.from_string(template).render(
        messages=messages, add_generation_prompt=True, bos_token="", eos_token=""
    )
