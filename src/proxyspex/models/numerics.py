"""Numerics and token helpers of the local back-end: the bf16 choice, shared prefixes, OOM errors."""

from __future__ import annotations

from collections.abc import Sequence


def cpu_supports_bf16() -> bool:
    """True when the CPU has native bf16 matrix units or instructions (AMX or AVX512-BF16)."""
    try:
        with open("/proc/cpuinfo") as handle:
            flags = handle.read()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def pick_dtype(dtype: str, device: str) -> str:
    """``dtype`` itself, or for ``"auto"`` bf16 where the device computes it natively, else fp32."""
    if dtype not in {"auto", "bfloat16", "float32"}:
        raise ValueError(f"dtype must be 'auto', 'bfloat16' or 'float32', got {dtype!r}")
    if dtype != "auto":
        return dtype
    import torch

    if device.startswith("cuda"):
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
    return "bfloat16" if cpu_supports_bf16() else "float32"


def common_prefix_length(sequences: Sequence[Sequence[int]]) -> int:
    """Length of the longest token prefix shared by every sequence."""
    first = sequences[0]
    length = min(len(seq) for seq in sequences)
    for seq in sequences[1:]:
        k = 0
        while k < length and seq[k] == first[k]:
            k += 1
        length = k
    return length


def is_oom(err: BaseException) -> bool:
    """True when ``err`` says the device ran out of memory (the batch is then halved)."""
    import torch

    if isinstance(err, (torch.OutOfMemoryError, MemoryError)):
        return True
    text = str(err).lower()
    return any(s in text for s in ("out of memory", "can't allocate memory", "not enough memory"))
