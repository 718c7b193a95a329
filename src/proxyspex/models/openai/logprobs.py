"""Reading log-probabilities out of completions answers, and aligning them with the target.

Two layouts are read: the legacy completions one (``tokens``, ``token_logprobs``,
``top_logprobs``, ``text_offset``) and the chat-style ``content`` list some servers send.

Byte pieces. A byte-level BPE splits an emoji or a CJK character over several tokens. vLLM
shows such a token as ``''`` with the ``text_offset`` of the next token, and shows the
whole character on the token that completes it. :func:`echoed_span` therefore groups
every empty piece with the next non-empty one: the group holds target bytes when the
piece that completes it ends after the prompt.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, NamedTuple

from proxyspex.models.openai.rows import RowFailure


class Token(NamedTuple):
    """One token of an answer: where its text starts, the text, its log-prob, its top candidates."""

    offset: int | None
    text: str
    logprob: float | None
    top: dict[str, float]


def parse_logprobs(logprobs: Any) -> list[Token]:
    """The tokens of a choice's ``logprobs``, in either layout; ``[]`` when there are none."""
    if not isinstance(logprobs, dict):
        return []
    if isinstance(logprobs.get("content"), list):
        rows = []
        for item in logprobs["content"]:
            top = {t["token"]: t["logprob"] for t in item.get("top_logprobs") or []}
            rows.append(Token(None, str(item.get("token", "")), item.get("logprob"), top))
        return rows
    tokens = logprobs.get("tokens") or []
    values = logprobs.get("token_logprobs") or [None] * len(tokens)
    offsets = logprobs.get("text_offset") or [None] * len(tokens)
    tops = logprobs.get("top_logprobs") or [None] * len(tokens)
    return [Token(o, str(t), v, dict(top or {})) for o, t, v, top in zip(offsets, tokens, values, tops)]


def token_offsets(tokens: list[Token], shown: str) -> list[int]:
    """Where each token's text starts in ``shown``.

    Offsets that are missing, or that are the summed token lengths, may count special tokens
    the text does not show (some servers echo a leading ``<s>``): they are measured from the
    end of the text instead.
    """
    pieces = [token.text for token in tokens]
    summed = [0, *itertools.accumulate(len(piece) for piece in pieces)]
    offsets = [token.offset for token in tokens]
    if None in offsets or offsets == summed[:-1]:
        shift = summed[-1] - len(shown) if "".join(pieces).endswith(shown) else 0
        return [offset - shift for offset in summed[:-1]]
    return [int(offset) for offset in offsets]


def echoed_span(choice: dict[str, Any], start: int, text: str) -> list[Token]:
    """The echoed tokens that hold characters of ``text[start:]``, each with its log-prob.

    Empty when the answer does not echo ``text`` with log-probs. A token that straddles
    ``start`` counts as a target token; an empty (byte) piece belongs with the piece that
    completes its character.
    """
    tokens = parse_logprobs(choice.get("logprobs"))
    shown = str(choice.get("text") or "")
    if not tokens or not shown.startswith(text):
        return []
    offsets = token_offsets(tokens, shown)
    ends = [*offsets[1:], len(shown)]
    # the end of a group = the end of its first non-empty piece, scanning from the back
    group_end = len(shown)
    for i in range(len(tokens) - 1, -1, -1):
        if tokens[i].text:
            group_end = ends[i]
        ends[i] = group_end
    span = [t for o, e, t in zip(offsets, ends, tokens) if o < len(text) and e > start]
    if not span or any(t.logprob is None for t in span):
        return []
    return [t._replace(logprob=float(t.logprob)) for t in span]


def forced_pieces(top: dict[str, float], rest: str) -> list[str]:
    """The candidate tokens in ``top`` that can begin ``rest``, for teacher forcing.

    A lone whitespace token before a word is a split BPE tokenizers never make (they merge
    the space into the word): taking it would score garbage, so it is skipped.
    """
    return [token for token in top
            if token and rest.startswith(token)
            and (token.strip() or len(token) == len(rest) or rest[len(token)].isspace())]


def is_byte_piece(token: str) -> bool:
    """True for a piece that shows part of a character: empty, a replacement character, or
    a ``bytes:`` escape (how some servers show a token that is not valid UTF-8 alone)."""
    return not token or "\ufffd" in token or token.startswith("bytes:")


def teacher_force(prompt: str, target: str, next_top: Callable[[str], dict[str, float]],
                  memo: dict[str, dict[str, float]], *, where: str, refusal: str) -> float:
    """``log p(target | prompt)`` piece by piece from the top candidates ``next_top(context)``
    (remembered in ``memo``: options share their first step); :class:`RowFailure` when a piece
    is not among them."""
    total, done = 0.0, 0
    while done < len(target):
        context = prompt + target[:done]
        if context not in memo:
            memo[context] = next_top(context)
        top, rest = memo[context], target[done:]
        pieces = forced_pieces(top, rest)
        if not pieces:
            raise RowFailure(_not_found(top, rest, target, where, refusal))
        piece = max(pieces, key=len)
        total += top[piece]
        done += len(piece)
    return total


def _not_found(top: dict[str, float], rest: str, target: str, where: str, refusal: str) -> str:
    why = (f"{where} does not return prompt log-probabilities with echo=true ({refusal}), and {rest!r} starts "
           f"with none of the {len(top)} most likely next tokens it returned "
           f"({sorted(top, key=top.get, reverse=True)[:5]!r}...), so log p({target!r} | prompt) is unavailable")
    if not rest.isascii() and any(is_byte_piece(token) for token in top):
        return (f"{why}: its tokenizer splits {rest[0]!r} into byte pieces, which a text prompt cannot "
                "continue from; use a server with echo support such as vLLM")
    return f"{why}; raise top_logprobs (up to the server's limit) or use a server with echo support such as vLLM"
