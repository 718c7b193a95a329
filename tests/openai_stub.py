"""A loopback OpenAI-compatible completions server for tests.

``serve(backend)`` starts it on a random free port in a thread and yields a :class:`Stub`
whose attributes script its behaviour: ``echo`` ("yes", "ignore" or "refuse" like
llama.cpp), ``refuse_max_tokens_zero`` (like some vLLM versions), ``logprobs`` (False:
never any), ``logprobs_format`` ("legacy" or the chat-style "content" list),
``text_offset`` (False: omit it), ``bos`` (a leading special token to echo), ``delay``
(seconds per request) and ``plan`` (a queue of faults for the next requests, e.g.
``{"status": 429, "headers": {"Retry-After": "0.3"}}``), and what it reports about itself
(``root``, ``max_model_len``, which also turns on vLLM's ``/tokenize``, ``system_fingerprint``);
``reflect_headers`` and ``drip`` make it misbehave. It records every request and
the most requests it ever had in flight at once.

Two back-ends: :class:`ToyLM`, a deterministic word-level LM with closed-form
log-probabilities, and :class:`TorchLM`, which serves a ``LocalLM`` with full fp32
forward passes (no batching, no prefix reuse), like an independent inference server.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np


class ToyLM:
    """Tokens are words with their leading whitespace. After a context of c characters,
    the next token is drawn from ``VOCAB`` by a softmax of ``3 sin(i (1 + c mod 13))``;
    any other token has log-prob ``-5 - len(token)/2`` (not a distribution; fine for tests)."""

    name = "toy-lm"
    VOCAB = (" positive", " negative", " yes", " no", " the", " a", " good", " bad", " very", " .")

    def encode(self, text: str) -> list[str]:
        return re.findall(r"\s*\S+|\s+", text)

    def piece(self, token: str) -> str:
        return token

    def pieces(self, tokens: list[str]) -> list[str]:
        return [self.piece(t) for t in tokens]

    def vocab_logprobs(self, context: str) -> np.ndarray:
        logits = 3 * np.sin(np.arange(len(self.VOCAB)) * (1 + len(context) % 13))
        return logits - np.log(np.exp(logits).sum())

    def logprob(self, context: str, token: str) -> float:
        if token in self.VOCAB:
            return float(self.vocab_logprobs(context)[self.VOCAB.index(token)])
        return -5.0 - len(token) / 2

    def score(self, prompt: str, target: str) -> float:
        """Reference value: log p(target | prompt) summed over the tokens of prompt + target
        that hold target characters."""
        total, at = 0.0, 0
        for token in self.encode(prompt + target):
            if at + len(token) > len(prompt):
                total += self.logprob((prompt + target)[:at], token)
            at += len(token)
        return total

    def prompt_logprobs(self, tokens: list[str]) -> list[float]:
        return [self.logprob("".join(tokens[:i]), tokens[i]) for i in range(1, len(tokens))]

    def next_top(self, tokens: list[str], k: int) -> list[tuple[str, float]]:
        logp = self.vocab_logprobs("".join(self.pieces(tokens)))
        return [(self.VOCAB[i], float(logp[i])) for i in np.argsort(-logp, kind="stable")[:k]]

    def is_end(self, token: Any) -> bool:
        return False


class ByteToyLM(ToyLM):
    """ToyLM whose tokenizer splits each non-ASCII character in two, like a byte-level BPE:
    a head token shown as ``''`` (what vLLM echoes for a token that ends inside a UTF-8
    character) and a tail token that shows the character, with its leading whitespace."""

    HEAD = "\x01"

    def encode(self, text: str) -> list[str]:
        tokens = []
        for word in super().encode(text):
            for part in re.findall(r"\s*[\x00-\x7f]+|\s*[^\x00-\x7f]", word):
                tokens += [self.HEAD + part, part] if not part.strip().isascii() else [part]
        return tokens

    def piece(self, token: str) -> str:
        return "" if token.startswith(self.HEAD) else token

    def score(self, prompt: str, target: str) -> float:
        """Reference: the tokens holding target bytes (a head holds its tail's characters)."""
        tokens, total, at = self.encode(prompt + target), 0.0, 0
        for i, token in enumerate(tokens):
            end = at + len(tokens[i + 1] if token.startswith(self.HEAD) else token)
            if end > len(prompt):
                total += self.logprob("".join(self.piece(t) for t in tokens[:i]), token)
            at += len(self.piece(token))
        return total

    def prompt_logprobs(self, tokens: list[str]) -> list[float]:
        return [self.logprob("".join(self.piece(t) for t in tokens[:i]), tokens[i]) for i in range(1, len(tokens))]


class TorchLM:
    """Serves a ``LocalLM``'s weights with one full fp32 forward pass per request."""

    def __init__(self, lm: Any, name: str = "smollm2-135m") -> None:
        self.lm, self.name = lm, name
        self.lock = threading.Lock()  # one forward pass at a time

    def encode(self, text: str) -> list[int]:
        return self.lm.encode(text)

    def piece(self, token: int) -> str:
        return self.lm.tokenizer.decode([token])

    def pieces(self, tokens: list[int]) -> list[str]:
        """Incremental detokenization like vLLM's: a token that ends inside a UTF-8 character
        shows as ``''``, and the token that completes it shows the whole character."""
        shown, out = "", []
        for i in range(len(tokens)):
            text = self.lm.tokenizer.decode(tokens[: i + 1])
            if text.endswith("\ufffd"):
                out.append("")
                continue
            out.append(text[len(shown):])
            shown = text
        return out

    def _logprobs(self, tokens: list[int]) -> Any:
        import torch

        with self.lock, torch.inference_mode():
            logits = self.lm.model(torch.tensor([tokens], device=self.lm.device)).logits[0].float()
            return torch.log_softmax(logits, dim=-1).cpu()

    def prompt_logprobs(self, tokens: list[int]) -> list[float]:
        logp = self._logprobs(tokens)
        return [float(logp[i - 1, tokens[i]]) for i in range(1, len(tokens))]

    def next_top(self, tokens: list[int], k: int) -> list[tuple[int, float]]:
        values, ids = self._logprobs(tokens)[-1].topk(k)
        return [(int(i), float(v)) for i, v in zip(ids, values)]

    def is_end(self, token: int) -> bool:
        return token == self.lm.tokenizer.eos_token_id


class Stub:
    """The running server's script and records."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.echo = "yes"
        self.refuse_max_tokens_zero = False
        self.logprobs = True  # False: answer "logprobs": null, like old llama.cpp servers
        self.logprobs_format = "legacy"  # or "content": the chat-style list some servers send
        self.text_offset = True
        self.bos = ""  # e.g. "<s>": echo a leading special token that the text does not show
        self.delay = 0.0
        self.root: str | None = None  # what /v1/models reports as the weights (vLLM's ``root``)
        self.max_model_len: int | None = None  # reported by /v1/models; /tokenize counts tokens when set
        self.system_fingerprint: str | None = None
        self.refuse_text = ""  # a permanent 400 for every prompt containing it (a content filter)
        self.reflect_headers = False  # answer 200 with the request headers as text (a broken proxy)
        self.drip = 0.0  # seconds between the bytes of a /completions answer
        self.plan: deque[dict[str, Any]] = deque()
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        self.url = ""

    def completions(self, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        prompt, max_tokens = payload["prompt"], int(payload.get("max_tokens", 16))
        echo, k = bool(payload.get("echo")), payload.get("logprobs")
        if payload.get("model") != self.backend.name:
            return 404, {
                "error": {"message": f"The model `{payload.get('model')}` does not exist."}
            }
        if self.refuse_text and self.refuse_text in prompt:
            return 400, {"error": {"message": "This prompt was flagged by the content filter"}}
        if echo and self.echo == "refuse":
            return 400, {"error": {"message": "Only no echo is supported"}}
        if max_tokens == 0 and self.refuse_max_tokens_zero:
            return 400, {"object": "error", "message": "max_tokens must be at least 1, got 0."}
        echo = echo and self.echo == "yes"
        backend = self.backend
        tokens = backend.encode(prompt)
        rows: list[tuple[str, float | None, dict[str, float] | None]] = []
        if echo:
            pieces = backend.pieces(tokens)
            assert "".join(pieces) == prompt, "the stub's pieces must rebuild the prompt"
            values = [None] + backend.prompt_logprobs(tokens)
            rows = [(p, v, None if v is None else {p: v}) for p, v in zip(pieces, values)]
            if self.bos:  # offsets then count it, as servers that sum token lengths do
                rows.insert(0, (self.bos, None, None))
        generated = ""
        for _ in range(max_tokens):
            top = backend.next_top(tokens, max(1, int(k or 1)))
            token, value = top[0]
            if backend.is_end(token):
                break
            tokens = tokens + [token]
            generated += backend.piece(token)
            rows.append((backend.piece(token), value, {backend.piece(t): v for t, v in top}))
        text = prompt + generated if echo else generated
        offsets = np.cumsum([0 if echo else len(prompt)] + [len(r[0]) for r in rows])[:-1]
        logprobs: dict[str, Any] | None = None
        if k is not None and self.logprobs and self.logprobs_format == "content":
            logprobs = {
                "content": [
                    {
                        "token": t,
                        "logprob": v,
                        "top_logprobs": [
                            {"token": a, "logprob": b} for a, b in (top or {}).items()
                        ],
                    }
                    for t, v, top in rows
                ]
            }
        elif k is not None and self.logprobs:
            logprobs = {
                "tokens": [r[0] for r in rows],
                "token_logprobs": [r[1] for r in rows],
                "top_logprobs": [r[2] for r in rows],
            }
            if self.text_offset:
                logprobs["text_offset"] = [int(o) for o in offsets]
        choice = {"index": 0, "text": text, "logprobs": logprobs, "finish_reason": "length"}
        answer = {"object": "text_completion", "model": backend.name, "choices": [choice]}
        if self.system_fingerprint:
            answer["system_fingerprint"] = self.system_fingerprint
        return 200, answer

    def models(self) -> dict[str, Any]:
        card: dict[str, Any] = {"id": self.backend.name, "object": "model"}
        if self.root:
            card["root"] = self.root
        if self.max_model_len:
            card["max_model_len"] = self.max_model_len
        return {"object": "list", "data": [card]}

    def tokenize(self, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if not self.max_model_len:  # like servers without vLLM's /tokenize
            return 404, {"detail": "Not Found"}
        tokens = self.backend.encode(payload["prompt"])
        return 200, {"count": len(tokens), "max_model_len": self.max_model_len, "tokens": list(range(len(tokens)))}


class _Handler(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None, drip: float = 0.0) -> None:
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if not drip:
            self.wfile.write(data)
            return
        for i in range(len(data)):  # one byte at a time: every read returns within read_timeout
            self.wfile.write(data[i : i + 1])
            self.wfile.flush()
            time.sleep(drip)

    def do_GET(self) -> None:
        stub: Stub = self.server.stub
        if self.path.rstrip("/") == "/v1/models":
            self._reply(200, stub.models())
        else:
            self._reply(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        stub: Stub = self.server.stub
        payload = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        with stub.lock:
            stub.requests.append(
                {"path": self.path, "headers": dict(self.headers), "payload": payload}
            )
            stub.in_flight += 1
            stub.max_in_flight = max(stub.max_in_flight, stub.in_flight)
            fault = stub.plan.popleft() if stub.plan else None
        try:
            time.sleep(stub.delay + (fault or {}).get("delay", 0.0))
            reply, drip = self._route(stub, payload, fault)
        finally:
            # Counted out before the reply is written: once the client has read it, it may send its
            # next request, and that request must not find this one still counted.
            with stub.lock:
                stub.in_flight -= 1
        self._reply(*reply, drip=drip)

    def _route(self, stub: Stub, payload: dict, fault: dict | None) -> tuple[tuple, float]:
        """The reply to a POST, as ``(status, body[, headers])``, and its drip delay."""
        if stub.reflect_headers:
            return (200, "".join(f"{k}: {v}\n" for k, v in self.headers.items())), 0.0
        if fault and "status" in fault:
            return (fault["status"], fault.get("body", {"error": {"message": "scripted"}}), fault.get("headers")), 0.0
        if self.path.rstrip("/") == "/v1/completions":
            return stub.completions(payload), stub.drip
        if self.path.rstrip("/") == "/tokenize":
            return stub.tokenize(payload), 0.0
        return (404, {"error": {"message": f"no route {self.path}"}}), 0.0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out closed its socket; nothing to report


@contextmanager
def serve(backend: Any) -> Iterator[Stub]:
    """Run a stub server for ``backend`` on 127.0.0.1 (random free port) while in the block."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.stub = Stub(backend)
    server.stub.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield server.stub
    finally:
        server.shutdown()
        server.server_close()
