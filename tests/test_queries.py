"""Queries: de-duplication, batching, the SQLite cache, resuming after a crash, output checks."""

import numpy as np
import pytest

import proxyspex as px
from proxyspex.cache import QueryCache
from proxyspex.query import Queries, ValueFunctionError


class Counting:
    """A value function that counts the masks it is asked for and can die after k of them."""

    def __init__(self, die_after=None):
        self.calls = 0
        self.die_after = die_after

    def __call__(self, X):
        if self.die_after is not None and self.calls + len(X) > self.die_after:
            raise RuntimeError("model server went away")
        self.calls += len(X)
        return X[:, 0] * 2.0 - X[:, 1] * X[:, 2] + 0.1 * X.sum(axis=1)


def test_duplicates_are_paid_once(tmp_path):
    f = Counting()
    q = Queries(f, 5, key="g", cache=tmp_path / "c.sqlite", batch_size=3)
    X = np.array([[1, 0, 1, 0, 1], [1, 0, 1, 0, 1], [0, 0, 0, 0, 0], [1, 1, 1, 1, 1]], dtype=bool)
    y = q(X)
    assert f.calls == 3 and q.n_paid == 3
    np.testing.assert_allclose(y, f(X))
    q2 = Queries(Counting(), 5, key="g", cache=tmp_path / "c.sqlite")
    np.testing.assert_allclose(q2(X), y)
    assert q2.n_paid == 0 and q2.n_cached == 3


def test_crash_then_resume_pays_only_for_missing(tmp_path):
    cache = tmp_path / "c.sqlite"
    dying = Counting(die_after=100)
    with pytest.raises(ValueFunctionError, match="model server went away.*cached"):
        px.explain(dying, n=40, budget=300, random_state=0, cache=cache, cache_key="f", batch_size=25)
    assert dying.calls == 100
    assert QueryCache(cache).count() == 100
    healthy = Counting()
    result = px.explain(healthy, n=40, budget=300, random_state=0, cache=cache, cache_key="f", batch_size=25)
    assert healthy.calls == 200 and result.n_paid == 200 and result.n_queries == 300
    again = Counting()
    px.explain(again, n=40, budget=300, random_state=0, cache=cache, cache_key="f")
    assert again.calls == 0


def test_cache_keys_separate_games(tmp_path):
    cache = tmp_path / "c.sqlite"
    a, b = Counting(), Counting()
    px.explain(a, n=20, budget=50, random_state=0, cache=cache, cache_key="a")
    px.explain(b, n=20, budget=50, random_state=0, cache=cache, cache_key="b")
    assert a.calls == b.calls == 50


def test_game_fingerprint_keys_the_default_cache(private_cache_dir):
    game = px.games.SyntheticGame(30, random_state=0)
    first = px.explain(game, budget=200, random_state=0)
    second = px.explain(px.games.SyntheticGame(30, random_state=0), budget=200, random_state=0)
    assert first.n_paid == 200 and second.n_paid == 0
    assert (private_cache_dir / "queries.sqlite").exists()
    other = px.explain(px.games.SyntheticGame(30, random_state=1), budget=200, random_state=0)
    assert other.n_paid == 200


def test_cache_disabled_and_anonymous_callables_are_not_persisted(private_cache_dir):
    px.explain(Counting(), n=10, budget=40, random_state=0)
    px.explain(px.games.SyntheticGame(12, random_state=0), budget=40, random_state=0, cache=False)
    assert not (private_cache_dir / "queries.sqlite").exists()


@pytest.mark.parametrize("bad, error, message", [
    (lambda X: np.full(len(X), np.nan), ValueFunctionError, "finite"),
    (lambda X: np.where(X[:, 0], np.inf, 1.0), ValueFunctionError, "inf"),
    (lambda X: np.ones((len(X), 2)), ValueFunctionError, r"shape \(\d+, 2\)"),
    (lambda X: np.ones(len(X) - 1), ValueFunctionError, "expected"),
    (lambda X: np.array(["a"] * len(X)), TypeError, "must return numbers"),
    (lambda X: [None] * len(X), TypeError, "must return numbers"),
    (lambda X: 1 / 0, ValueFunctionError, "ZeroDivisionError"),
])
def test_bad_value_functions(bad, error, message):
    with pytest.raises(error, match=message):
        px.explain(bad, n=8, budget=40, random_state=0, cache=False)
    assert issubclass(ValueFunctionError, ValueError)


def test_finite_values_of_a_bad_batch_are_kept(tmp_path):
    def half_nan(X):
        return np.where(X[:, 0], np.nan, 1.0)
    with pytest.raises(ValueFunctionError):
        px.explain(half_nan, n=12, budget=100, random_state=0, cache=tmp_path / "c.sqlite", cache_key="h")
    kept = QueryCache(tmp_path / "c.sqlite").count()
    assert 30 < kept < 70  # the masks without feature 0


def test_column_vector_output_is_accepted():
    result = px.explain(lambda X: X[:, :1] * 1.0, n=6, budget=64, cache=False)
    assert result.index("shapley")[(0,)] == pytest.approx(1.0)


def test_a_cache_path_without_a_key_warns(tmp_path):
    with pytest.warns(UserWarning, match="cache_key"):
        px.explain(Counting(), n=10, budget=40, random_state=0, cache=tmp_path / "c.sqlite")
    assert not (tmp_path / "c.sqlite").exists()
