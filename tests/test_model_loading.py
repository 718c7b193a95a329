"""Model sources without loading a model: identities of checkpoint directories, stale temp dirs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

from proxyspex.models.loading import DIGEST_INDEX, gguf_fp32_copy, resolve_source, user_cache_dir


def checkpoint(tmp_path, weights: bytes):
    folder = tmp_path / "ckpt"
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text('{"model_type": "llama"}')
    (folder / "model.safetensors").write_bytes(weights)
    return folder


def test_weights_rewritten_in_place_change_the_identity(tmp_path):
    folder = checkpoint(tmp_path, b"\x00" * 1000)
    weights = folder / "model.safetensors"
    before = os.stat(weights)
    first = resolve_source(folder).identity
    assert resolve_source(folder).identity == first
    weights.write_bytes(b"\x01" * 1000)  # same name, same size, same mtime
    os.utime(weights, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert resolve_source(folder).identity != first


def test_tokenizer_files_are_part_of_the_identity(tmp_path):
    folder = checkpoint(tmp_path, b"\x00" * 10)
    first = resolve_source(folder).identity
    (folder / "tokenizer_config.json").write_text('{"chat_template": "{{ messages }}"}')
    assert resolve_source(folder).identity != first


def test_weight_digests_are_remembered_by_path_size_and_times(tmp_path):
    folder = checkpoint(tmp_path, b"\x02" * 100)
    first = resolve_source(folder).identity
    index_path = user_cache_dir() / DIGEST_INDEX
    index = json.loads(index_path.read_text())
    (key,) = [k for k in index if k.startswith(str((folder / "model.safetensors").resolve()))]
    index[key] = "remembered"  # a later load reads the index instead of hashing the file again
    index_path.write_text(json.dumps(index))
    assert resolve_source(folder).identity != first


def test_the_next_load_removes_temp_dirs_of_killed_loads(tmp_path):
    root = tmp_path / "models"
    (root / "m-abc").mkdir(parents=True)
    (root / "m-abc" / "config.json").write_text("{}")
    host = socket.gethostname()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = root / f".tmp-{dead.pid}@{host}-k1ll3d"
    live = root / f".tmp-{os.getpid()}@{host}-w0rk1ng"
    old, fresh = root / ".tmp-oldstyle", root / ".tmp-newstyle"
    for folder in (stale, live, old, fresh):
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(b"\x00" * 10)
    hours_ago = time.time() - 7200
    os.utime(old, (hours_ago, hours_ago))
    assert gguf_fp32_copy(tmp_path / "m.gguf", cache_dir=tmp_path, digest="abc") == root / "m-abc"
    assert not stale.exists() and not old.exists()
    assert live.exists() and fresh.exists()
