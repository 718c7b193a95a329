"""``OpenAICompatible``: score targets through an OpenAI-compatible completions server.

Scoring uses ``POST {base_url}/completions``, in two ways:

* echo (exact): send ``prompt + target`` with ``echo=true``, ``logprobs=1`` and
  ``max_tokens=0`` (``1`` where the server refuses 0; the generated token is ignored), then
  sum the echoed log-probabilities of the tokens that hold target bytes
  (:func:`~proxyspex.models.openai.logprobs.echoed_span`).
* top_logprobs: complete ``prompt`` with ``max_tokens=1`` and ``logprobs=K`` and read the
  target's log-prob among the K most likely next tokens. One request serves every
  single-token option of a prompt. Longer targets are teacher-forced piece by piece
  (exact for a single token; the server re-tokenizes each extended prompt).

``scoring="auto"`` detects echo once, then chooses per target: a target that the echo
showed to be one token, and that is among the top K, is read from one top_logprobs request
per prompt (the same value, 3x faster on vLLM); every other target is echoed. Without echo
it falls back to teacher forcing.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from proxyspex._validation import check_choice, check_int
from proxyspex.errors import PartialOutputError
from proxyspex.models.base import split_boundary
from proxyspex.models.openai import templates
from proxyspex.models.openai.http import UNAUTHORISED, HttpClient, ServerError
from proxyspex.models.openai.identity import ServerIdentity, count_tokens, identify, reported_fingerprint
from proxyspex.models.openai.logprobs import echoed_span, parse_logprobs, teacher_force
from proxyspex.models.openai.rows import RowFailure, check_prompts, check_text, collect_rows, fails_alone

SCORING = ("auto", "echo", "top_logprobs")
#: Version of what a cached value means; bump it when scoring changes values.
CACHE_FORMAT = 2


class OpenAICompatible:
    """A language model behind an OpenAI-compatible server, scored via ``/v1/completions``.

    Implements :class:`~proxyspex.models.LanguageModel`, so it can replace
    :class:`~proxyspex.models.LocalLM` in ``Sentiment``, ``RAG`` and ``Generation``.
    Building it asks the server once who it is (``GET /models`` and a one-token completion):
    a wrong model name fails here, and :attr:`fingerprint` then sends nothing.

    Parameters
    ----------
    base_url : str
        ``http(s)://host:port/v1``; a URL without a path gets ``/v1``.
    model : str or None
        The served model name; ``None`` takes the only one ``{base_url}/models`` lists.
    api_key_env : str
        Environment variable holding the API key, read at each request (sent as a Bearer
        token if set). The key is never stored, pickled, shown or put in a message.
    scoring : {"auto", "echo", "top_logprobs"}
        See the module docstring.
    chat_template : None, str, "server" or callable
        How :meth:`chat` wraps a user message: ``None`` returns it unchanged, a Jinja string
        is rendered like transformers' ``apply_chat_template`` (empty ``bos_token``),
        ``"server"`` has vLLM render its own template, a callable is called as ``f(user, system)``.
    max_concurrency : int
        Most requests in flight at once, across every call on this back-end.
    connect_timeout, read_timeout : float
        Seconds to wait for a connection, and for each read of the answer.
    deadline : float
        Seconds one request may take in all; a server that drip-feeds its answer is cut off.
    max_retries : int
        Retries of a request refused with 408, 409, 425, 429 or 5xx, or whose connection
        failed. Other 4xx fail at once with the server's message. Timeouts are not retried.
    backoff, max_backoff : float
        Retry ``r`` waits ``min(max_backoff, backoff * 2**r)`` seconds times a jitter in
        [0.5, 1], or the server's ``Retry-After``, but never more than ``max_backoff``.
    top_logprobs : int
        Candidates per top_logprobs request (OpenAI allows 5, vLLM 20).
    connect : bool
        False skips asking the server at construction; call :meth:`connect` before
        :attr:`fingerprint` (scoring connects by itself).
    random_state : int or None
        Seeds the backoff jitter.
    """

    def __init__(self, base_url: str, model: str | None = None, *, api_key_env: str = "OPENAI_API_KEY",
                 scoring: str = "auto", chat_template: templates.ChatTemplate = None, max_concurrency: int = 8,
                 connect_timeout: float = 10.0, read_timeout: float = 120.0, deadline: float = 600.0,
                 max_retries: int = 5, backoff: float = 0.5, max_backoff: float = 30.0, top_logprobs: int = 20,
                 connect: bool = True, random_state: int | None = None) -> None:
        if model is not None and (not isinstance(model, str) or not model):
            raise ValueError(f"model must be a non-empty str or None, got {model!r}")
        if not isinstance(api_key_env, str) or not api_key_env:
            raise ValueError(f"api_key_env must name an environment variable, got {api_key_env!r}")
        self.http = HttpClient(base_url, api_key_env=api_key_env, max_concurrency=max_concurrency,
                               connect_timeout=connect_timeout, read_timeout=read_timeout, deadline=deadline,
                               max_retries=max_retries, backoff=backoff, max_backoff=max_backoff,
                               random_state=random_state)
        self.model = model
        self.scoring = check_choice("scoring", scoring, SCORING)
        self.chat_template = templates.check_template(chat_template)
        self.top_logprobs = check_int("top_logprobs", top_logprobs, min_value=1)
        self.identity: ServerIdentity | None = None
        self._method: str | None = None if scoring == "auto" else scoring
        self._echo_max_tokens = 0
        self._echo_refusal: str | None = None  # why echo failed, for the fallback's errors
        self._single: dict[str, bool] = {}  # target -> did the echo show it as one token?
        self._rendered: dict[tuple[str, str | None], str] = {}
        self._warned_chat = False
        self._detect_lock = threading.Lock()
        if connect:
            self.connect()

    base_url = property(lambda self: self.http.base_url)
    api_key_env = property(lambda self: self.http.api_key_env)

    def __getstate__(self) -> dict[str, Any]:  # locks do not pickle (Ray ships games to actors)
        return {k: v for k, v in self.__dict__.items() if k != "_detect_lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._detect_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"OpenAICompatible({self.base_url!r}, model={self.model!r}, scoring={self.scoring!r})"

    def connect(self) -> ServerIdentity:
        """Ask the server who it is, once (see :mod:`~proxyspex.models.openai.identity`)."""
        if self.identity is None:
            self.identity = identify(self.http, self.model)
            self.model = self.identity.model
        return self.identity

    @property
    def fingerprint(self) -> str:
        """Server URL, what the server reports, the scoring options and chat template, and the
        cache format (never the key). Sends nothing."""
        if self.identity is None:
            raise RuntimeError(f"{self!r} was built with connect=False: call .connect() before its fingerprint")
        return (f"openai:{self.base_url}|{self.identity.key()}|scoring={self.scoring}|top_logprobs="
                f"{self.top_logprobs}|chat_template={templates.template_digest(self.chat_template)}"
                f"|format={CACHE_FORMAT}")

    @property
    def method(self) -> str | None:
        """``"echo"`` or ``"top_logprobs"`` once known (``None`` before the first score)."""
        return self._method

    def served_model(self) -> str:
        """The served model name (asked of the server when not given)."""
        return self.connect().model

    def server_chat_template(self) -> str | None:
        """The chat template text the server publishes (llama.cpp ``/props``), else None; vLLM
        publishes none (use ``chat_template="server"`` to have it render instead)."""
        return templates.read_server_template(self.http)

    # -- LanguageModel protocol -----------------------------------------------------------
    def rows_per_batch(self, n_tokens: int = 0, shared: int = 0) -> int:
        """Prompts per game batch (the batch protocol of :mod:`proxyspex.query`): four waves of
        ``max_concurrency`` requests, so paid answers reach the cache soon after they arrive."""
        return 4 * self.http.max_concurrency

    def chat(self, user: str, system: str | None = None) -> str:
        """Wrap ``user`` with :attr:`chat_template`; without one, return it and warn once."""
        template = self.chat_template
        if template is None:
            if not self._warned_chat:
                self._warned_chat = True
                warnings.warn(f"{self!r} has no chat_template, so chat prompts (RAG, Generation) go to the "
                              "server unwrapped; pass the model's template as chat_template=", stacklevel=2)
            return user
        if callable(template):
            return template(user, system)
        messages = templates.messages_for(user, system)
        if template != templates.SERVER:
            return templates.render_jinja(template, messages)
        if (user, system) not in self._rendered:
            self._rendered[(user, system)] = templates.render_on_server(self.http, self.served_model(), messages)
        return self._rendered[(user, system)]

    def generate(self, prompt: str, max_new_tokens: int = 32) -> str:
        """Greedy (temperature 0) continuation of ``prompt``."""
        check_text(prompt, "prompt")
        max_new_tokens = check_int("max_new_tokens", max_new_tokens, min_value=1)
        return str(self._complete(prompt, max_tokens=max_new_tokens).get("text") or "")

    def score(self, prompts: Sequence[str], target: str) -> np.ndarray:
        """``(m,)`` array of ``log p(target | prompt)``; give ``target`` its leading space."""
        check_text(target, "target")
        try:
            return self._map(check_prompts(prompts), [target])[:, 0]
        except PartialOutputError as err:
            raise err.with_values(err.values[:, 0]) from err.__cause__

    def score_options(self, prompts: Sequence[str], options: Sequence[str]) -> np.ndarray:
        """``(m, k)`` array of ``log p(option | prompt)``."""
        if isinstance(options, str) or not options:
            raise ValueError(f"options must be a non-empty sequence of str, got {options!r}")
        for option in options:
            check_text(option, "every option")
        return self._map(check_prompts(prompts), list(options))

    # -- scoring --------------------------------------------------------------------------
    def _map(self, prompts: list[str], targets: list[str]) -> np.ndarray:
        """Score every target after every prompt, one task per prompt (the prompt/target boundary
        by :func:`~proxyspex.models.base.split_boundary`); failed rows are NaN in a
        :class:`~proxyspex.errors.PartialOutputError`."""
        if not prompts:
            return np.zeros((0, len(targets)))
        self.connect()
        pairs = [[split_boundary(p, t) for t in targets] for p in prompts]
        self._check_context(prompts, targets)
        for row in range(min(len(pairs), 8)):  # a prompt refused for itself cannot tell what the server does
            try:
                self._detect(*pairs[row][0])
                break
            except Exception as err:
                if not fails_alone(err) or row == min(len(pairs), 8) - 1:
                    raise
        pool = ThreadPoolExecutor(max_workers=min(self.http.max_concurrency, len(prompts)))
        try:
            return collect_rows(lambda i: self._score_prompt(pairs[i]), len(prompts), len(targets), pool,
                                where=self.base_url)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _score_prompt(self, pairs: list[tuple[str, str]]) -> list[float]:
        if self._method == "top_logprobs":
            memo: dict[str, dict[str, float]] = {}  # options share their first step
            return [self._forced_logprob(prompt, target, memo) for prompt, target in pairs]
        values, top = [], None
        for prompt, target in pairs:
            if self.scoring == "auto" and self._single.get(target):
                top = top if top is not None else self._next_token_logprobs(prompt)
                if target in top:
                    values.append(top[target])
                    continue
            values.append(self._echo_logprob(prompt, target))
        return values

    def _check_context(self, prompts: list[str], targets: list[str]) -> None:
        """Fail before paying when the longest prompt and target exceed the server's context."""
        limit = self.identity.max_model_len if self.identity else None
        if limit is None or getattr(self, "_no_tokenize", False):
            return
        count = count_tokens(self.http, self.served_model(), max(prompts, key=len) + max(targets, key=len))
        if count is None:
            self._no_tokenize = True
        elif count + 1 > limit:
            raise ValueError(f"the longest prompt with its target is {count} tokens, and {self.base_url} serves "
                             f"{self.model!r} with max_model_len={limit} (one more position is needed for the "
                             "scored token); shorten the text or explain it by coarser units (sentences)")

    def _detect(self, prompt: str, target: str) -> None:
        """Find once whether the server echoes prompt log-probs; commit only on success."""
        with self._detect_lock:
            if self._method is not None:
                return
            refusal = None
            for max_tokens in (0, 1):
                try:
                    choice = self._complete(prompt + target, max_tokens=max_tokens, echo=True, logprobs=1)
                except ServerError as err:
                    if err.retryable or err.status in UNAUTHORISED:
                        raise
                    refusal = str(err)
                    continue
                if echoed_span(choice, len(prompt), prompt + target):
                    self._method, self._echo_max_tokens = "echo", max_tokens
                    return
                refusal = "it answered echo=true without log-probabilities of the prompt"
                break
            self._next_token_logprobs(prompt)  # raises a clear error if this fails too
            self._method = "top_logprobs"
            self._echo_refusal = refusal

    def _echo_logprob(self, prompt: str, target: str) -> float:
        text = prompt + target
        span = echoed_span(self._complete(text, max_tokens=self._echo_max_tokens, echo=True, logprobs=1),
                           len(prompt), text)
        if not span:
            raise RowFailure(f"{self.base_url} echoed no tokens of the target {target!r} with log-probabilities")
        self._single.setdefault(target, len(span) == 1 and span[0].text == target)
        return float(sum(token.logprob for token in span))

    def _forced_logprob(self, prompt: str, target: str, memo: dict[str, dict[str, float]]) -> float:
        return teacher_force(prompt, target, self._next_token_logprobs, memo, where=self.base_url,
                             refusal=self._echo_refusal or "scoring=top_logprobs")

    def _next_token_logprobs(self, context: str) -> dict[str, float]:
        choice = self._complete(context, max_tokens=1, logprobs=self.top_logprobs)
        tokens = parse_logprobs(choice.get("logprobs"))
        if not tokens or tokens[0].logprob is None:
            raise ValueError(f"{self.base_url} returned no log-probabilities: proxyspex needs either echo=true with "
                             "logprobs (prompt log-probabilities) or logprobs of generated tokens with "
                             "top_logprobs, and this server supports neither")
        return {**tokens[0].top, tokens[0].text: tokens[0].logprob}

    def _complete(self, prompt: str, **params: Any) -> dict[str, Any]:
        payload = {"model": self.served_model(), "prompt": prompt, "temperature": 0, **params}
        answer = self.http.request("POST", "/completions", payload)
        choices = answer.get("choices") if isinstance(answer, dict) else None
        if not choices or not isinstance(choices[0], dict):
            shown = self.http.redact(str(answer))[:300]
            raise ValueError(f"{self.base_url}/completions answered without choices: {shown}")
        reported, known = reported_fingerprint(answer), self.connect().system_fingerprint
        if reported and known and reported != known:
            raise ServerError(f"{self.base_url} now reports system_fingerprint={reported!r}, not {known!r} as when "
                              "this back-end was built: the model behind it changed, so its values would mix two "
                              "models; build the back-end (and the game) again", status=None)
        return choices[0]

