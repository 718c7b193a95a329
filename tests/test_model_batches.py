"""The text games' batch protocol: the query batch is the model's batch, and small batches cost no more."""

from __future__ import annotations

import numpy as np
import pytest

import proxyspex as px

pytestmark = pytest.mark.llm

TEXT = "The plot drags in the middle, yet the cast is wonderful and the final scene left me in tears."


@pytest.fixture(scope="module")
def game(embedded_model_dir):
    return px.games.Sentiment(TEXT)


@pytest.fixture
def passes(game):
    """``(rows, is_prefix)`` for every forward pass of the game's model during the test."""
    seen: list[tuple[int, bool]] = []

    def record(module, args, kwargs, output):
        seen.append((kwargs["input_ids"].shape[0], kwargs.get("attention_mask") is None))

    handle = game.lm.model.base_model.register_forward_hook(record, with_kwargs=True)
    yield seen
    handle.remove()


def test_a_game_batch_is_one_model_pass(game, passes):
    size = game.batch_size
    assert 16 <= size < px.query.DEFAULT_BATCH_SIZE
    masks = px.masks.sample_masks(game.n, size, np.random.default_rng(0))
    game(masks)
    assert [rows for rows, prefix in passes if not prefix] == [size]  # all of it in one pass, none smaller


def test_the_shared_prefix_is_computed_once_for_many_batches(game, passes):
    masks = px.masks.sample_masks(game.n, 12, np.random.default_rng(1))
    whole = game(masks)
    split = np.concatenate([game(masks[:6]), game(masks[6:])])
    assert sum(prefix for _, prefix in passes) <= 1  # the last prefix's KV cache is kept
    atol = 1e-4 if game.lm.dtype == "float32" else 0.2  # bf16 values move with the batch (issue 12, item 8)
    np.testing.assert_allclose(split, whole, atol=atol)
    fresh = px.models.LocalLM(reuse_prefix=False)  # no prefix cache at all: the same values
    np.testing.assert_allclose(fresh.score_options(game.prompts(masks), list(game.labels)) @ [1, -1], whole,
                               atol=atol)
