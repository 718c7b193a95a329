"""The text games on the real embedded model (SmolLM2-135M-Instruct), offline.

One model copy is dequantized per test module into a temporary cache, so no test
touches the user's cache. About 35 s on 2 CPU cores, 20 s of it the dequantization.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("gguf")

from proxyspex import Spectrum
from proxyspex.games.generation import Generation
from proxyspex.games.rag import RAG
from proxyspex.games.sentiment import Sentiment, sentiment_accuracy
from proxyspex.masks import all_masks
from proxyspex.models import LocalLM, clear_loaded

pytestmark = pytest.mark.llm


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """One thread: on a busy 2-core machine, OpenMP threads spinning for a core that
    another process holds made this file 3-6x slower (76-190 s against ~35 s)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def model_cache(embedded_model_dir) -> Path:
    return embedded_model_dir


@pytest.fixture(scope="module")
def lm(model_cache) -> LocalLM:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PROXYSPEX_MODEL_DIR", str(model_cache))
        return LocalLM()


@pytest.fixture(scope="module")
def lm32(lm, model_cache) -> LocalLM:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PROXYSPEX_MODEL_DIR", str(model_cache))
        return LocalLM(dtype="float32")


def moebius(table: np.ndarray) -> np.ndarray:
    """The library's Moebius transform of a full 2^n table, as a dense array indexed like ``all_masks``."""
    dense = np.zeros(len(table))
    for term, value in Spectrum.from_table(np.asarray(table, dtype=float)).to_moebius().to_dict().items():
        dense[sum(1 << i for i in term)] = value
    return dense


def subset(mask_index: int, names: list[str]) -> tuple[str, ...]:
    return tuple(name for i, name in enumerate(names) if mask_index >> i & 1)


def test_moebius_helper_on_a_known_function():
    x = all_masks(3)
    table = 1.0 + 2 * x[:, 0] + 3 * (x[:, 1] & x[:, 2])
    m = moebius(table)
    assert m[0] == 1 and m[1] == 2 and m[6] == 3
    assert np.count_nonzero(m) == 3


def test_fp32_copy_is_written_once_and_reloads_in_seconds(lm, model_cache):
    copies = list(model_cache.iterdir())
    assert len(copies) == 1 and not copies[0].name.startswith(".tmp")
    assert "quantization_config" not in (copies[0] / "config.json").read_text()
    clear_loaded()
    start = time.perf_counter()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PROXYSPEX_MODEL_DIR", str(model_cache))
        again = LocalLM(dtype=lm.dtype)
    assert time.perf_counter() - start < 15
    assert again.fingerprint == lm.fingerprint
    prompts = ["Review: great\nSentiment:", "Review: awful\nSentiment:"]
    np.testing.assert_allclose(again.score(prompts, " positive"), lm.score(prompts, " positive"))


def test_prefix_reuse_and_padding_match_one_prompt_at_a_time(lm32):
    prompts = [
        "Is each review positive or negative?\n\nReview: I loved it.\nSentiment:",
        "Is each review positive or negative?\n\nReview: I hated every minute.\nSentiment:",
        "Is each review positive or negative?\n\nReview: Fine, though long.\nSentiment:",
        "Is each review positive or negative?\n\nReview:\nSentiment:",
    ]
    target = " positive, mostly"
    alone = np.array([lm32.score([p], target)[0] for p in prompts])
    reused = lm32.score(prompts, target)
    lm32.reuse_prefix = False
    try:
        padded = lm32.score(prompts, target)
    finally:
        lm32.reuse_prefix = True
    np.testing.assert_allclose(reused, alone, atol=1e-4)
    np.testing.assert_allclose(padded, alone, atol=1e-4)
    token_ids = [lm32.encode(p) for p in prompts]
    np.testing.assert_allclose(lm32.score(token_ids, target), reused, atol=1e-6)
    options = lm32.score_options(prompts, [" positive", " negative"])
    np.testing.assert_allclose(options[:, 0], lm32.score(prompts, " positive"), atol=1e-4)


def test_small_batches_match_one_big_batch(lm32):
    prompts = [f"Count: {' '.join(['x'] * k)}\nNext:" for k in range(1, 12)]
    big = lm32.score(prompts, " y")
    lm32.batch_size = 3
    try:
        small = lm32.score(prompts, " y")
    finally:
        lm32.batch_size = None
    np.testing.assert_allclose(small, big, atol=1e-4)


def test_sentiment_prompt_classifies_the_labelled_reviews(lm):
    assert sentiment_accuracy(lm) >= 0.9


def test_double_negative_is_the_top_interaction(lm):
    game = Sentiment("Her acting never fails to impress.", lm)
    assert game.n == 7
    values = game(all_masks(game.n))
    assert values[-1] > 0  # the full review reads positive
    m = moebius(values)
    pairs = [s for s in range(2**game.n) if s.bit_count() == 2]
    top_pair = max(pairs, key=lambda s: m[s])
    assert subset(top_pair, game.feature_names) == ("never", "fails")
    assert m[top_pair] > 3.0
    # Alone, each word pushes towards negative; only together do they read positive.
    never, fails = 1 << 2, 1 << 3
    assert m[never] < 0 and m[fails] < 0
    strongest = max(range(1, 2**game.n), key=lambda s: abs(m[s]))
    assert strongest == top_pair


def test_placeholder_masking_agrees_when_nothing_is_masked(lm):
    text = "Her acting never fails to impress."
    removed = Sentiment(text, lm)
    replaced = Sentiment(text, lm, masking="placeholder")
    masks = np.array([[1] * 7, [1, 1, 0, 1, 1, 1, 1]], bool)
    a, b = removed(masks), replaced(masks)
    assert a[0] == pytest.approx(b[0], abs=0.3)  # same prompt; bf16 batch noise only
    assert np.all(np.isfinite(b)) and a[1] != pytest.approx(b[1], abs=1e-6)
    assert replaced.fingerprint != removed.fingerprint


def test_rag_answer_needs_both_name_documents(lm):
    docs = [
        "The author's first name is Maria.",
        "The author's last name is Okafor.",
        "The book was published in 2019.",
    ]
    game = RAG("What is the full name of the author?", docs, lm)
    assert "Maria Okafor" in game.answer
    values = game(all_masks(3))
    both, first, last = values[0b011], values[0b001], values[0b010]
    assert both > max(first, last) + 5
    m = moebius(values)
    pairs = [0b011, 0b101, 0b110]
    assert max(pairs, key=lambda s: m[s]) == 0b011 and m[0b011] > 0


def test_generation_scores_its_own_greedy_answer(lm):
    game = Generation(
        "{context}\nWhat is the secret code word?", "The secret code word is pelican.", model=lm
    )
    assert "pelican" in game.target
    keep_all, keep_none = np.ones(game.n, bool), np.zeros(game.n, bool)
    without_word = keep_all.copy()
    without_word[game.feature_names.index("pelican")] = False
    full, empty, no_word = game(np.array([keep_all, keep_none, without_word]))
    assert full > empty + 5 and full > no_word + 5


def test_local_directory_is_a_model(lm, model_cache):
    copy = next(model_cache.iterdir())
    by_path = LocalLM(copy, dtype=lm.dtype)
    assert by_path.fingerprint.startswith("dir:")
    prompts = ["Review: great\nSentiment:"]
    np.testing.assert_allclose(by_path.score(prompts, " positive"), lm.score(prompts, " positive"))


def test_unknown_model_is_never_downloaded(tmp_path):
    with pytest.raises(ValueError, match="downloads nothing"):
        LocalLM("no-such-org/no-such-model-for-proxyspex")
    with pytest.raises(ValueError, match="config.json"):
        LocalLM(tmp_path)


def test_prompts_longer_than_the_context_fail_before_paying(lm, monkeypatch):
    monkeypatch.setattr(lm.model.config, "max_position_embeddings", 64)
    review = "The film was long but the acting was wonderful and moving. " * 4
    with pytest.raises(ValueError, match="max_position_embeddings"):
        Sentiment(review, lm)
    calls = []
    for module in (lm.model, lm.model.base_model):
        monkeypatch.setattr(module, "forward", lambda *a, **k: calls.append(1))
    with pytest.raises(ValueError, match="positions"):
        lm.score([review * 2], " positive")
    with pytest.raises(ValueError, match="positions"):
        lm.generate(review * 2)
    assert calls == []
    Sentiment("Great.", lm, prompt="Review: {context}\nSentiment:")  # short prompts still fit


def test_head_masking_uses_the_public_pass_methods(lm32):
    ids = lm32.encode("Question: What is the capital of France?\nAnswer:")
    target = lm32.encode(" Paris")
    past = lm32.prefix_cache(ids[:5], rows=2)
    with_prefix = lm32.forward_scores([ids[5:] + target] * 2, len(target), past)
    alone = lm32.score([ids], target)
    np.testing.assert_allclose(with_prefix, [alone[0]] * 2, atol=1e-4)
