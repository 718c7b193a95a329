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


def _benchmark(name: str):
    """A module of benchmarks/ (they import each other by bare name)."""
    import sys

    sys.path.insert(0, str(INPUTS.parents[1]))
    try:
        return __import__(name)
    finally:
        sys.path.remove(str(INPUTS.parents[1]))


def test_mixed_test_masks_keep_each_feature_whole_and_are_reproducible():
    long_coarse = _benchmark("long_coarse")
    groups = [[0, 1, 2], [3], [4], [5, 6, 7, 8], [9], [10], [11]]  # 7 features, 128 masks
    X = long_coarse.mixed_test_masks(groups, 12, 40)
    assert X.shape == (40, 12) and len({row.tobytes() for row in X}) == 40
    for units in groups:  # a feature's units are all kept or all dropped
        assert (X[:, units].all(axis=1) | ~X[:, units].any(axis=1)).all()
    assert (long_coarse.mixed_test_masks(groups, 12, 40) == X).all()
    other = [[0, 1], [2], [3], [4], [5, 6, 7, 8], [9], [10], [11]]
    assert not (long_coarse.mixed_test_masks(other, 12, 40) == X).all()


def test_saving_a_partial_record_keeps_the_points_it_has_not_remeasured(tmp_path):
    long_inputs = _benchmark("long_inputs")
    path = tmp_path / "results.json"
    point = lambda method, budget, r2: {"method": method, "budget": budget, "r2": r2}  # noqa: E731
    long_inputs.save_result({"name": "a", "complete": True, "points": [point("p", 10, 0.1), point("p", 20, 0.2)]},
                            path)
    long_inputs.save_result({"name": "a", "complete": False, "points": [point("p", 10, 0.5)]}, path)
    saved = long_inputs.load_results(path)["a"]["points"]
    assert sorted((p["budget"], p["r2"]) for p in saved) == [(10, 0.5), (20, 0.2)]
    long_inputs.save_result({"name": "a", "complete": True, "points": [point("p", 10, 0.6)]}, path)
    assert [(p["budget"], p["r2"]) for p in long_inputs.load_results(path)["a"]["points"]] == [(10, 0.6)]


def test_quick_mode_runs_shipped_inputs_at_alpha_up_to_two_with_spex():
    long_inputs, long_games = _benchmark("long_inputs"), _benchmark("long_games")
    quick = long_inputs.QUICK
    assert set(quick["inputs"]) <= set(long_games.load_inputs())
    kinds = {long_games.load_inputs()[name]["kind"] for name in quick["inputs"]}
    assert kinds == {"review", "qa"}  # one of each workflow
    assert all(0 < min(a) and max(a) <= 2 for a in quick["inputs"].values())
    assert quick["spex_orders"] and quick["n_test"] <= long_games.N_TEST
