"""Head masking for Llama/Qwen/Mistral-style causal LMs: zero chosen attention heads per batch row.

A head is removed by zeroing its slice of the attention output just before the output
projection ``self_attn.o_proj`` (transformers 5 dropped ``head_mask``). The hooks carry one
head mask per batch row, so one forward pass evaluates many masks. With every head kept they
multiply by one, so the model's outputs are unchanged bit for bit.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from proxyspex._validation import check_int, is_int


@dataclass(frozen=True)
class HeadLayout:
    """Where the heads of ``layers`` live: their output projections and the head width."""

    layers: tuple[int, ...]
    n_heads: int
    head_dim: int
    projections: tuple[Any, ...]  # one ``o_proj`` module per layer


def head_layout(model: Any, layers: Sequence[int] | int | None = None) -> HeadLayout:
    """Find the attention output projections of a Llama/Qwen/Mistral-style causal LM
    (``model.model.layers[i].self_attn.o_proj``); raise ValueError naming what is missing."""
    name = type(model).__name__
    blocks = getattr(getattr(model, "model", None), "layers", None)
    if blocks is None:
        raise ValueError(f"{name} has no model.layers; AttentionHeads supports Llama/Qwen/Mistral-style "
                         "causal LMs whose blocks are model.model.layers[i].self_attn.o_proj")
    config = model.config
    n_heads = getattr(config, "num_attention_heads", None)
    if not isinstance(n_heads, int) or n_heads < 1:
        raise ValueError(f"{name}.config has no num_attention_heads")
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // n_heads
    chosen = _check_layers(layers, len(blocks))
    projections = []
    for i in chosen:
        proj = getattr(getattr(blocks[i], "self_attn", None), "o_proj", None)
        if proj is None:
            raise ValueError(f"{name}.model.layers[{i}] has no self_attn.o_proj to mask heads at")
        width = getattr(proj, "in_features", None)
        if width != n_heads * head_dim:
            raise ValueError(f"{name}.model.layers[{i}].self_attn.o_proj takes {width} inputs, not "
                             f"num_attention_heads * head_dim = {n_heads} * {head_dim}")
        projections.append(proj)
    return HeadLayout(chosen, n_heads, head_dim, tuple(projections))


def _check_layers(layers: Sequence[int] | int | None, n_layers: int) -> tuple[int, ...]:
    if layers is None:
        return tuple(range(n_layers))
    if is_int(layers):
        layers = [int(layers)]
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence):
        raise TypeError(f"layers must be None, an int or a sequence of ints, got {layers!r}")
    chosen = []
    for layer in layers:
        check_int("layers[i]", layer, what="an integer layer index")
        if not -n_layers <= layer < n_layers:
            raise ValueError(f"layer {layer} is out of range for a model with {n_layers} layers")
        chosen.append(int(layer) % n_layers)
    if not chosen or len(set(chosen)) != len(chosen):
        raise ValueError(f"layers must be distinct and non-empty, got {list(layers)!r}")
    return tuple(sorted(chosen))


class HeadMasker:
    """Holds the per-row head masks that the hooks of :func:`masked_heads` apply."""

    def __init__(self, layout: HeadLayout):
        self.layout = layout
        self.rows: Any = None  # (batch, n_layers, n_heads) float tensor, or None = keep all

    def set(self, masks: np.ndarray | None) -> None:
        """``masks``: ``(batch, n_layers * n_heads)`` bools, one row per batch row; None keeps all."""
        import torch

        if masks is None:
            self.rows = None
            return
        masks = np.asarray(masks, dtype=np.float32)
        n = len(self.layout.layers) * self.layout.n_heads
        if masks.ndim != 2 or masks.shape[1] != n:
            raise ValueError(f"head masks must have shape (batch, {n}), got {masks.shape}")
        device = self.layout.projections[0].weight.device
        self.rows = torch.as_tensor(masks.reshape(len(masks), -1, self.layout.n_heads), device=device)

    def hook(self, position: int):
        head_dim = self.layout.head_dim

        def zero_heads(module: Any, args: tuple) -> tuple | None:
            if self.rows is None:
                return None
            hidden = args[0]
            if hidden.shape[0] != self.rows.shape[0]:
                raise RuntimeError(f"head masks for {self.rows.shape[0]} rows, batch of {hidden.shape[0]}")
            scale = self.rows[:, position].repeat_interleave(head_dim, dim=-1)[:, None, :]
            return (hidden * scale.to(hidden.dtype), *args[1:])

        return zero_heads


@contextmanager
def masked_heads(model: Any, layers: HeadLayout | Sequence[int] | int | None = None) -> Iterator[HeadMasker]:
    """Hook the heads of ``layers`` for the duration of the block; the hooks are always removed.

    ``with masked_heads(model, [3]) as heads: heads.set(masks); model(...)``
    """
    layout = layers if isinstance(layers, HeadLayout) else head_layout(model, layers)
    masker = HeadMasker(layout)
    handles = [proj.register_forward_pre_hook(masker.hook(i)) for i, proj in enumerate(layout.projections)]
    try:
        yield masker
    finally:
        for handle in handles:
            handle.remove()


def parse_layers(text: str | None) -> list[int] | None:
    """``"10,20"`` -> ``[10, 20]``; None or ``"all"`` -> None (every layer)."""
    if text is None or text.strip().lower() == "all":
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"--layers must be comma-separated integers such as 10,20, got {text!r}") from None
