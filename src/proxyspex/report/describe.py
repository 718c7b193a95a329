"""What an explanation explains, in words: the task, the prompt or question, the target, the model and its value.

A game may offer ``describe() -> dict`` for this; without one, the fields are read from the attributes the
text games keep (``lm``, ``question``, ``target``, ``labels``, ``prompt``). The result is a plain
``{label: text}`` dict, stored in ``Explanation.details["description"]`` so a saved explanation keeps it.
"""

from __future__ import annotations

import math

from .text import shorten


def model_name(lm) -> str:
    """A readable name for a language-model back-end (a local model's identity, a server's model and URL)."""
    if lm is None:
        return "n/a"
    source = getattr(lm, "source", None)
    if source is not None and getattr(source, "identity", None):
        kind, _, rest = str(source.identity).split("|")[0].partition(":")
        name, _, version = rest.partition(":")  # "gguf:NAME:digest", "dir:NAME:digest", "hf:NAME:snapshot"
        extra = ", ".join(part for part in (f"{kind} {version[:8]}".strip(), getattr(lm, "dtype", None)) if part)
        return f"{name or kind} ({extra})"
    base_url = getattr(lm, "base_url", None)
    if base_url:
        try:  # a server's model is known once asked (the game's fingerprint already asked)
            served = lm.served_model() if callable(getattr(lm, "served_model", None)) else lm.model
        except Exception:  # noqa: BLE001 - a name is not worth failing a report for
            served = getattr(lm, "model", None)
        return f"{served or 'served model'} at {base_url}"
    return repr(lm)


def value_phrase(game, value: float) -> str:
    """``value`` in the game's own terms: ``"positive, margin +2.37"`` or ``"log p(target) -1.20 (p = 0.301)"``."""
    labels = getattr(game, "labels", None)
    if isinstance(labels, (tuple, list)) and len(labels) == 2:
        label = labels[0] if value >= 0 else labels[1]
        return f"{str(label).strip()}, margin {value:+.2f}"
    if isinstance(getattr(game, "target", None), str):
        return f"log p(target) {value:+.2f} (p = {math.exp(min(value, 0.0)):.3g})"
    return f"{value:+.4g}"


def header_fields(game, *, task: str | None = None, values: tuple[float, float] | None = None) -> dict[str, str]:
    """``{label: text}`` for the report's header; ``values`` = the model's value on the full and empty input.

    Both this and :func:`proxyspex.explanation.describe_game` (the JSON record saved with a result)
    start from the game's ``describe()`` hook where it has one; this one adds readable labels."""
    hook = getattr(game, "describe", None)
    about = {str(k): str(v) for k, v in hook().items()} if callable(hook) else {}
    fallback = {"task": task or type(game).__name__}
    prompt = getattr(game, "prompt", None)
    if isinstance(getattr(game, "question", None), str):
        fallback["question"] = game.question
    elif isinstance(prompt, str):
        fallback["prompt"] = shorten(prompt.replace("{context}", "[units]"), 160)
    labels = getattr(game, "labels", None)
    if isinstance(labels, (tuple, list)) and len(labels) == 2:
        fallback["target"] = f"{str(labels[0]).strip()} vs {str(labels[1]).strip()} (log-odds margin)"
    elif isinstance(getattr(game, "target", None), str):  # a generated answer is generated here, once
        fallback["answer" if hasattr(type(game), "answer") else "target"] = game.target
    if hasattr(game, "lm"):
        fallback["model"] = model_name(game.lm)
    for key, text in fallback.items():
        about.setdefault(key, text)
    if values is not None:
        about["value, full input"] = value_phrase(game, values[0])
        about["value, empty input"] = value_phrase(game, values[1])
    return about
