"""Text segmentation, masking and the text games' bookkeeping, with a fake model (fast)."""

from __future__ import annotations

import numpy as np
import pytest
from fakes import FakeLM  # the one shared test double

from proxyspex.games.generation import Generation, fill
from proxyspex.games.rag import RAG
from proxyspex.games.sentiment import LABELLED_REVIEWS, Sentiment
from proxyspex.games.text import as_segmentation, from_units, segment
from proxyspex.models.base import LanguageModel
from proxyspex.models.local import common_prefix_length, resolve_model


def test_words_keep_punctuation_as_units_and_round_trip():
    seg = segment("Her acting never fails to impress.")
    assert seg.units == ("Her", "acting", "never", "fails", "to", "impress", ".")
    assert seg.render(np.ones(7, bool)) == "Her acting never fails to impress."


@pytest.mark.parametrize(
    "text",
    [
        "I don't   think it's well-made... Really?!",
        '  It costs 3.5 or 1,000 dollars. "Wow."  ',
        "Line one\n\nLine two. Three",
    ],
)
@pytest.mark.parametrize("unit", ["word", "sentence"])
def test_keeping_every_unit_reproduces_the_text(text, unit):
    seg = segment(text, unit)
    assert seg.render(np.ones(seg.n, bool)) == text.strip()


def test_word_units_keep_contractions_hyphens_and_numbers_whole():
    units = segment("Don't buy the well-made 3.5 kg box!?").units
    assert units == ("Don't", "buy", "the", "well-made", "3.5", "kg", "box", "!?")


def test_sentences_split_on_terminal_punctuation_only():
    seg = segment('Hi there. It costs 3.5 dollars! "Wow." Is it ok?  Yes', "sentence")
    assert seg.units == ("Hi there.", "It costs 3.5 dollars!", '"Wow."', "Is it ok?", "Yes")


def test_removal_and_placeholder_masking():
    seg = segment("Her acting never fails to impress.")
    keep = np.array([1, 1, 0, 1, 1, 1, 1], bool)
    assert seg.render(keep) == "Her acting fails to impress."
    assert seg.render(keep, "placeholder") == "Her acting _ fails to impress."
    assert seg.render(keep, "placeholder", "[MASK]") == "Her acting [MASK] fails to impress."
    assert seg.render(~keep) == "never"
    assert seg.render(np.zeros(7, bool)) == ""
    assert seg.render_batch(np.array([keep, ~keep])) == ["Her acting fails to impress.", "never"]


def test_user_units_join_with_separator():
    seg = from_units(["alpha", "beta gamma", "delta"], separator=" | ")
    assert seg.render(np.array([1, 0, 1], bool)) == "alpha | delta"
    assert as_segmentation(["a", "b"]).render(np.ones(2, bool)) == "a b"
    assert as_segmentation(seg) is seg


@pytest.mark.parametrize("bad", ["", "   ", "\n\t"])
def test_empty_text_is_rejected(bad):
    with pytest.raises(ValueError, match="empty"):
        segment(bad)


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="unit"):
        segment("hello", unit="paragraph")
    with pytest.raises(ValueError, match="masking"):
        segment("hello").render(np.ones(1, bool), masking="blank")
    with pytest.raises(ValueError, match="units is empty"):
        from_units([])
    with pytest.raises(TypeError):
        from_units("not a list")
    with pytest.raises(ValueError, match="shape"):
        segment("a b").render_batch(np.ones((2, 3), bool))


def test_fill_does_not_rescan_inserted_text():
    assert fill("{question}: {context}", question="{context}?", context="c") == "{context}?: c"


def test_common_prefix_length():
    assert common_prefix_length([[1, 2, 3], [1, 2, 4], [1, 2]]) == 2
    assert common_prefix_length([[5, 1], [6, 1]]) == 0


def test_fake_model_passes_for_a_language_model():
    fake = FakeLM()
    assert isinstance(fake, LanguageModel)
    assert resolve_model(fake) is fake


def test_generation_scores_the_masked_prompt_and_defaults_to_greedy_target():
    fake = FakeLM()
    game = Generation("Q: {context}\nA:", "one two three", model=fake)
    assert game.target == " forty-two"
    assert game.feature_names == ["one", "two", "three"]
    values = game(np.array([[1, 1, 1], [0, 0, 0], [1, 0, 1]], bool))
    assert fake.seen == [
        "<user>Q: one two three\nA:</user><assistant>",
        "<user>Q: \nA:</user><assistant>",
        "<user>Q: one three\nA:</user><assistant>",
    ]
    np.testing.assert_array_equal(values, [3.0, 1.0, 2.0])


def test_generation_without_context_field_puts_context_first():
    game = Generation("Answer:", ["x", "y"], target=" z", model=FakeLM(), chat=False)
    assert game.full_prompt(np.array([True, False])) == "x\n\nAnswer:"


def test_sentiment_value_is_label_margin():
    game = Sentiment("good good bad", FakeLM())
    masks = np.array([[1, 1, 1], [1, 0, 0], [0, 0, 1]], bool)
    np.testing.assert_array_equal(game(masks), [1.0, 1.0, -1.0])
    assert game.full_prompt(np.ones(3, bool)).endswith("Review: good good bad\nSentiment:")


def test_fingerprint_tracks_everything_that_changes_values():
    fake = FakeLM()
    base = Sentiment("Her acting never fails to impress.", fake)
    same = Sentiment("Her acting never fails to impress.", fake)
    assert base.fingerprint == same.fingerprint
    variants = [
        Sentiment("Her acting always fails to impress.", fake),
        Sentiment("Her acting never fails to impress.", fake, masking="placeholder"),
        Sentiment("Her acting never fails to impress.", fake, unit="sentence"),
        Sentiment("Her acting never fails to impress.", fake, labels=(" good", " bad")),
        Sentiment("Her acting never fails to impress.", fake, prompt="Text: {context}\nMood:"),
    ]
    prints = {base.fingerprint} | {game.fingerprint for game in variants}
    assert len(prints) == 1 + len(variants)
    other_model = FakeLM()
    other_model.fingerprint = "fake-lm-v2"
    assert (
        Sentiment("Her acting never fails to impress.", other_model).fingerprint != base.fingerprint
    )
    placeholder = Sentiment("a b", fake, masking="placeholder")
    assert (
        placeholder.fingerprint
        != Sentiment("a b", fake, masking="placeholder", placeholder="?").fingerprint
    )


def test_rag_documents_and_sentences_as_features():
    fake = FakeLM()
    docs = ["Tom has 3 apples. He is tall.", "Sara has 4 apples."]
    game = RAG("How many apples?", docs, fake, answer="7")
    assert game.feature_names == docs
    prompt = game.full_prompt(np.array([False, True]))
    assert "- Sara has 4 apples." in prompt and "Tom" not in prompt
    assert "Question: How many apples?" in prompt
    by_sentence = RAG("How many apples?", docs, fake, answer="7", unit="sentence")
    assert by_sentence.feature_names == ["Tom has 3 apples.", "He is tall.", "Sara has 4 apples."]
    context = by_sentence.context(np.array([False, True, True]))
    assert context == "- He is tall.\n- Sara has 4 apples."
    assert by_sentence.fingerprint != game.fingerprint
    assert RAG("How many apples?", docs, fake).answer == " forty-two"


def test_rag_and_generation_validate_inputs():
    fake = FakeLM()
    with pytest.raises(ValueError, match="documents"):
        RAG("q?", [], fake)
    with pytest.raises(ValueError, match="documents"):
        RAG("q?", ["ok", "  "], fake)
    with pytest.raises(TypeError, match="documents"):
        RAG("q?", "one document", fake)
    with pytest.raises(ValueError, match="question"):
        RAG(" ", ["doc"], fake)
    with pytest.raises(ValueError, match="unit"):
        RAG("q?", ["doc"], fake, unit="word")
    with pytest.raises(ValueError, match="empty"):
        Sentiment("", fake)
    with pytest.raises(ValueError, match="units is empty"):
        Generation("{context}", [], target="x", model=fake)
    with pytest.raises(ValueError, match="labels"):
        Sentiment("fine", fake, labels=(" yes",))
    with pytest.raises(ValueError, match="shape"):
        Sentiment("a b", fake)(np.ones((1, 3), bool))


def test_labelled_reviews_are_balanced():
    labels = [label for _, label in LABELLED_REVIEWS]
    assert len(labels) == 20 and sum(labels) == 10


def test_spans_locate_each_unit_in_the_text():
    seg = segment("  Hi there.\n\nYes!  ")
    assert seg.text == "Hi there.\n\nYes!"
    assert [seg.text[a:b] for a, b in seg.spans()] == list(seg.units)


def test_words_group_by_sentence():
    fake = FakeLM()
    game = Sentiment("Great cast. But the plot? Dull!", fake)
    assert game.feature_names == ["Great", "cast", ".", "But", "the", "plot", "?", "Dull", "!"]
    assert game.feature_groups("sentence") == [[0, 1, 2], [3, 4, 5, 6], [7, 8]]
    generation = Generation("{context}", "A b. C 3.5 d.\n\nE", target="x", model=fake)
    assert generation.feature_groups("sentence") == [[0, 1, 2], [3, 4, 5, 6], [7]]
    users = Generation("{context}", ["A.", "B", "C."], target="x", model=fake)
    assert users.feature_groups("sentence") == [[0], [1, 2]]


def test_rag_sentences_group_by_document():
    game = RAG("q?", ["Tom has 3. He is tall.", "Sara has 4."], FakeLM(), answer="7", unit="sentence")
    assert game.feature_groups("document") == [[0, 1], [2]]


@pytest.mark.parametrize("make, level", [
    (lambda fake: Sentiment("A b. C d.", fake), "word"),
    (lambda fake: Sentiment("A b. C d.", fake, unit="sentence"), "sentence"),
    (lambda fake: Sentiment("A b. C d.", fake, unit="sentence"), "word"),
    (lambda fake: Sentiment("A b. C d.", fake), "document"),
    (lambda fake: RAG("q?", ["A. B.", "C."], fake, answer="x", unit="sentence"), "sentence"),
    (lambda fake: RAG("q?", ["A. B.", "C."], fake, answer="x"), "document"),
    (lambda fake: Sentiment("A b. C d.", fake), "paragraph"),
])
def test_feature_groups_reject_a_level_that_is_not_coarser(make, level):
    with pytest.raises(ValueError, match="level must be"):
        make(FakeLM()).feature_groups(level)


def test_feature_groups_reject_user_units_that_span_sentences():
    game = Generation("{context}", ["A. B", "C."], target="x", model=FakeLM())
    with pytest.raises(ValueError, match="spans more than one sentence"):
        game.feature_groups("sentence")


def test_rag_fingerprint_sees_document_boundaries_and_the_text_between_units():
    fake = FakeLM()

    def rag(docs, unit="sentence"):
        return RAG("q?", docs, fake, answer="x", unit=unit).fingerprint

    assert rag(["A. B.", "C."]) != rag(["A.", "B. C."])
    assert rag(["A. B."]) != rag(["A.\n\n\nB."])
    assert rag(["A. B."], "document") != rag(["A.\n\n\nB."], "document")
    assert rag(["A. B.", "C."]) == rag(["A. B.", "C."])


def test_fingerprint_covers_the_chat_template():
    class OtherTemplate(FakeLM):
        def chat(self, user, system=None):
            return f"<|user|>{user}<|assistant|>"

    make = lambda lm: Generation("Q: {context}", "a b", target="x", model=lm).fingerprint
    assert make(FakeLM()) != make(OtherTemplate())


def test_fingerprint_is_the_same_in_another_process():
    import subprocess
    import sys

    code = ("import sys; sys.path.insert(0, 'tests'); from test_text import FakeLM; "
            "from proxyspex.games.rag import RAG; "
            "print(RAG('q?', ['A. B.', 'C.'], FakeLM(), answer='x', unit='sentence').fingerprint)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == RAG("q?", ["A. B.", "C."], FakeLM(), answer="x", unit="sentence").fingerprint


def test_greedy_target_is_generated_on_first_use_only():
    class Counting(FakeLM):
        calls = 0

        def generate(self, prompt, max_new_tokens=32):
            Counting.calls += 1
            return " yes"

    game = Generation("Q: {context}", "a b", model=Counting())
    assert Counting.calls == 0
    assert game.target == " yes" and game.target == " yes"
    assert Counting.calls == 1


def test_a_prompt_longer_than_the_context_fails_when_the_game_is_built():
    class Short(FakeLM):
        def check_context(self, prompts, target):
            if max(len(p) for p in prompts) + len(target) > 60:
                raise ValueError("too long for the context")

    Sentiment("fine", Short(), prompt="{context}")
    with pytest.raises(ValueError, match="context"):
        Sentiment("a very long review " * 5, Short(), prompt="{context}")
    with pytest.raises(ValueError, match="context"):
        Generation("{context}", "short", target="x" * 80, model=Short())
    lazy = Generation("{context}", "a b " * 40, model=Short())  # no target yet: checked before generating
    with pytest.raises(ValueError, match="context"):
        _ = lazy.target


def test_unit_spans_locate_each_unit_in_the_full_context():
    fake = FakeLM()
    games = [RAG("q?", ["Tom has 3. He is tall.", "Sara has 4."], fake, answer="7", unit="sentence"),
             RAG("q?", ["Tom has 3. He is tall.", "Sara has 4."], fake, answer="7"),
             Sentiment("  Great cast.\n\nBut dull!", fake)]
    for game in games:
        context = game.context(np.ones(game.n, bool))
        assert [context[a:b] for a, b in game.unit_spans()] == game.feature_names
