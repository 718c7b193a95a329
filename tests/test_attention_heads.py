"""Attention heads as features on the embedded model (SmolLM2-135M-Instruct), offline.

Tiny configurations: one layer (9 heads), a handful of questions, an fp32 copy of the model so
that batched and one-at-a-time scores agree to 1e-4.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from proxyspex.games.attention_heads import (
    AttentionHeads,
    MCTask,
    head_layout,
    load_mc_tasks,
    masked_heads,
)
from proxyspex.models import LocalLM

LAYER = 27
TASKS = [
    MCTask("What is the capital of France?", ("Paris", "Berlin", "Rome"), 0),
    MCTask("What colour is snow?", ("black", "white", "red"), 1),
    MCTask("What is the opposite of hot?", ("warm", "big", "cold"), 2, split="heldout"),
    MCTask("How many legs does a spider have?", ("4", "8", "12"), 1, split="heldout"),  # multi-token
]


@pytest.fixture(scope="module")
def one_torch_thread():
    """One thread: spinning OpenMP threads on a busy 2-core machine slow everything down."""
    torch = pytest.importorskip("torch")

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def lm32(embedded_model_dir, one_torch_thread) -> LocalLM:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PROXYSPEX_MODEL_DIR", str(embedded_model_dir))
        return LocalLM(dtype="float32")


@pytest.fixture(scope="module")
def game(lm32) -> AttentionHeads:
    return AttentionHeads(lm32, layers=[LAYER], tasks=TASKS, split="all")


# -- no model needed ---------------------------------------------------------------------------
def test_shipped_tasks_are_well_formed_and_split_in_two():
    tasks = load_mc_tasks()
    attribution, heldout = load_mc_tasks("attribution"), load_mc_tasks("heldout")
    assert len(attribution) + len(heldout) == len(tasks) >= 60
    assert {t.question for t in attribution}.isdisjoint(t.question for t in heldout)
    assert len({t.question for t in tasks}) == len(tasks)
    assert all(len(t.options) == 4 for t in tasks)
    answers = np.bincount([t.answer for t in tasks], minlength=4)
    assert answers.min() >= len(tasks) // 4 - 1  # no position bias a model could exploit
    with pytest.raises(ValueError, match="split"):
        load_mc_tasks("test")


@pytest.mark.parametrize("bad, message", [
    ({"question": "Q?", "options": ("a",), "answer": 0}, "at least two"),
    ({"question": "Q?", "options": ("a", "b"), "answer": 2}, "answer must index"),
    ({"question": "Q?", "options": ("a", "a"), "answer": 0}, "distinct"),
    ({"question": "", "options": ("a", "b"), "answer": 0}, "question"),
    ({"question": "Q?", "options": ("a", "b"), "answer": 0, "split": "train"}, "split"),
])
def test_bad_tasks_are_rejected(bad, message):
    with pytest.raises(ValueError, match=message):
        MCTask(**bad)


def test_unknown_architectures_get_a_clear_error():
    class Config:
        num_attention_heads = 4
        hidden_size = 32

    class GPT2Like:
        config = Config()

    with pytest.raises(ValueError, match="model.layers"):
        head_layout(GPT2Like())


# -- the embedded model ------------------------------------------------------------------------
llm = pytest.mark.llm


@llm
def test_all_heads_on_reproduces_the_unhooked_logits_and_hooks_are_removed(lm32):
    import torch

    model = lm32.model
    ids = torch.tensor([lm32.encode("Question: What colour is snow?\nAnswer: white")] * 2)
    with torch.inference_mode():
        plain = model(input_ids=ids).logits
        with masked_heads(model, layers=None) as heads:
            heads.set(np.ones((2, 30 * 9), dtype=bool))
            hooked = model(input_ids=ids).logits
            heads.set(np.zeros((2, 30 * 9), dtype=bool))
            silenced = model(input_ids=ids).logits
        after = model(input_ids=ids).logits
    assert torch.equal(plain, hooked)
    assert not torch.allclose(plain, silenced, atol=1e-2)
    assert torch.equal(plain, after)
    assert not any(layer.self_attn.o_proj._forward_pre_hooks for layer in model.model.layers)


@llm
def test_masking_a_head_equals_zeroing_its_o_proj_columns(lm32):
    import torch

    model, layer, head = lm32.model, 3, 5
    layout = head_layout(model, [layer])
    ids = torch.tensor([lm32.encode("Which animal barks? The dog")])
    mask = np.ones((1, 9), dtype=bool)
    mask[0, head] = False
    proj = model.model.layers[layer].self_attn.o_proj
    cols = slice(head * layout.head_dim, (head + 1) * layout.head_dim)
    with torch.inference_mode():
        with masked_heads(model, [layer]) as heads:
            heads.set(mask)
            hooked = model(input_ids=ids).logits
        saved = proj.weight[:, cols].clone()
        try:
            proj.weight[:, cols] = 0
            edited = model(input_ids=ids).logits
        finally:
            proj.weight[:, cols] = saved
        plain = model(input_ids=ids).logits
    torch.testing.assert_close(hooked, edited, atol=1e-5, rtol=1e-5)
    assert (hooked - plain).abs().max() > 1e-3


@llm
def test_option_scores_match_score_options_and_each_row_keeps_its_own_mask(game, lm32):
    ones = np.ones((1, game.n), dtype=bool)
    scores = game.option_logprobs(ones)
    for q, task in enumerate(TASKS):
        prompt = game.prompt.format(question=task.question)
        expected = lm32.score_options([prompt], [" " + o for o in task.options])[0]
        np.testing.assert_allclose(scores[0, q], expected, atol=1e-4)
    rng = np.random.default_rng(0)
    masks = np.vstack([ones, rng.random((2, game.n)) < 0.5])
    masks[1, :] = False
    game.rows_per_pass = 4  # batches that straddle masks
    try:
        together = game.option_logprobs(masks)
    finally:
        game.rows_per_pass = 64
    alone = np.concatenate([game.option_logprobs(masks[i:i + 1]) for i in range(len(masks))])
    np.testing.assert_allclose(together, alone, atol=1e-4)
    assert np.abs(together[1] - together[0]).max() > 1e-3  # silencing the layer changes scores


@llm
def test_value_is_mean_log_odds_of_the_correct_option_and_accuracy_its_argmax(game):
    rng = np.random.default_rng(1)
    masks = rng.random((3, game.n)) < 0.7
    scores = game.option_logprobs(masks)
    expected = np.zeros(len(masks))
    for q, task in enumerate(TASKS):
        s = scores[:, q, :]
        others = np.delete(s, task.answer, axis=1)
        expected += (s[:, task.answer] - np.log(np.exp(others).sum(axis=1))) / len(TASKS)
    np.testing.assert_allclose(game.value(masks), expected, atol=1e-9)
    heldout = [q for q, t in enumerate(TASKS) if t.split == "heldout"]
    correct = [[np.argmax(scores[m, q]) == TASKS[q].answer for q in heldout] for m in range(len(masks))]
    np.testing.assert_allclose(game.accuracy(masks, split="heldout"), np.mean(correct, axis=1))
    assert game.accuracy(split="attribution") == 1.0  # France and snow, every head kept
    assert isinstance(game.accuracy(), float)


@llm
def test_names_fingerprint_masks_and_input_checks(game, lm32):
    assert game.n == 9 and game.feature_names[0] == f"L{LAYER}.H0"
    mask = game.mask_without(["L27.H2", 4])
    assert mask.sum() == 7 and not mask[2] and not mask[4]
    with pytest.raises(ValueError, match="unknown head"):
        game.mask_without(["L1.H2"])
    other = AttentionHeads(lm32, layers=[LAYER], tasks=TASKS, split="heldout")
    assert other.fingerprint != game.fingerprint and len(other.tasks) == 2
    assert AttentionHeads(lm32, layers=[LAYER], tasks=TASKS, split="all").fingerprint == game.fingerprint
    assert AttentionHeads(lm32, layers=[-3, 0], tasks=TASKS).layers == (0, 27)
    with pytest.raises(ValueError, match="out of range"):
        AttentionHeads(lm32, layers=[30], tasks=TASKS)
    with pytest.raises(TypeError, match="layers"):
        AttentionHeads(lm32, layers="12", tasks=TASKS)
    with pytest.raises(ValueError, match="no tasks"):
        AttentionHeads(lm32, layers=0, tasks=TASKS[:2], split="heldout")
    with pytest.raises(TypeError, match="LocalLM"):
        AttentionHeads(object(), layers=0)
    with pytest.raises(ValueError, match="shape"):
        game.value(np.ones((2, 5), dtype=bool))


@llm
def test_cli_explains_heads_and_suggests_what_to_prune(lm32, model_dir, tmp_path, capsys):
    from proxyspex.cli import main

    tasks = tmp_path / "tasks.json"
    rows = [{"question": t.question, "options": list(t.options), "answer": t.answer} for t in TASKS[:2]]
    tasks.write_text(json.dumps(rows))
    code = main(["explain", "--task", "heads", "--layers", str(LAYER), "--tasks", str(tasks),
                 "--budget", "24", "--prune", "2", "--no-cache"])
    out = capsys.readouterr().out
    assert code == 0
    assert f"L{LAYER}.H" in out and "prune" in out.lower()


@llm
def test_query_batches_count_masks_not_rows(game):
    """Queries caches after each batch of ``game.batch_size`` masks: that must be about one forward
    pass of ``rows_per_pass`` rows (each mask scores every question), not ``rows_per_pass`` masks."""
    per_question = max(len(task.options) for task in game.tasks)  # rows a question takes, at most
    game.rows_per_pass = 3 * len(game.tasks) * per_question
    try:
        assert 3 <= game.batch_size <= 3 * per_question
    finally:
        game.rows_per_pass = 64
    assert 1 <= game.batch_size < 64
