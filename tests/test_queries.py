"""Queries: de-duplication, batching, the SQLite cache, resuming after a crash, output checks."""

import numpy as np
import pytest

import proxyspex as px
from proxyspex.cache import QueryCache
from proxyspex.query import PartialOutputError, Queries, ValueFunctionError, check_batch


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


def test_value_function_batch_size_is_the_query_batch(tmp_path):
    class Batched(Counting):
        batch_size = 7

        def __call__(self, X):
            self.sizes = [*getattr(self, "sizes", []), len(X)]
            return super().__call__(X)

    f = Batched()
    Queries(f, 6, key="b", cache=tmp_path / "c.sqlite")(px.masks.all_masks(6)[:30])
    assert f.sizes == [7, 7, 7, 7, 2]
    g = Batched()
    Queries(g, 6, key="b2", cache=False, batch_size=10)(px.masks.all_masks(6)[:30])
    assert g.sizes == [10, 10, 10]  # the explicit argument wins


@pytest.mark.parametrize("bad, error", [(0, ValueError), (2.5, TypeError), (True, TypeError)])
def test_a_bad_value_function_batch_size_is_named(bad, error):
    class Bad(Counting):
        batch_size = bad
    with pytest.raises(error, match="Bad.batch_size must be a positive integer"):
        Queries(Bad(), 5, key=None, cache=False)


class PartlyFailing(Counting):
    """Fails (like one refused HTTP request) on every mask keeping features 0 and 1."""

    def __call__(self, X):
        values = super().__call__(X)
        failed = np.flatnonzero(X[:, 0] & X[:, 1])
        if failed.size:
            raise PartialOutputError("the server refused some prompts", values=np.where(X[:, 0] & X[:, 1], np.nan,
                                     values), failures=[(int(r), "HTTP 400: content filter") for r in failed])
        return values


def test_partial_output_caches_the_good_rows_and_names_the_failures(tmp_path):
    cache = tmp_path / "c.sqlite"
    X = px.masks.all_masks(8)
    n_bad = int((X[:, 0] & X[:, 1]).sum())
    f = PartlyFailing()
    with pytest.raises(ValueFunctionError) as info:
        Queries(f, 8, key="p", cache=cache, batch_size=64)(X)
    message = str(info.value)
    assert "failed on 16 of 64 masks" in message and "HTTP 400: content filter" in message
    assert "16 masks failed; 48 outputs of this call were cached" in message  # it stops after that batch
    assert isinstance(info.value.__cause__, PartialOutputError)
    assert f.calls == 64 and QueryCache(cache).count() == 48
    healthy = Queries(Counting(), 8, key="p", cache=cache)
    np.testing.assert_allclose(healthy(X), Counting()(X))
    assert healthy.n_paid == len(X) - 48 and n_bad == 64


def test_partial_output_error_is_public_and_picklable():
    import pickle

    from proxyspex import errors, query
    assert px.PartialOutputError is query.PartialOutputError is errors.PartialOutputError
    assert px.ValueFunctionError is query.ValueFunctionError is errors.ValueFunctionError
    err = pickle.loads(pickle.dumps(PartialOutputError("x", values=[1.0, np.nan], failures=[(1, "bad")])))
    assert str(err) == "x" and err.failures == [(1, "bad")] and np.isnan(err.values[1])
    assert err.with_values(np.zeros(2)).failures == [(1, "bad")]


def test_partial_output_with_the_wrong_shape_loses_the_batch_clearly():
    def raw_logprobs(X):
        raise PartialOutputError("one failed", values=np.zeros((len(X), 2)), failures=[(0, "x")])
    with pytest.raises(ValueFunctionError, match=r"with_values"):
        Queries(raw_logprobs, 4, key=None, cache=False)(px.masks.all_masks(4))


@pytest.mark.parametrize("fraction", [1.0, 0.5])
def test_the_nan_message_counts_what_was_cached(tmp_path, fraction):
    def nan_some(X):
        return np.where(X.mean(axis=1) < fraction, np.nan, 1.0)
    X = px.masks.all_masks(6)
    with pytest.raises(ValueFunctionError, match="finite") as info:
        Queries(nan_some, 6, key="n", cache=tmp_path / "c.sqlite", batch_size=64)(X)
    kept = QueryCache(tmp_path / "c.sqlite").count()
    assert kept == int((X.mean(axis=1) >= fraction).sum())
    assert f"{kept} outputs of this call were cached" in str(info.value)
    assert "batch was cached" not in str(info.value) and "values of this batch were cached" not in str(info.value)


def test_checking_a_batch_is_pure():
    batch = px.masks.all_masks(3)
    values, failure = check_batch(batch, np.where(batch[:, 0], np.nan, 2.0), None)
    assert np.isnan(values[batch[:, 0]]).all() and (values[~batch[:, 0]] == 2.0).all()
    assert "4 of 8 masks" in str(failure)
    values, failure = check_batch(batch, None, RuntimeError("down"))
    assert np.isnan(values).all() and "RuntimeError: down" in str(failure)
    assert check_batch(batch, np.ones(8), None)[1] is None


# sha256 (first 16 hex digits) of the packed masks that sample_masks drew before dense budgets were
# handled: every draw that terminated quickly then must stay the same, seed for seed.
OLD_DRAWS = {(21, 5000, 0, 0): "c09c802c76bb959e", (24, 100000, 1, 0): "1e7a37374a27fea6",
             (21, 2 ** 20, 2, 0): "8771c677f4ce56ec", (30, 777, 3, 50): "411971875ed00d96",
             (40, 3000, 4, 0): "bd93674b904785b8", (21, 1000, 5, 2 ** 19): "bac7dc94b467d4ac",
             (100, 50, 6, 10): "71d776a8073720bf"}


@pytest.mark.parametrize("case", list(OLD_DRAWS))
def test_sparse_draws_are_unchanged(case):
    import hashlib

    n, m, seed, n_exclude = case
    rng = np.random.default_rng(seed)
    exclude = px.masks.sample_masks(n, n_exclude, rng) if n_exclude else None
    X = px.masks.sample_masks(n, m, rng, exclude=exclude)
    assert hashlib.sha256(np.packbits(X, axis=1).tobytes()).hexdigest()[:16] == OLD_DRAWS[case]


@pytest.mark.slow
@pytest.mark.parametrize("m, step", [(2 ** 21 - 2 ** 16, None), (2 ** 20 - 3, 2)])
def test_dense_budgets_above_20_features_sample_distinct_masks(m, step):
    n = 21
    exclude = _rows(np.arange(0, 2 ** n, step), n) if step else np.zeros((0, n), dtype=bool)
    X = px.masks.sample_masks(n, m, np.random.default_rng(0), exclude=exclude)
    weights = 1 << np.arange(n, dtype=np.int64)
    drawn, excluded = X.astype(np.int64) @ weights, exclude.astype(np.int64) @ weights
    assert len(X) == m and np.unique(drawn).size == m and not np.isin(drawn, excluded).any()


@pytest.mark.parametrize("n, budget", [(21, 2 ** 21 + 10), (22, 2 ** 22 + 1)])
def test_a_budget_above_2_to_the_n_fails_before_paying(n, budget):
    f = Counting()
    with pytest.raises(ValueError, match=rf"only \d+ of the 2\^{n} are left; lower the budget"):
        px.explain(f, n=n, budget=budget, cache=False, random_state=0)
    assert f.calls == 0


@pytest.mark.slow
def test_asking_for_more_masks_than_are_left_fails():
    with pytest.raises(ValueError, match=r"cannot draw 3 new distinct masks of n=21 features: only 2 of the 2\^21"):
        px.masks.sample_masks(21, 3, np.random.default_rng(0), exclude=_rows(np.arange(2, 2 ** 21), 21))


def _rows(s: np.ndarray, n: int) -> np.ndarray:
    """The masks that the integers ``s`` encode (bit i keeps feature i)."""
    return ((s[:, None] >> np.arange(n)) & 1).astype(bool)


@pytest.mark.parametrize("budget", [40, 256])  # the proxy path and the exact path (2^8 masks)
def test_finite_values_near_the_float_limit_are_explained(budget):
    def huge(X):
        return np.where(X[:, 0], 7e307, -7e307) + 1e306 * X[:, 1]
    terms = px.explain(huge, n=8, budget=budget, cache=False, random_state=0).spectrum.to_dict()
    rel = 1e-9 if budget == 256 else 0.02  # exact, or a proxy fit on 40 masks
    assert terms[(0,)] == pytest.approx(-7e307, rel=rel) and terms[(1,)] == pytest.approx(-5e305, rel=rel)
