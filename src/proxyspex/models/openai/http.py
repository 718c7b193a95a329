"""The HTTP client of the server back-end: JSON requests with retries, deadlines and redaction.

Only the standard library is used: ``http.client`` for separate connect and read timeouts,
a timer that cuts a request off at its overall ``deadline`` (a server that drip-feeds bytes
is never waited on forever), and a semaphore that caps the requests in flight.

Every text built from the server's bytes goes through :meth:`HttpClient.redact` before it
reaches a message. The API key is never stored: it is read from the environment variable
``api_key_env`` when a request is sent, so a pickled client (what Ray ships to its actors)
holds no key, and each worker reads its own environment.
"""

from __future__ import annotations

import email.utils
import json
import os
import random
import re
import socket
import threading
import time
from http.client import HTTPConnection, HTTPException, HTTPSConnection
from typing import Any
from urllib.parse import urlsplit

from proxyspex._validation import check_int, check_real

#: Statuses of a request that was refused but might be accepted later (5xx too).
RETRYABLE = frozenset({408, 409, 425, 429})
#: Statuses that say the request is fine but the caller is not allowed: no row can succeed.
UNAUTHORISED = frozenset({401, 403})
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s\"',;}\]]+")


class ServerError(OSError):
    """The server answered with an HTTP error (``status``), or could not be reached."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    def __str__(self) -> str:
        return str(self.args[0])

    def __reduce__(self):  # keep ``status`` across processes
        return ServerError, (str(self), self.status)

    @property
    def retryable(self) -> bool:
        """True for statuses (and connection failures) that might succeed later."""
        return self.status is None or self.status in RETRYABLE or self.status >= 500


def check_url(base_url: Any) -> str:
    """``base_url`` normalised to ``scheme://host[:port]/path`` (``/v1`` when it has no path)."""
    if not isinstance(base_url, str):
        raise TypeError(f"base_url must be a str, got {type(base_url).__name__}")
    parts = urlsplit(base_url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"base_url must be an http:// or https:// URL with a host, got {base_url!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("base_url must not carry a query, a fragment or credentials (use api_key_env)")
    try:
        _ = parts.port  # raises on a port that is not a number in 0-65535
    except ValueError as err:
        raise ValueError(f"base_url has a bad port: {err}") from None
    path = parts.path.rstrip("/") or "/v1"
    return f"{parts.scheme}://{parts.netloc}{path}"


class HttpClient:
    """JSON requests to ``base_url``, retried with capped exponential backoff and jitter.

    See :class:`~proxyspex.models.openai.OpenAICompatible` for the parameters.
    """

    def __init__(self, base_url: str, *, api_key_env: str, max_concurrency: int, connect_timeout: float,
                 read_timeout: float, deadline: float, max_retries: int, backoff: float, max_backoff: float,
                 random_state: int | None) -> None:
        seconds = {"low": 0, "include_low": False, "what": "a positive number of seconds"}
        self.base_url = check_url(base_url)
        self.api_key_env = api_key_env
        self.max_concurrency = check_int("max_concurrency", max_concurrency, min_value=1)
        self.connect_timeout = check_real("connect_timeout", connect_timeout, **seconds)
        self.read_timeout = check_real("read_timeout", read_timeout, **seconds)
        self.deadline = check_real("deadline", deadline, **seconds)
        self.max_retries = check_int("max_retries", max_retries, min_value=0)
        self.backoff = check_real("backoff", backoff, **seconds)
        self.max_backoff = check_real("max_backoff", max_backoff, **seconds)
        self.random_state = random_state
        self._init_runtime()

    def _init_runtime(self) -> None:
        self._rng = random.Random(self.random_state)
        self._slots = threading.BoundedSemaphore(self.max_concurrency)

    def __getstate__(self) -> dict[str, Any]:  # locks do not pickle; the key was never stored
        return {k: v for k, v in self.__dict__.items() if k not in {"_rng", "_slots"}}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_runtime()

    # -- the key ----------------------------------------------------------------------------
    def api_key(self) -> str | None:
        """The key, read from ``$api_key_env`` now (never kept on the object)."""
        return os.environ.get(self.api_key_env) or None

    def redact(self, text: str) -> str:
        """``text`` without the API key and without any ``Bearer`` token."""
        key = self.api_key()
        if key:
            text = text.replace(key, "<hidden>")
        return _BEARER.sub(r"\1<hidden>", text)

    def key_hint(self) -> str:
        """Where the key comes from, for messages about refused requests."""
        state = "is set" if self.api_key() else "is not set"
        return (f"the API key is read from ${self.api_key_env}, which {state}; "
                "set it, or pass api_key_env= to read another variable")

    # -- requests ---------------------------------------------------------------------------
    def request(self, method: str, path: str, payload: dict[str, Any] | None = None, *,
                root: bool = False) -> Any:
        """One JSON request to ``base_url + path`` (``root``: to the server's root + path), retried
        where that can help. Raises :class:`ServerError`, ``TimeoutError`` or ``ValueError``."""
        body = None if payload is None else json.dumps(payload).encode()
        url = (self.server_root() if root else self.base_url) + path
        for attempt in range(self.max_retries + 1):
            with self._slots:
                try:
                    status, headers, data = self._send(method, url, body)
                except TimeoutError as err:
                    raise TimeoutError(f"{method} {url}: {err}") from None
                except (HTTPException, OSError) as err:  # refused, reset, bad status line
                    status, headers, data = None, {}, f"{type(err).__name__}: {err}".encode()
            text = self.redact(data.decode("utf-8", "replace"))
            if status is not None and status < 400:
                try:
                    return json.loads(data)
                except ValueError:
                    raise ValueError(f"{method} {url} answered HTTP {status} with non-JSON: "
                                     f"{text[:200]!r}") from None
            error = ServerError("", status)
            if not error.retryable or attempt == self.max_retries:
                raise self._error(method, url, status, attempt, error_message(text))
            time.sleep(self.retry_delay(attempt, headers))
        raise AssertionError("unreachable")

    def server_root(self) -> str:
        """``base_url`` without its trailing ``/v1`` (vLLM serves ``/tokenize`` there)."""
        return self.base_url.removesuffix("/v1")

    def _error(self, method: str, url: str, status: int | None, attempt: int, message: str) -> ServerError:
        what = "could not be reached" if status is None else f"answered HTTP {status}"
        error = ServerError("", status)
        tries = f" (after {attempt + 1} attempts; max_retries={self.max_retries})" if error.retryable else ""
        hint = f" ({self.key_hint()})" if status in UNAUTHORISED or status == 429 else ""
        return ServerError(f"{method} {url} {what}{tries}: {message}{hint}", status)

    def _send(self, method: str, url: str, body: bytes | None) -> tuple[int, Any, bytes]:
        """One attempt, cut off at ``deadline`` seconds in all by a timer that shuts the socket."""
        parts = urlsplit(url)
        connection_class = HTTPSConnection if parts.scheme == "https" else HTTPConnection
        connection = connection_class(parts.hostname, parts.port, timeout=self.connect_timeout)
        expired, opened = threading.Event(), []

        def cut() -> None:  # the response may hold the socket after the connection let it go
            expired.set()
            for sock in opened:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        timer = threading.Timer(self.deadline, cut)
        timer.daemon = True
        timer.start()
        try:
            try:
                connection.connect()
            except TimeoutError:
                raise TimeoutError(f"no connection within connect_timeout={self.connect_timeout} s") from None
            opened.append(connection.sock)
            if expired.is_set():  # the deadline passed while connecting
                cut()
            connection.sock.settimeout(self.read_timeout)
            connection.putrequest(method, parts.path)
            connection.putheader("Content-Type", "application/json")
            connection.putheader("Accept", "application/json")
            key = self.api_key()
            if key:
                connection.putheader("Authorization", "Bearer " + key)
            connection.putheader("Content-Length", str(len(body or b"")))
            try:
                connection.endheaders(body)
                response = connection.getresponse()
                answer = response.status, response.headers, response.read()
            except TimeoutError:
                if expired.is_set():
                    raise
                raise TimeoutError(f"no answer within read_timeout={self.read_timeout} s") from None
            if expired.is_set():
                raise TimeoutError("cut off")
            return answer
        except (HTTPException, OSError):
            if expired.is_set():
                raise TimeoutError(f"no complete answer within deadline={self.deadline} s (the overall limit "
                                   "of one request; raise deadline= for slow servers)") from None
            raise
        finally:
            timer.cancel()
            connection.close()

    def retry_delay(self, attempt: int, headers: Any) -> float:
        """Seconds before retry ``attempt``: the jittered backoff or the server's ``Retry-After``,
        whichever is longer, but never more than ``max_backoff``."""
        delay = min(self.max_backoff, self.backoff * 2**attempt) * (0.5 + 0.5 * self._rng.random())
        return min(self.max_backoff, max(delay, retry_after(headers)))


def error_message(text: str) -> str:
    """The ``error.message`` (OpenAI, vLLM), ``message`` or ``detail`` of an answer, else its start."""
    text = text.strip()
    try:
        body = json.loads(text)
    except ValueError:
        return text[:500] or "(empty answer)"
    if isinstance(body, dict):
        error = body.get("error")
        for found in (error.get("message") if isinstance(error, dict) else error, body.get("message"),
                      body.get("detail")):
            if found:
                return str(found)[:500]
    return text[:500]


def retry_after(headers: Any) -> float:
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
    except (TypeError, ValueError, AttributeError, OverflowError):
        return 0.0
