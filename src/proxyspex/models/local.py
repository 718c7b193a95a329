"""Score targets under a local transformers causal LM, fast enough for thousands of masks."""

from __future__ import annotations

import inspect
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from proxyspex._validation import check_int
from proxyspex.models.base import LanguageModel, needs_split, resolve_model, score_split  # noqa: F401 (resolve_model re-exported)
from proxyspex.models.loading import ModelSource, load, resolve_source
from proxyspex.models.numerics import (  # noqa: F401 (cpu_supports_bf16, common_prefix_length re-exported)
    common_prefix_length,
    cpu_supports_bf16,
    is_oom,
    pick_dtype,
)

Prompt = str | Sequence[int]


class LocalLM:
    """A local causal LM that scores ``log p(target | prompt)`` for many prompts at once.

    Parameters
    ----------
    model : None, str or path
        ``None`` for the embedded SmolLM2-135M-Instruct, a checkpoint directory, a
        ``.gguf`` file, or a name already in the local Hugging Face cache.
    dtype : {"auto", "bfloat16", "float32"}
        ``"auto"`` uses bf16 where the CPU (AMX/AVX512-BF16) or GPU supports it. The
        output head always runs in fp32.
    batch_size : int or None
        Rows per forward pass; ``None`` adapts it to ``max_batch_tokens``. Halved on OOM.
    max_batch_tokens : int or None
        Cap on padded tokens per forward pass when ``batch_size`` is None; ``None`` is
        2048 on CPU (larger batches ran slower there) and 16384 on GPU.
    reuse_prefix : bool
        Run the prompt prefix that every row shares once and reuse its KV cache.
    device : str or None
        ``"cuda"`` when available, else ``"cpu"``.
    """

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        *,
        dtype: str = "auto",
        batch_size: int | None = None,
        max_batch_tokens: int | None = None,
        reuse_prefix: bool = True,
        device: str | None = None,
    ) -> None:
        import torch

        check_int("batch_size", batch_size, min_value=1, allow_none=True, what="a positive integer or None")
        check_int("max_batch_tokens", max_batch_tokens, min_value=1, allow_none=True)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.dtype = pick_dtype(dtype, self.device)
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self.reuse_prefix = reuse_prefix
        self.source: ModelSource = resolve_source(model)
        loaded = load(self.source, self.dtype, self.device)
        self.model, self.tokenizer, self._head32 = loaded.model, loaded.tokenizer, loaded.head32
        pad = self.tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else (self.tokenizer.eos_token_id or 0))
        self._oom_cap: int | None = None
        self._last_prefix: tuple[tuple[int, ...], list] | None = None  # (prefix ids, its KV cache)
        # transformers 5 renamed the forward argument ``past_key_values`` to ``cache``.
        params = inspect.signature(self.model.base_model.forward).parameters
        self._cache_arg = "cache" if "cache" in params else "past_key_values"

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the weights: a copy sent to another process (a Ray actor) reloads them."""
        state = {k: v for k, v in self.__dict__.items() if k not in ("model", "tokenizer", "_head32")}
        return {**state, "_last_prefix": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        loaded = load(self.source, self.dtype, self.device)  # once per process: load() keeps it
        self.model, self.tokenizer, self._head32 = loaded.model, loaded.tokenizer, loaded.head32

    @property
    def fingerprint(self) -> str:
        """Identity of the weights and numeric precision; part of every game's cache key."""
        return f"{self.source.identity}|{self.dtype}"

    def __repr__(self) -> str:
        return f"LocalLM({self.source.identity!r}, dtype={self.dtype!r}, device={self.device!r})"

    # -- text helpers ---------------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` without special tokens."""
        return list(self.tokenizer(text, add_special_tokens=False).input_ids)

    def chat(self, user: str, system: str | None = None) -> str:
        """Wrap ``user`` in the model's chat template, ready for the assistant's reply."""
        if not getattr(self.tokenizer, "chat_template", None):
            return user
        messages = [{"role": "system", "content": system}] if system else []
        messages.append({"role": "user", "content": user})
        return self.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )

    def _rows(self, prompts: Sequence[Prompt]) -> list[list[int]]:
        rows = [self.encode(p) if isinstance(p, str) else [int(t) for t in p] for p in prompts]
        if any(len(r) == 0 for r in rows):
            raise ValueError("every prompt needs at least one token")
        return rows

    # -- scoring --------------------------------------------------------------------------
    def score(self, prompts: Sequence[Prompt], target: str | Sequence[int]) -> np.ndarray:
        """``log p(target | prompt)`` summed over target tokens, one forward pass per prompt.

        ``prompts`` are strings or token-id lists; ``target`` is a string (encoded without
        special tokens, so give it its leading space) or token ids. Returns ``(m,)`` floats.
        """
        if isinstance(target, str) and any(needs_split(p) for p in prompts):  # the shared boundary rule
            return score_split(lambda ps, ts: self.score(ps, ts[0])[:, None], list(prompts), [target])[:, 0]
        target_ids = self.encode(target) if isinstance(target, str) else [int(t) for t in target]
        if not target_ids:
            raise ValueError("target encodes to zero tokens")
        rows = self._rows(prompts)
        return self._score_rows(rows, target_ids, None) if rows else np.zeros(0)

    def score_options(self, prompts: Sequence[Prompt], options: Sequence[str]) -> np.ndarray:
        """``(m, k)`` array of ``log p(option | prompt)``; one pass per prompt when every
        option is a single token, else one :meth:`score` per option."""
        if any(needs_split(p) for p in prompts):  # the shared boundary rule
            return score_split(self.score_options, list(prompts), list(options))
        encoded = [self.encode(o) for o in options]
        if not encoded or any(not e for e in encoded):
            raise ValueError("options must be non-empty strings that encode to tokens")
        if any(len(e) > 1 for e in encoded):
            return np.stack([self.score(prompts, e) for e in encoded], axis=1)
        rows = self._rows(prompts)
        if not rows:
            return np.zeros((0, len(options)))
        return self._score_rows(rows, encoded[0], [e[0] for e in encoded])

    def _score_rows(
        self, rows: list[list[int]], target: list[int], options: list[int] | None
    ) -> np.ndarray:
        import torch

        prefix = 0
        if self.reuse_prefix and len(rows) > 1:  # each row keeps >= 1 token of its own
            prefix = min(common_prefix_length(rows), min(len(r) for r in rows) - 1)
        suffixes = [r[prefix:] + target for r in rows]
        order = np.argsort([len(s) for s in suffixes], kind="stable")
        out = np.empty((len(rows), len(options)) if options else len(rows))
        with torch.inference_mode():
            past = self._prefix_cache(rows[0][:prefix]) if prefix else None
            start = 0
            while start < len(order):
                size = self._rows_per_pass([len(suffixes[i]) for i in order[start:]], prefix)
                take = order[start : start + size]
                try:
                    out[take] = self._forward(
                        [suffixes[i] for i in take], len(target), past, options
                    )
                except (torch.OutOfMemoryError, MemoryError, RuntimeError) as err:
                    if size == 1 or not is_oom(err):
                        raise
                    self._oom_cap = max(1, size // 2)
                    continue
                start += size
        return out

    def rows_per_batch(self, n_tokens: int, shared: int = 0) -> int:
        """Rows per forward pass when each row has ``n_tokens`` tokens (prompt and target), the
        first ``shared`` of them common to every row. A game uses it as its ``batch_size``, so
        that each model batch reaches the query cache as soon as it finishes."""
        if self.batch_size is not None:
            size = self.batch_size
        else:
            cap = self.max_batch_tokens or (2048 if self.device == "cpu" else 16384)
            # The cached prefix costs attention only: count it at a quarter of a token.
            size = max(1, cap // max(1, n_tokens - shared + shared // 4))
        if self._oom_cap is not None:
            size = min(size, self._oom_cap)
        return max(1, size)

    def _rows_per_pass(self, lengths: list[int], prefix: int) -> int:
        """Rows for the next pass; ``lengths`` are the remaining rows' lengths, ascending."""

        def fits(k: int) -> int:  # sized by the longest row it would take
            return self.rows_per_batch(lengths[k - 1] + prefix, prefix)

        return max(1, min(fits(min(len(lengths), fits(1))), len(lengths)))

    def _prefix_cache(self, prefix_ids: list[int]) -> list[tuple[Any, Any]]:
        """KV cache of the shared prefix; the last one is kept, so a game's small batches pay it once.

        Only the plain scoring path memoizes: :meth:`prefix_cache` (used under head-mask hooks) never does."""
        key = tuple(prefix_ids)
        if self._last_prefix is None or self._last_prefix[0] != key:
            self._last_prefix = (key, self.prefix_cache(prefix_ids))
        return self._last_prefix[1]

    def _forward(
        self, seqs: list[list[int]], n_target: int, past: list | None, options: list[int] | None
    ) -> np.ndarray:
        """Teacher-forced pass over left-padded ``seqs``, each ending with the target."""
        import torch
        from transformers import DynamicCache

        batch, width = len(seqs), max(len(s) for s in seqs)
        n_past = past[0][0].shape[-2] if past else 0
        self._check_positions(n_past + width)
        ids = torch.full((batch, width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((batch, n_past + width), dtype=torch.long)
        mask[:, :n_past] = 1
        for row, seq in enumerate(seqs):
            ids[row, width - len(seq) :] = torch.tensor(seq)
            mask[row, n_past + width - len(seq) :] = 1
        # Positions count real tokens only, so padding never shifts a row's positions.
        positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, n_past:]
        kwargs: dict[str, Any] = {"use_cache": bool(past)}
        if past:
            layers = [(k.expand(batch, -1, -1, -1), v.expand(batch, -1, -1, -1)) for k, v in past]
            kwargs[self._cache_arg] = DynamicCache(ddp_cache_data=layers, config=self.model.config)
        hidden = self.model.base_model(
            input_ids=ids.to(self.device),
            attention_mask=mask.to(self.device),
            position_ids=positions.to(self.device),
            **kwargs,
        ).last_hidden_state[:, -n_target - 1 : -1]
        logp = torch.log_softmax(self._logits(hidden), dim=-1)
        if options is not None:
            return logp[:, 0, options].cpu().numpy().astype(float)
        target = ids[:, width - n_target :].to(self.device)
        return logp.gather(-1, target[..., None])[..., 0].sum(-1).cpu().numpy().astype(float)

    def _logits(self, hidden: Any) -> Any:
        if self._head32 is not None:
            logits = hidden.float() @ self._head32.T
        else:
            logits = self.model.get_output_embeddings()(hidden).float()
        cap = getattr(self.model.config, "final_logit_softcapping", None)
        return logits if not cap else cap * (logits / cap).tanh()

    # -- single passes, for callers that drive the model themselves (head masking) --------------
    def prefix_cache(self, prefix_ids: Sequence[int], rows: int = 1) -> list[tuple[Any, Any]]:
        """Keys and values of ``prefix_ids``, one ``(keys, values)`` per layer, computed for
        ``rows`` identical batch rows (hooks such as head masks may make the rows differ).
        Pass the result as ``past`` to :meth:`forward_scores`."""
        import torch

        self._check_positions(len(prefix_ids))
        with torch.inference_mode():
            ids = torch.tensor([list(prefix_ids)] * rows, device=self.device)
            out = self.model.base_model(input_ids=ids, use_cache=True)
        cache = out.get("cache", None) or out.get("past_key_values", None)
        if hasattr(cache, "layers"):
            return [(layer.keys, layer.values) for layer in cache.layers]
        return list(zip(cache.key_cache, cache.value_cache))  # transformers 4.x

    def forward_scores(self, seqs: Sequence[Sequence[int]], n_target: int, past: list | None = None,
                       options: Sequence[int] | None = None) -> np.ndarray:
        """One teacher-forced pass over token rows ``seqs``, each ending with ``n_target`` target
        tokens and continuing ``past`` (from :meth:`prefix_cache`, one row per seq) if given.

        Returns ``(b,)`` summed target log-probabilities, or with ``options`` (token ids) the
        ``(b, len(options))`` log-probabilities of each option at the first target position.
        """
        import torch

        with torch.inference_mode():
            return self._forward([list(seq) for seq in seqs], n_target, past,
                                 None if options is None else list(options))

    # -- context length -------------------------------------------------------------------------
    @property
    def context_length(self) -> int | None:
        """Most positions the model attends to (``max_position_embeddings``); None if unknown."""
        limit = getattr(self.model.config, "max_position_embeddings", None)
        return int(limit) if isinstance(limit, int) and limit > 0 else None

    def check_context(self, prompts: Sequence[Prompt], target: str | Sequence[int]) -> None:
        """ValueError when a prompt plus ``target`` is longer than :attr:`context_length`,
        before any pass is paid for; games call it when they are built."""
        n_target = len(self.encode(target) if isinstance(target, str) else target)
        self._check_positions(max(len(row) for row in self._rows(prompts)) + n_target)

    def _check_positions(self, length: int) -> None:
        limit = self.context_length
        if limit is not None and length > limit:
            raise ValueError(
                f"a prompt plus its target is {length} tokens, but the model ({self.source.identity}) has "
                f"{limit} positions (config max_position_embeddings); shorten the text, explain it "
                "coarse to fine (px.explain_coarse_to_fine), or use a model with a longer context")

    # -- generation -----------------------------------------------------------------------
    def generate(self, prompt: Prompt, max_new_tokens: int = 32) -> str:
        """Greedy continuation of ``prompt`` (stops at the end-of-sequence token)."""
        import torch

        ids = self.encode(prompt) if isinstance(prompt, str) else [int(t) for t in prompt]
        self._check_positions(len(ids) + 1)
        with torch.inference_mode():
            out = self.model.generate(
                torch.tensor([ids], device=self.device),
                attention_mask=torch.ones((1, len(ids)), dtype=torch.long, device=self.device),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=self.pad_id,
            )
        return self.tokenizer.decode(out[0, len(ids) :], skip_special_tokens=True)
