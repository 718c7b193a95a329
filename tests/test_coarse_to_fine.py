"""Coarse-to-fine: exact against brute force on small games, cache reuse between levels, the embedded model."""

import numpy as np
import pytest

import proxyspex as px
from proxyspex.coarse_to_fine import importance
from proxyspex.masks import all_masks

N, GROUPS = 12, [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]]


class CountingGame:
    """f(x) = 3 x4 x5 - 2 x4 + 0.5 x0 + 0.2 x9 x10: the action sits in group 2 ("sentence 2")."""

    fingerprint = "counting-game-v1"

    def __init__(self, n=N, groups=GROUPS):
        self.n, self.groups = n, groups
        self.feature_names = [f"w{i}" for i in range(n)]
        self.asked = []

    def __call__(self, X):
        X = np.asarray(X, dtype=bool)
        self.asked.append(X.copy())
        return 3.0 * X[:, 4] * X[:, 5] - 2.0 * X[:, 4] + 0.5 * X[:, 0] + 0.2 * X[:, 9] * X[:, 10]

    def feature_groups(self, level):
        if level != "sentence":
            raise ValueError(f"no level {level!r}")
        return self.groups

    def n_distinct(self):
        return len({row.tobytes() for row in np.vstack(self.asked)})


def test_exact_levels_match_brute_force_on_the_mixed_features():
    game = CountingGame()
    result = px.explain_coarse_to_fine(game, keep=1, budget=[16, 64], cache=False)
    assert result.feature_names == ["sentence 1", "w3", "w4", "w5", "sentence 3", "sentence 4"]
    assert result.details["groups"] == [[0, 1, 2], [3], [4], [5], [6, 7, 8], [9, 10, 11]]
    assert result.details["feature_levels"] == ["sentence", "word", "word", "word", "sentence", "sentence"]
    stages = result.details["stages"]
    assert [s["level"] for s in stages] == ["sentence", "word"] and stages[0]["split"] == ["sentence 2"]
    # both levels enumerate every mask: the spectrum is the exact one of f on the mixed features
    owner = np.array([0, 0, 0, 1, 2, 3, 4, 4, 4, 5, 5, 5])
    mixed = all_masks(6)
    truth = px.Spectrum.from_table(CountingGame()(mixed[:, owner]))
    np.testing.assert_allclose(result.spectrum.predict(mixed), truth.predict(mixed), atol=1e-12)
    assert result.top(1, index="moebius")[0] == (("w4", "w5"), pytest.approx(3.0))
    # the 16 coarse masks are masks of the second level too: it pays only for the other 48
    assert stages[0]["n_paid"] == 16 and stages[1]["n_paid"] == 64 - 16
    assert result.n_paid == game.n_distinct() == 64 and result.n_queries == 64


def test_sampled_levels_reuse_the_coarse_masks_and_a_rerun_pays_nothing(tmp_path):
    groups = [list(range(i, i + 4)) for i in range(0, 32, 4)]  # 8 groups: 2^8 > the budget, so both levels sample
    game = CountingGame(32, groups)
    cache = tmp_path / "c2f.sqlite"
    first = px.explain_coarse_to_fine(game, keep=1, budget=200, random_state=0, cache=cache)
    stages = first.details["stages"]
    # 200 masks shared by n·log2 n: 8 groups (24) and 8 - 1 + 4 = 11 expected features (38.05): 77 and 123
    assert stages[1]["n_reused"] == stages[0]["n_queries"] == 77  # every coarse mask joins level 2 for free
    assert stages[1]["n_paid"] == 123 and first.n_paid == game.n_distinct() == 200 == first.n_queries
    assert first.details["groups"][1:5] == [[4], [5], [6], [7]]
    assert first.faithfulness > 0.95
    again = px.explain_coarse_to_fine(CountingGame(32, groups), keep=1, budget=200, random_state=0, cache=cache)
    assert again.n_paid == 0 and again.feature_names == first.feature_names
    np.testing.assert_array_equal(again.spectrum.values, first.spectrum.values)


def test_three_levels_split_document_then_sentence():
    n = 16
    f = lambda X: 4.0 * X[:, 9] * X[:, 10] + X[:, 1]
    groups = {"document": [list(range(0, 8)), list(range(8, 16))],
              "sentence": [list(range(i, i + 4)) for i in range(0, n, 4)]}
    result = px.explain_coarse_to_fine(f, n=n, levels=("document", "sentence", "word"), groups=groups, keep=1,
                                       budget=[4, 16, 256], cache=False)
    assert result.feature_names == ["document 1", "x8", "x9", "x10", "x11", "sentence 4"]
    assert result.details["feature_levels"] == ["document", "word", "word", "word", "word", "sentence"]
    assert result.top(1, index="moebius")[0] == (("x9", "x10"), pytest.approx(4.0))


def test_importance_counts_interactions_that_cancel_in_shapley():
    # f = x0 x1 - 0.5 x0 - 0.5 x1: both Shapley values are 0, yet x0 and x1 matter
    result = px.explain(lambda X: X[:, 0] * X[:, 1] - 0.5 * X[:, 0] - 0.5 * X[:, 1] + 0.1 * X[:, 2], n=3,
                        budget=8, cache=False)
    assert result.index("shapley")[(0,)] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(importance(result), [1.0, 1.0, 0.1])


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(levels="sentence"), TypeError, "levels must be a sequence"),
    (dict(levels=("word",)), ValueError, "at least two distinct levels"),
    (dict(keep=0), ValueError, "keep must be a positive integer"),
    (dict(keep=1.5), TypeError, "keep must be"),
    (dict(budget=20), ValueError, "at least 16 per level"),
    (dict(budget=[40]), ValueError, "budget has 1 entries but there are 2 levels"),
    (dict(groups={"sentence": [[0, 1], [1, 2]]}), ValueError, "exactly once"),
    (dict(levels=("paragraph", "word")), ValueError, "no level 'paragraph'"),
    (dict(max_order=0), ValueError, "max_order"),
])
def test_bad_arguments_fail_before_any_query(kwargs, error, message):
    game = CountingGame()
    if "groups" in kwargs:
        game.n = 3
        game.feature_names = ["a", "b", "c"]
    with pytest.raises(error, match=message):
        px.explain_coarse_to_fine(game, cache=False, **kwargs)
    assert game.asked == []


def test_a_plain_callable_without_groups_is_told_how():
    with pytest.raises(ValueError, match=r"pass groups=\{'sentence'"):
        px.explain_coarse_to_fine(lambda X: X.sum(axis=1) * 1.0, n=6, cache=False)


REVIEW = ("The first half drags and the dialogue is flat. Yet the ending is not bad at all. The lead never fails "
          "to impress, and the score is lovely. Sadly the middle act is dull and far too long. Still, I would "
          "watch it again.")  # 44 words, 51 units with the punctuation


def test_forty_word_review_on_the_embedded_model(embedded_model_dir, tmp_path):
    game = px.games.Sentiment(REVIEW)
    assert len(REVIEW.split()) == 44 and game.n == 51
    groups = game.feature_groups("sentence")
    cache = tmp_path / "review.sqlite"
    result = px.explain_coarse_to_fine(game, keep=2, budget=[24, 40], random_state=0, cache=cache)
    stages = result.details["stages"]
    assert stages[0]["n"] == len(groups) == 5 and len(stages[0]["split"]) == 2
    split = [int(name.split()[1]) - 1 for name in stages[0]["split"]]
    n_words = sum(len(groups[i]) for i in split)
    assert result.n == len(groups) - 2 + n_words
    expected = sorted([groups[i] for i in range(len(groups)) if i not in split]
                      + [[j] for i in split for j in groups[i]])
    assert sorted(result.details["groups"]) == expected
    words = [name for name, level in zip(result.feature_names, result.details["feature_levels"]) if level == "word"]
    assert words == [game.feature_names[j] for i in split for j in groups[i]]
    assert stages[1]["n_reused"] == 24 and stages[1]["n_paid"] == 40 and result.n_paid == 64
    again = px.explain_coarse_to_fine(px.games.Sentiment(REVIEW), keep=2, budget=[24, 40], random_state=0,
                                      cache=cache)
    assert again.n_paid == 0 and again.feature_names == result.feature_names


@pytest.mark.parametrize("make, levels, coarse", [
    (lambda lm: px.games.Sentiment("It is good. Not bad at all. The end was good and bad.", lm),
     ("sentence", "word"), "sentence"),
    (lambda lm: px.games.Generation("Q: {context}", "One two three. Four five.", target=" six", model=lm),
     ("sentence", "word"), "sentence"),
    (lambda lm: px.games.RAG("Who?", ["Ann wrote it. She is good.", "Bob read it.", "It rained. It was bad."], lm,
                             answer="Ann", unit="sentence"), ("document", "sentence"), "document"),
])
def test_text_games_give_their_own_groups(make, levels, coarse):
    from fakes import FakeLM
    game = make(FakeLM())
    groups = game.feature_groups(coarse)
    result = px.explain_coarse_to_fine(game, levels=levels, keep=1, random_state=0, cache=False)
    split = result.details["stages"][0]["split"]
    assert len(split) == 1
    index = int(split[0].split()[1]) - 1
    assert [list(g) for g in result.details["groups"] if len(g) == 1 and g[0] in groups[index]] == \
        [[j] for j in groups[index]]
    assert [game.feature_names[j] for j in groups[index]] == \
        [name for name, level in zip(result.feature_names, result.details["feature_levels"]) if level == levels[1]]
    assert result.details["levels"] == list(levels)


def test_adaptive_levels_pay_each_mask_once():
    groups = [list(range(i, i + 4)) for i in range(0, 32, 4)]
    game = CountingGame(32, groups)
    result = px.explain_coarse_to_fine(game, keep=1, random_state=0, cache=False)  # budget=None: adaptive rounds
    first, second = result.details["stages"]
    assert second["n_reused"] == first["n_queries"] and second["n_paid"] == result.n_queries - first["n_queries"]
    assert result.n_paid == game.n_distinct() == result.n_queries
    assert result.top(1, index="moebius")[0] == (("w4", "w5"), pytest.approx(3.0, abs=0.05))


@pytest.mark.parametrize("sizes, keep, total", [((12, 150), 3, 661), ((8, 32), 1, 200), ((2, 4, 16), 1, 48),
                                                ((2, 64, 300), 2, 48), ((40, 41), 3, 32)])
def test_a_total_budget_is_shared_by_each_levels_n_log_n(sizes, keep, total):
    from proxyspex.coarse_to_fine import _level_budgets, expected_features
    from proxyspex.masks import MIN_BUDGET

    budgets = _level_budgets(total, sizes, keep)
    expected = expected_features(sizes, keep)
    assert sum(budgets) == total and min(budgets) >= MIN_BUDGET
    assert expected[0] == sizes[0] and all(a <= b for a, b in zip(expected, expected[1:]))
    weights = [n * np.log2(max(n, 2)) for n in expected]
    free = [b for b in budgets[:-1] if b > MIN_BUDGET]  # a level not held at the minimum gets its share
    for b, w in zip(budgets[:-1], weights):
        if b in free:
            assert abs(b - total * w / sum(weights)) < 1
    if sizes == (12, 150):  # 12 sentences, then 9 + 3 * 12.5 words: ~14% of the masks go to the sentences
        assert expected == [12, 46] and budgets == [95, 566]

