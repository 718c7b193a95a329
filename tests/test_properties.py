"""Property-based tests of the public API on random and malformed input (hypothesis).

Every case ends in a correct result, checked by an invariant, or in a ValueError/TypeError
whose message names the problem. Never in a traceback from deep inside.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from fakes import FakeLM
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import proxyspex as px
from proxyspex import Spectrum, ValueFunctionError
from proxyspex.cache import MemoryCache
from proxyspex.games import Generation, Sentiment
from proxyspex.indices import INDEX_ALIASES, INDICES
from proxyspex.masks import MIN_BUDGET, all_masks
from proxyspex.models.base import LanguageModel

# derandomize: the same examples on every run, so CI never fails by chance (and no example
# database is written). The conftest's autouse cache-directory fixture is function-scoped; it
# only sets an environment variable, so sharing it across the examples of one test is harmless.
FAST = settings(max_examples=12, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
QUICK = settings(FAST, max_examples=40)

# n = 17..20 is left out: there the sampler enumerates all 2^n masks, which costs ~1 s a draw.
sizes = st.one_of(st.integers(1, 16), st.integers(21, 40))


def random_game(n: int, seed: int, n_terms: int = 4):
    """A sparse, low-order Moebius game with its exact value function."""
    rng = np.random.default_rng(seed)
    terms = {tuple(sorted(rng.choice(n, size=min(int(rng.integers(1, 4)), n), replace=False).tolist())):
             float(rng.normal()) for _ in range(n_terms)}
    terms[()] = float(rng.normal())
    return Spectrum.from_dict(n, terms, basis="moebius")


def shapley_efficiency_gap(result) -> float:
    """|sum of Shapley values - (f(all) - f(none))| of the surrogate."""
    n = result.n
    full, empty = result.predict(np.array([np.ones(n, bool), np.zeros(n, bool)]))
    return abs(sum(result.index("shapley").values()) - (full - empty))


# -- explain on random sizes and budgets -------------------------------------------------

@settings(FAST, max_examples=8)
@given(n=sizes, seed=st.integers(0, 2 ** 16), extra=st.integers(0, 120))
def test_explain_random_sizes_and_budgets(n, seed, extra):
    budget = min(MIN_BUDGET + extra, 2 ** n)
    game = random_game(n, seed)
    result = px.explain(game.predict, n=n, budget=budget, random_state=seed, cache=False)
    assert result.n_queries == result.n_paid == budget
    if np.isnan(result.faithfulness):  # issue 11: too few masks to estimate R^2 is said, not printed as a number
        assert "faithfulness_note" in result.details
    else:
        assert result.faithfulness <= 1.0 + 1e-12
    assert shapley_efficiency_gap(result) <= 1e-8 * (1 + np.abs(result.spectrum.values).sum())
    again = px.explain(game.predict, n=n, budget=budget, random_state=seed, cache=False)
    assert again.spectrum.to_dict() == result.spectrum.to_dict()  # random_state fixes everything


@settings(FAST, max_examples=8)
@given(n=sizes, seed=st.integers(0, 2 ** 16))
def test_an_additive_game_is_recovered(n, seed):
    rng = np.random.default_rng(seed)
    weights, bias = rng.normal(size=n), rng.normal()
    result = px.explain(lambda X: X @ weights + bias, n=n, budget=min(2 ** n, 16 + 4 * n), random_state=seed,
                        cache=False)
    scale = np.abs(weights).sum() + abs(bias)
    anchors = np.array([np.ones(n, bool), np.zeros(n, bool)])  # always among the queried masks
    np.testing.assert_allclose(result.predict(anchors), [weights.sum() + bias, bias], atol=1e-2 * scale)
    shapley = np.array([result.index("shapley")[(i,)] for i in range(n)])
    np.testing.assert_allclose(shapley, weights, atol=2e-2 * np.abs(weights).max())
    assert 0.99 < result.faithfulness <= 1.0


@FAST
@given(n=st.integers(1, 6), data=st.data())
def test_a_budget_covering_every_mask_is_exact(n, data):
    table = np.array(data.draw(st.lists(st.floats(-1e3, 1e3), min_size=2 ** n, max_size=2 ** n)))
    X = all_masks(n)
    lookup = dict(zip(map(bytes, X.astype(np.uint8)), table))
    budget = data.draw(st.one_of(st.none(), st.integers(2 ** n, 2 ** n + 50)))
    result = px.explain(lambda M: np.array([lookup[bytes(r)] for r in M.astype(np.uint8)]), n=n, budget=budget,
                        cache=False)
    assert result.n_queries == 2 ** n and result.faithfulness == 1.0
    np.testing.assert_allclose(result.predict(X), table, atol=1e-9 * (1 + np.abs(table).max()))
    shapley = sum(result.index("shapley").values())
    assert shapley == pytest.approx(table[-1] - table[0], abs=1e-9 * (1 + np.abs(table).max()))


@QUICK
@given(n=sizes, budget=st.integers(-5, MIN_BUDGET - 1))
def test_too_small_budgets_are_refused(n, budget):
    assume(budget < min(MIN_BUDGET, 2 ** n))
    with pytest.raises(ValueError, match=rf"^budget={budget} is below the \d+ masks"):
        px.explain(lambda X: X.sum(axis=1), n=n, budget=budget, cache=False)


@QUICK
@given(budget=st.one_of(st.floats(allow_nan=True), st.text(max_size=3), st.booleans(),
                        st.just([100]), st.decimals(allow_nan=False)))
def test_non_integer_budgets_are_refused(budget):
    with pytest.raises(TypeError, match="^budget must be an integer number of masks"):
        px.explain(lambda X: X.sum(axis=1), n=10, budget=budget, cache=False)


@QUICK
@given(n=st.one_of(st.integers(-5, 0), st.floats(), st.text(max_size=2), st.booleans()))
def test_bad_n_is_refused(n):
    error = ValueError if isinstance(n, int) and not isinstance(n, bool) else TypeError  # range vs type
    with pytest.raises(error, match="^n must be a positive integer"):
        px.explain(lambda X: X.sum(axis=1), n=n, budget=20, cache=False)


@QUICK
@given(name=st.sampled_from(["batch_size", "random_state", "max_order", "energy", "val_fraction", "target_r2", "tol"]),
       value=st.one_of(st.integers(-3, 0), st.floats(-2, 0, exclude_max=True), st.text(max_size=2)))
def test_bad_estimator_parameters_are_named(name, value):
    assume(not (name == "random_state" and value == 0))
    assume(name not in ("target_r2", "tol") or isinstance(value, str))  # any real number is a valid target
    integer = name in ("batch_size", "random_state", "max_order")
    wrong_type = isinstance(value, str) or (integer and isinstance(value, float))
    with pytest.raises(TypeError if wrong_type else ValueError, match=f"^{name} must"):
        px.explain(lambda X: X.sum(axis=1), n=10, budget=20, cache=False, **{name: value})


# -- value functions that misbehave ----------------------------------------------------------

def _faulty(fault: str, column: int):
    """A value function with one kind of fault, and the (type, message) it must produce."""
    calls = []

    def f(X):
        calls.append(X.copy())
        good = X.sum(axis=1) * 1.0
        if fault == "nan" or fault == "inf":
            return np.where(X[:, column], np.nan if fault == "nan" else -np.inf, good)
        if fault == "short":
            return good[:-1]
        if fault == "wide":
            return np.stack([good, good], axis=1)
        if fault == "scalar":
            return 1.0
        if fault == "strings":
            return good.astype(str)
        if fault == "objects":
            return [object()] * len(X)
        if fault == "none":
            return None
        if fault == "complex":
            return good + 1j
        if fault == "raises":
            raise RuntimeError("the server went away")
        if fault == "changes shape":
            return good if len(calls) == 1 else good[:, None].repeat(3, axis=1)
        raise AssertionError(fault)

    expected = {
        "nan": (ValueFunctionError, r"returned nan .*values must be finite"),
        "inf": (ValueFunctionError, r"returned -inf .*values must be finite"),
        "short": (ValueFunctionError, r"returned shape \(\d+,\) for a batch of \d+ masks"),
        "wide": (ValueFunctionError, r"returned shape \(\d+, 2\)"),
        "scalar": (ValueFunctionError, r"returned shape \(\)"),
        "strings": (TypeError, "value function must return numbers"),
        "objects": (TypeError, "value function must return numbers"),
        "none": (TypeError, "value function must return numbers"),
        "complex": (TypeError, "value function returned complex numbers"),
        "raises": (ValueFunctionError, "value function raised RuntimeError: the server went away"),
        "changes shape": (ValueFunctionError, r"returned shape \(\d+, 3\)"),
    }[fault]
    return f, calls, expected


@settings(QUICK, max_examples=25)
@given(fault=st.sampled_from(["nan", "inf", "short", "wide", "scalar", "strings", "objects", "none", "complex",
                              "raises", "changes shape"]),
       n=st.integers(2, 30), column=st.integers(0, 1), batch_size=st.integers(4, 40))
def test_misbehaving_value_functions_get_a_clear_error(fault, n, column, batch_size):
    assume(fault != "changes shape" or batch_size < min(40, 2 ** n))  # it needs a second batch
    f, calls, (error, message) = _faulty(fault, column)
    cache = MemoryCache()
    with pytest.raises(error, match=message):
        px.explain(f, n=n, budget=min(40, 2 ** n), cache=cache, cache_key="k", batch_size=batch_size, random_state=0)
    if fault in ("nan", "inf"):  # every finite output paid for is kept, and only those
        finite = {bytes(np.packbits(row)) for row in np.vstack(calls) if not row[column]}
        assert cache.count() == len(finite)
        stored = cache.get(f"k|n={n}", sorted(finite))
        assert set(stored) == finite
        for key, value in stored.items():
            assert value == np.unpackbits(np.frombuffer(key, np.uint8))[:n].sum()


# -- the result object ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def result():
    game = random_game(9, seed=3)
    return px.explain(game.predict, n=9, budget=120, random_state=0, cache=False)


@QUICK
@given(masks=st.one_of(
    st.integers(1, 4).map(lambda m: np.full((m, 9), 0.5)),
    st.integers(1, 4).map(lambda m: np.full((m, 9), 2)),
    st.integers(1, 4).map(lambda m: np.full((m, 9), -1)),
    st.integers(1, 4).map(lambda m: np.full((m, 9), np.nan)),
))
def test_predict_refuses_non_binary_masks(result, masks):
    with pytest.raises(ValueError, match="^masks must hold only 0 and 1"):
        result.predict(masks)


@QUICK
@given(masks=st.one_of(
    st.integers(1, 4).map(lambda m: np.full((m, 9), "1")),
    st.integers(1, 4).map(lambda m: np.full((m, 9), None)),
    st.integers(1, 4).map(lambda m: np.full((m, 9), True, dtype=object)),
))
def test_predict_refuses_non_numeric_masks(result, masks):
    with pytest.raises(TypeError, match="^masks must hold bools or 0/1 numbers"):
        result.predict(masks)


@QUICK
@given(shape=st.one_of(st.tuples(st.integers(0, 9)), st.tuples(st.integers(1, 3), st.integers(0, 20)),
                       st.tuples(st.integers(1, 3), st.just(9), st.integers(1, 2))))
def test_predict_refuses_wrong_shapes(result, shape):
    assume(len(shape) != 2 or shape[1] != 9)
    with pytest.raises(ValueError, match=re.escape(f"masks must have shape (m, 9), got {shape}")):
        result.predict(np.ones(shape, dtype=bool))


@QUICK
@given(seed=st.integers(0, 2 ** 16), m=st.integers(0, 6), dtype=st.sampled_from([bool, np.int8, int, float]))
def test_predict_accepts_any_binary_encoding(result, seed, m, dtype):
    masks = np.random.default_rng(seed).random((m, 9)) < 0.5
    expected = result.predict(masks)
    np.testing.assert_array_equal(result.predict(masks.astype(dtype)), expected)
    if m:  # an empty list has no shape to check
        np.testing.assert_array_equal(result.predict(masks.astype(dtype).tolist()), expected)
    np.testing.assert_allclose(result.moebius.predict(masks), expected, atol=1e-9)


known = set(INDICES) | set(INDEX_ALIASES)


@QUICK
@given(name=st.text(max_size=8))
def test_unknown_index_names_list_the_known_ones(result, name):
    assume(name.strip().lower() not in known)
    with pytest.raises(ValueError, match=re.escape(f"unknown index {name!r}; choose one of fourier, moebius")):
        result.index(name)


@QUICK
@given(name=st.sampled_from(sorted(known)), upper=st.booleans(), pad=st.sampled_from(["", " ", "\t"]))
def test_index_names_ignore_case_and_padding(result, name, upper, pad):
    spelled = pad + (name.upper() if upper else name) + pad
    assert result.index(spelled) == result.index(name)


@QUICK
@given(index=st.sampled_from(INDICES),
       order=st.one_of(st.integers(-3, 0), st.floats(0.5, 3.5).filter(lambda x: x != int(x)),
                       st.text(min_size=1, max_size=2), st.booleans()))
def test_bad_orders_are_refused(result, index, order):
    # one convention (proxyspex._validation): a non-integer is a TypeError, an integer below 1 a ValueError
    error = ValueError if isinstance(order, int) and not isinstance(order, bool) else TypeError
    with pytest.raises(error, match="order must be a positive integer"):
        result.index(index, order=order)


@QUICK
@given(index=st.one_of(st.none(), st.integers(), st.floats(), st.lists(st.text(), max_size=1)))
def test_index_must_be_a_string(result, index):
    with pytest.raises(TypeError, match="^index must be a string"):
        result.index(index)


@QUICK
@given(k=st.one_of(st.integers(-5, -1), st.floats(), st.none(), st.text(max_size=2)))
def test_bad_top_k_is_refused(result, k):
    error = ValueError if isinstance(k, int) else TypeError  # wrong type TypeError, out of range ValueError
    with pytest.raises(error, match="^k must be a non-negative integer"):
        result.top(k)


@QUICK
@given(index=st.sampled_from(INDICES), k=st.integers(0, 12))
def test_top_is_sorted_and_named(result, index, k):
    top = result.top(k, index=index)
    assert len(top) <= k
    strengths = [abs(value) for _, value in top]
    assert strengths == sorted(strengths, reverse=True)
    assert all(names and set(names) <= set(result.feature_names) for names, _ in top)


# -- Spectrum construction --------------------------------------------------------------------

terms_strategy = st.dictionaries(
    st.lists(st.integers(0, 11), max_size=4, unique=True).map(tuple), st.floats(-10, 10), max_size=8)


@QUICK
@given(terms=terms_strategy, seed=st.integers(0, 2 ** 16), basis=st.sampled_from(["fourier", "moebius"]))
def test_spectrum_predicts_like_brute_force(terms, seed, basis):
    spectrum = Spectrum.from_dict(12, terms, basis=basis)
    X = np.random.default_rng(seed).random((16, 12)) < 0.5
    brute = np.zeros(16)
    for term, value in terms.items():
        ones = X[:, list(term)].sum(axis=1)
        brute += value * ((-1.0) ** ones if basis == "fourier" else (ones == len(term)))
    np.testing.assert_allclose(spectrum.predict(X), brute, atol=1e-9)
    other = spectrum.to_moebius() if basis == "fourier" else spectrum.to_fourier()
    np.testing.assert_allclose(other.predict(X), brute, atol=1e-9)
    assert all(value != 0 for value in spectrum.values)


@QUICK
@given(n=st.integers(1, 12), bad=st.sampled_from([np.nan, np.inf, -np.inf]))
def test_spectrum_refuses_non_finite_values(n, bad):
    with pytest.raises(ValueError, match="^values must be finite"):
        Spectrum.from_dict(n, {(0,): 1.0, (): bad})
    with pytest.raises(ValueError, match="^table values must be finite"):
        Spectrum.from_table(np.r_[np.zeros(2 ** n - 1), bad])


@QUICK
@given(n=st.integers(1, 12), index=st.one_of(st.integers(-20, -1), st.integers(12, 40)))
def test_spectrum_refuses_out_of_range_terms(n, index):
    assume(index >= n or index < 0)
    with pytest.raises(ValueError, match=re.escape(f"term indices must lie in [0, {n})")):
        Spectrum.from_dict(n, {(0, index) if index != 0 else (index,): 1.0})


@QUICK
@given(term=st.one_of(st.integers(0, 3), st.text(max_size=3), st.tuples(st.floats()), st.tuples(st.none())))
def test_spectrum_terms_must_be_index_tuples(term):
    with pytest.raises(TypeError, match="^a term must be a tuple of feature indices"):
        Spectrum.from_dict(4, {term: 1.0})


@QUICK
@given(rows=st.integers(0, 4), columns=st.integers(0, 6), n=st.integers(0, 6), values=st.integers(0, 5))
def test_spectrum_shapes_must_agree(rows, columns, n, values):
    assume(columns != n or rows != values)
    with pytest.raises(ValueError, match=re.escape(f"support has shape ({rows}, {columns}) but n={n}")):
        Spectrum(n, np.zeros((rows, columns), dtype=bool), np.ones(values))


@QUICK
@given(n=st.one_of(st.integers(-5, -1), st.floats(), st.text(max_size=2), st.booleans()))
def test_spectrum_n_must_be_a_count(n):
    error = ValueError if isinstance(n, int) and not isinstance(n, bool) else TypeError
    with pytest.raises(error, match="^n must be a non-negative integer"):
        Spectrum(n, np.zeros((0, 3), dtype=bool), [])


@QUICK
@given(size=st.integers(0, 70))
def test_from_table_needs_a_power_of_two(size):
    assume(size & (size - 1) != 0 or size == 0)
    with pytest.raises(ValueError, match=re.escape(f"a full table needs 2^n values, got shape ({size},)")):
        Spectrum.from_table(np.zeros(size))


def test_spectrum_refuses_bad_support_and_basis():
    with pytest.raises(ValueError, match="^support must hold only 0 and 1"):
        Spectrum(3, [[2, 0, 0]], [1.0])
    with pytest.raises(TypeError, match="^support must hold bools or 0/1 numbers"):
        Spectrum(3, [["a", "b", "c"]], [1.0])
    with pytest.raises(ValueError, match=r"^support must be a 2-D \(terms, n\) matrix"):
        Spectrum(3, np.ones(3), [1.0])
    with pytest.raises(ValueError, match="^basis must be one of"):
        Spectrum(3, np.ones((1, 3)), [1.0], basis="walsh")
    with pytest.raises(TypeError, match="^values must be real numbers"):
        Spectrum(3, np.ones((1, 3)), ["a"])
    with pytest.raises(ValueError, match="repeats a feature index"):
        Spectrum.from_dict(3, {(1, 1): 1.0})
    with pytest.raises(TypeError):
        Spectrum.zero(3) + 1.0


# -- text games on a fake language model -----------------------------------------------------

def test_the_fake_model_implements_the_protocol():
    assert isinstance(FakeLM(), LanguageModel)


words = st.text(alphabet="abeox", min_size=1, max_size=4)
texts = st.lists(words, min_size=1, max_size=5).flatmap(
    lambda ws: st.lists(st.sampled_from([" ", "  ", "\n", "\t"]), min_size=len(ws) + 1, max_size=len(ws) + 1)
    .map(lambda gaps: gaps[0] + "".join(w + g for w, g in zip(ws, gaps[1:]))))


@FAST
@given(text=texts, game_class=st.sampled_from([Sentiment, Generation]))
def test_text_games_explain_exactly_on_short_texts(text, game_class):
    game = Sentiment(text, FakeLM()) if game_class is Sentiment else Generation("Q: {context}", text, model=FakeLM())
    assert game.feature_names == text.split()
    result = px.explain(game, cache=False)
    X = all_masks(game.n)
    np.testing.assert_allclose(result.predict(X), game(X), atol=1e-9)
    shapley = sum(result.index("shapley").values())
    full, empty = game(X[[-1, 0]])
    assert shapley == pytest.approx(full - empty, abs=1e-9)


@QUICK
@given(text=st.text(alphabet=" \t\n\r\u00a0\u2003", max_size=6), game_class=st.sampled_from([Sentiment, Generation]))
def test_empty_and_blank_texts_are_refused(text, game_class):
    with pytest.raises(ValueError, match="^text is empty: it has no units to explain"):
        if game_class is Sentiment:
            Sentiment(text, FakeLM())
        else:
            Generation("Q: {context}", text, model=FakeLM())


@QUICK
@given(units=st.lists(st.text(alphabet=" \t", max_size=2), min_size=1, max_size=3), game_class=st.sampled_from(
    [Sentiment, Generation]))
def test_blank_units_are_refused(units, game_class):
    with pytest.raises(ValueError, match="^every unit must contain non-whitespace text"):
        if game_class is Sentiment:
            Sentiment(units + ["word"], FakeLM())
        else:
            Generation("Q: {context}", units + ["word"], model=FakeLM())


@pytest.mark.parametrize("text", [None, 3, b"bytes", 2.5])
def test_text_of_the_wrong_type_is_refused(text):
    with pytest.raises(TypeError, match="^text must be a str or a sequence of str"):
        Sentiment(text, FakeLM())


def test_games_refuse_bad_models_and_empty_greedy_answers():
    with pytest.raises(TypeError, match="^model must be a LanguageModel back-end"):
        Sentiment("fine words", object())
    lazy = Generation("Q: {context}", "some words", model=FakeLM(answer="  \n"))  # generates on first use
    with pytest.raises(ValueError, match="greedy answer is empty"):
        lazy.target
    with pytest.raises(ValueError, match="^target must be a non-empty str"):
        Generation("Q: {context}", "some words", target="", model=FakeLM())


@QUICK
@given(names=st.one_of(st.lists(st.text(max_size=3), max_size=6), st.text(min_size=1, max_size=6)))
def test_feature_names_must_match_n(names):
    assume(isinstance(names, str) or len(names) != 4)
    error, message = (TypeError, "^feature_names must be a sequence of names") if isinstance(names, str) else (
        ValueError, f"^feature_names has {len(names)} entries but n=4")
    with pytest.raises(error, match=message):
        px.explain(lambda X: X.sum(axis=1), n=4, feature_names=names, cache=False)


# -- the README's "Bad input" table -----------------------------------------------------------

README = Path(__file__).resolve().parents[1] / "README.md"


def bad_input_table() -> list[tuple[str, str, str]]:
    """``(call, error, message)`` for each row of the README's "Bad input" table."""
    section = README.read_text(encoding="utf-8").split("\n## Bad input\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        if len(cells) == 3 and all(cell.startswith("`") and cell.endswith("`") for cell in cells):
            rows.append(tuple(cell[1:-1] for cell in cells))
    return rows


def test_the_bad_input_table_is_there():
    rows = bad_input_table()
    assert len(rows) >= 30
    assert len({call for call, _, _ in rows}) == len(rows)


@pytest.fixture(scope="module")
def readme_names() -> dict:
    """The names the table's calls use."""
    f = lambda X: X.sum(axis=1)  # as in the README
    return {"px": px, "np": np, "f": f, "res": px.explain(f, n=8, budget=40, cache=False)}


@pytest.mark.parametrize("call, error, message", bad_input_table())
def test_each_bad_input_row_is_true(call, error, message, readme_names, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a row that writes a file writes it here
    namespace = dict(readme_names)
    expected = re.compile("^" + ".*".join(map(re.escape, message.split("…"))), re.DOTALL)
    if error == "UserWarning":
        with pytest.warns(UserWarning) as record:
            eval(call, namespace)
        assert any(expected.search(str(w.message)) for w in record), [str(w.message) for w in record]
        return
    with pytest.raises(Exception) as caught:
        eval(call, namespace)
    assert type(caught.value).__name__ == error
    assert expected.search(str(caught.value)), str(caught.value)


@pytest.mark.parametrize("kwargs, error", [
    (dict(batch_size=True), TypeError), (dict(batch_size=2.0), TypeError), (dict(batch_size=0), ValueError),
    (dict(max_batch_tokens=False), TypeError), (dict(max_batch_tokens=-1), ValueError),
])
def test_local_lm_batch_arguments_follow_the_convention(kwargs, error):
    from extras import require_extra
    require_extra("torch", "llm")
    from proxyspex.models import LocalLM
    name = next(iter(kwargs))
    with pytest.raises(error, match=f"^{name} must be a positive integer"):
        LocalLM(**kwargs)  # checked before any model is loaded


@pytest.mark.parametrize("value, error", [(True, TypeError), (1.5, TypeError), (0, ValueError)])
def test_ray_executor_pool_size_follows_the_convention(value, error):
    with pytest.raises(error, match="^num_actors must be a positive integer or None"):
        px.RayExecutor(num_actors=value)
