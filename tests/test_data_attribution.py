"""Data attribution: retraining games, planted redundancy, brute-force Moebius pairs, cache, CLI."""

import numpy as np
import pytest
from brute import all_masks, moebius
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

import proxyspex as px
from proxyspex.cli import main
from proxyspex.games import DataAttribution, SklearnTrainer, SoftmaxRegression
from proxyspex.games.data_attribution import trainer_fingerprint
from proxyspex.query import ValueFunctionError
from proxyspex.report.text import format_pairs, top_pairs

N_TINY = 8


def tiny_pool(random_state: int = 0):
    """Test image 0 (a zero); a pool of 3 zeros and 4 others, plus a noisy copy of the first zero (last)."""
    digits = load_digits()
    X, y = digits.data / 16.0, digits.target
    rng = np.random.default_rng(random_state)
    zeros = rng.choice(np.flatnonzero(y[1:] == 0) + 1, size=3, replace=False)
    others = rng.choice(np.flatnonzero(y[1:] != 0) + 1, size=N_TINY - 4, replace=False)
    pool = np.concatenate([zeros, others])
    X_pool, y_pool = X[pool], y[pool]
    copy = np.clip(X_pool[0] + rng.normal(scale=0.02, size=64), 0, 1)
    return np.vstack([X_pool, copy]), np.append(y_pool, 0), X[0], y[0]


@pytest.fixture(scope="module")
def tiny():
    """The tiny game, its full 2^8 table straight from ``value``, and its exact explanation."""
    game = DataAttribution(*tiny_pool())
    table = game.value(all_masks(N_TINY))
    return game, table, px.explain(game, budget=2 ** N_TINY, cache=False)


def test_exact_explanation_matches_brute_force_moebius_pairs(tiny):
    _, table, result = tiny
    truth = moebius(table)
    assert result.n_queries == 2 ** N_TINY and result.details.get("exact")
    pairs = {t: v for t, v in result.values("moebius", order=2).to_dict().items() if len(t) == 2}
    for i in range(N_TINY):
        for j in range(i + 1, N_TINY):
            assert pairs.get((i, j), 0.0) == pytest.approx(truth[(i, j)], abs=1e-8)


def test_planted_duplicate_is_the_most_redundant_pair(tiny):
    game, table, result = tiny
    truth = moebius(table)
    duplicate = (0, N_TINY - 1)
    assert truth[duplicate] < 0
    assert min((v, t) for t, v in truth.items() if len(t) == 2)[1] == duplicate
    _, redundant = top_pairs(result, k=3)
    assert (redundant[0].i, redundant[0].j) == duplicate
    assert redundant[0].names == (game.feature_names[0], game.feature_names[-1])


def test_proxy_on_fewer_masks_than_the_table_recovers_the_pairs(tiny):
    _, table, _ = tiny
    truth = moebius(table)
    lookup = lambda X: table[X.astype(int) @ (1 << np.arange(N_TINY))]
    result = px.explain(lookup, n=N_TINY, budget=160, random_state=0, cache=False)
    estimate = result.values("moebius", order=2).to_dict()
    pairs = [(i, j) for i in range(N_TINY) for j in range(i + 1, N_TINY)]
    true_pairs = np.array([truth[p] for p in pairs])
    est_pairs = np.array([estimate.get(p, 0.0) for p in pairs])
    assert np.corrcoef(true_pairs, est_pairs)[0, 1] > 0.9
    assert pairs[int(np.argmin(est_pairs))] == (0, N_TINY - 1)


def test_digits_near_duplicate_is_redundant_under_proxyspex():
    game = DataAttribution.digits(16, near_duplicates=1, random_state=5)
    (i, j), = game.planted
    assert game.feature_names[j].startswith("copy of") or game.feature_names[i].startswith("copy of")
    assert game.y_train[i] == game.y_train[j] == game.y_test
    result = px.explain(game, budget=128, random_state=0, cache=False)
    _, redundant = top_pairs(result, k=3)
    assert (i, j) in [(p.i, p.j) for p in redundant]
    assert result.values("moebius", order=2).to_dict()[(i, j)] < 0


def test_second_explain_is_served_by_the_cache(tmp_path):
    game = DataAttribution(*tiny_pool(1))
    first = px.explain(game, budget=40, random_state=0, cache=tmp_path / "c.sqlite")
    again = px.explain(DataAttribution(*tiny_pool(1)), budget=40, random_state=0, cache=tmp_path / "c.sqlite")
    assert first.n_paid == first.n_queries > 0
    assert again.n_paid == 0 and again.n_queries == first.n_queries
    np.testing.assert_allclose(again.spectrum.predict(all_masks(N_TINY)), first.spectrum.predict(all_masks(N_TINY)))


def test_fingerprint_names_data_trainer_and_parameters():
    X, y, x, t = tiny_pool()
    base = DataAttribution(X, y, x, t).fingerprint
    assert DataAttribution(X.copy(), y.copy(), x.copy(), t).fingerprint == base
    assert DataAttribution(X, y, x, t, train=SoftmaxRegression(C=2.0)).fingerprint != base
    assert DataAttribution(X, y, x + 0.01, t).fingerprint != base
    moved = X.copy()
    moved[3, 5] += 0.01
    assert DataAttribution(moved, y, x, t).fingerprint != base
    assert DataAttribution(X, y, x, t, groups=np.arange(len(X)) // 2).fingerprint != base
    digits_key = lambda seed: DataAttribution.digits(12, random_state=seed).fingerprint
    assert digits_key(3) == digits_key(3) != digits_key(4)
    sk = lambda C: DataAttribution(X, y, x, t, train=SklearnTrainer(LogisticRegression(C=C))).fingerprint
    assert sk(1.0) == sk(1.0) != sk(2.0)


def test_plain_function_trainers_are_fingerprinted_by_their_code():
    def a(X, y, k):
        return lambda Z: np.zeros((len(Z), k))

    def b(X, y, k):
        return lambda Z: np.ones((len(Z), k))
    assert trainer_fingerprint(a)["code"] != trainer_fingerprint(b)["code"]


def test_degenerate_subsets_are_defined_and_finite(tiny):
    game, _, _ = tiny
    assert game.margin_of([]) == 0.0
    others = np.flatnonzero(game.y_train != game.y_test)
    zeros = np.flatnonzero(game.y_train == game.y_test)
    without_true_class = game.margin_of(others)
    assert np.isfinite(without_true_class) and without_true_class < 0
    only_true_class = game.margin_of(zeros)
    assert np.isfinite(only_true_class) and only_true_class > 0
    one_other = game.margin_of(others[:1])
    assert np.isfinite(one_other) and one_other < 0


def test_default_trainer_learns_nothing_from_no_data():
    scores = SoftmaxRegression()(np.zeros((0, 3)), np.zeros(0, dtype=int), 4)(np.ones((2, 3)))
    np.testing.assert_array_equal(scores, np.zeros((2, 4)))


def test_sklearn_trainer_is_finite_on_one_class_and_on_missing_classes():
    X, y, x, t = tiny_pool()
    game = DataAttribution(X, y, x, t, train=SklearnTrainer(LogisticRegression(max_iter=500), floor=1e-4))
    values = game.value(np.array([[1, 1, 0, 0, 0, 0, 0, 0], [0, 0, 0, 1, 1, 0, 0, 0], [1] * 8,
                                  [1, 0, 0, 1, 0, 0, 0, 0]], dtype=bool))
    assert np.isfinite(values).all()
    assert values[0] == pytest.approx(-np.log(1e-4))  # zeros only: certain of the true class
    assert values[2] > 0 > values[1]


def test_groups_remove_examples_together(tiny):
    game, _, _ = tiny
    groups = np.array([0, 0, 1, 1, 2, 2, 3, 0])  # the copy (last) joins the first zero's group
    grouped = DataAttribution(game.X_train, game.y_train, game.x_test, game.y_test, groups=groups)
    assert grouped.n == 4 and grouped.feature_names == ["group 0", "group 1", "group 2", "group 3"]
    mask = np.array([[True, False, True, False]])
    assert grouped.value(mask)[0] == pytest.approx(game.margin_of([0, 1, 4, 5, 7]))


def test_top_pairs_are_sorted_by_sign():
    terms = {(0, 1): 2.0, (1, 2): -3.0, (0, 2): 0.5, (2, 3): -0.1, (0,): 9.0, (0, 1, 2): -8.0}
    spectrum = px.Spectrum.from_dict(4, terms, basis="moebius")
    result = px.explain(spectrum.to_fourier().predict, n=4, budget=16, feature_names=list("abcd"), cache=False)
    synergistic, redundant = top_pairs(result, k=5)
    assert [(p.names, round(p.value, 9)) for p in synergistic] == [(("a", "b"), 2.0), (("a", "c"), 0.5)]
    assert [(p.names, round(p.value, 9)) for p in redundant] == [(("b", "c"), -3.0), (("c", "d"), -0.1)]
    assert "a × b" in format_pairs(result) and "b × c" in format_pairs(result)
    with pytest.raises(ValueError, match="k must be"):
        top_pairs(result, k=0)


def test_bad_inputs_are_named():
    X, y, x, t = tiny_pool()
    with pytest.raises(ValueError, match="y_test"):
        DataAttribution(X, y, x, 42)
    with pytest.raises(ValueError, match="x_test"):
        DataAttribution(X, y, x[:10], t)
    with pytest.raises(ValueError, match="y_train"):
        DataAttribution(X, y[:-1], x, t)
    with pytest.raises(ValueError, match="at least 2 classes"):
        DataAttribution(X[:2], np.zeros(2, dtype=int), x, 0)
    with pytest.raises(ValueError, match="groups"):
        DataAttribution(X, y, x, t, groups=[0, 1])
    with pytest.raises(TypeError, match="train"):
        DataAttribution(X, y, x, t, train="logreg")
    with pytest.raises(TypeError, match="SklearnTrainer"):
        DataAttribution(X, y, x, t, train=LogisticRegression())
    with pytest.raises(ValueError, match="C must be"):
        SoftmaxRegression(C=0)
    with pytest.raises(ValueError, match="near_duplicates"):
        DataAttribution.digits(4, near_duplicates=3)
    nan_trainer = lambda X, y, k: (lambda Z: np.full((len(Z), k), np.nan))
    with pytest.raises(ValueError, match="non-finite"):
        DataAttribution(X, y, x, t, train=nan_trainer).margin_of([0])
    with pytest.raises(ValueFunctionError, match="non-finite"):
        px.explain(DataAttribution(X, y, x, t, train=nan_trainer), budget=16, cache=False)


def test_cli_prints_synergistic_and_redundant_pairs(tmp_path, capsys):
    out = tmp_path / "data.html"
    code = main(["explain", "--task", "data", "--n-train", "10", "--test-index", "3", "--budget", "64",
                 "--out", str(out), "--no-cache"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "synergistic pairs" in printed and "redundant pairs" in printed and "64 queries" in printed
    assert "(3)" in out.read_text()  # names carry the digit label; test image 3 is a 3
    assert main(["explain", "--task", "data", "--test-index", "5000", "--no-cache"]) == 2
    assert "test_index" in capsys.readouterr().err


def test_closure_trainers_with_different_captured_values_get_different_fingerprints():
    X, y, x, t = tiny_pool()

    def penalised(C):
        return lambda X_, y_, k: SoftmaxRegression(C=C)(X_, y_, k)

    first = DataAttribution(X, y, x, t, train=penalised(1.0)).fingerprint
    assert DataAttribution(X, y, x, t, train=penalised(1.0)).fingerprint == first
    assert DataAttribution(X, y, x, t, train=penalised(2.0)).fingerprint != first

    def with_default(X_, y_, k, C=1.0):
        return SoftmaxRegression(C=C)(X_, y_, k)

    def with_other_default(X_, y_, k, C=3.0):
        return SoftmaxRegression(C=C)(X_, y_, k)
    with_other_default.__code__ = with_default.__code__  # same code, other default
    assert trainer_fingerprint(with_default) != trainer_fingerprint(with_other_default)


def test_a_trainer_capturing_an_unnamed_object_is_refused_when_the_game_is_built():
    X, y, x, t = tiny_pool()
    state = object()
    trainer = lambda X_, y_, k: (state, SoftmaxRegression()(X_, y_, k))[1]
    with pytest.raises(TypeError, match="train cannot be fingerprinted.*closure variable 'state'.*fingerprint_data"):
        DataAttribution(X, y, x, t, train=trainer)


def test_digits_sets_everything_at_construction():
    game = DataAttribution.digits(16, near_duplicates=1, random_state=5)
    assert game.sample.images.shape == (16, 8, 8) and game.images is game.sample.images
    assert game.test_image.shape == (8, 8) and game.test_index == 0 and len(game.pool) == 16
    assert len(game.planted) == 1
    assert DataAttribution(game.X_train, game.y_train, game.x_test, game.y_test).images is None
