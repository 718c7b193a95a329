"""The long inputs shipped for benchmarks/long_inputs.py load and have the sizes issue 11 asks for."""

import json
from pathlib import Path

from proxyspex.games.text import segment

INPUTS = Path(__file__).resolve().parents[1] / "benchmarks" / "inputs" / "long"


def test_reviews_have_the_stated_word_counts():
    reviews = json.loads((INPUTS / "reviews.json").read_text())["reviews"]
    words = {r["name"]: len(r["text"].split()) for r in reviews}
    assert len(words) == len(reviews) >= 4
    assert all(60 <= w <= 300 for w in words.values()), words
    assert max(words.values()) >= 250
    for name, count in words.items():  # a name states the length: review_<words>, within 10%
        assert abs(count - int(name.split("_")[1])) <= 0.1 * count, (name, count)


def test_reviews_hold_double_negatives_and_contrasts():
    for review in json.loads((INPUTS / "reviews.json").read_text())["reviews"]:
        text = review["text"].lower()
        assert any(p in text for p in ("not bad", "never fail", "not without", "not unreasonable")), review["name"]
        assert " but " in text or " yet " in text or "though" in text, review["name"]


def test_qa_contexts_are_one_sentence_documents_with_a_bridge():
    contexts = json.loads((INPUTS / "qa.json").read_text())["contexts"]
    assert len(contexts) >= 2
    for context in contexts:
        docs = context["documents"]
        assert 32 <= len(docs) <= 128, (context["name"], len(docs))
        assert len(set(docs)) == len(docs)
        assert all(segment(doc, "sentence").n == 1 for doc in docs)
        first, second = context["bridge"]
        assert first != second and 0 <= min(first, second) and max(first, second) < len(docs)
        assert context["question"].endswith("?")
