"""Explanation.save / px.load: a plain JSON round trip that reproduces predict exactly."""

import json

import brute
import numpy as np
import pytest

import proxyspex as px
from proxyspex.explanation import FORMAT_VERSION, describe_game
from proxyspex.games.synthetic import DoubleNegativeGame, SyntheticGame


@pytest.fixture(scope="module")
def fitted():
    game = SyntheticGame(n=24, n_interactions=12, max_order=3, random_state=1)
    return game, px.explain(game, budget=600, random_state=0, cache=False)


def test_round_trip_reproduces_everything(fitted, tmp_path):
    game, result = fitted
    path = result.save(tmp_path / "x.json")
    loaded = px.load(path)
    X = np.random.default_rng(0).random((300, game.n)) < 0.5
    assert np.array_equal(loaded.predict(X), result.predict(X))  # bit for bit
    assert loaded.spectrum.to_dict() == result.spectrum.to_dict()
    assert loaded.feature_names == result.feature_names
    assert loaded.faithfulness == result.faithfulness
    assert (loaded.n_queries, loaded.n_paid) == (result.n_queries, result.n_paid)
    assert loaded.details["tree_config"]["max_depth"] == result.details["tree_config"].max_depth
    assert loaded.details["rounds"] == result.details["rounds"]  # one dict per adaptive round
    assert loaded.game_info["fingerprint"] == game.fingerprint
    assert loaded.game_info["class"] == "SyntheticGame"
    assert loaded.index("shapley") == result.index("shapley")
    assert loaded.top(5, index="sii") == result.top(5, index="sii")


def test_file_is_plain_documented_json(fitted, tmp_path):
    _, result = fitted
    payload = json.loads(result.save(tmp_path / "x.json").read_text())
    assert payload["format"] == "proxyspex-explanation"
    assert payload["format_version"] == FORMAT_VERSION
    assert payload["proxyspex_version"]
    assert set(payload) >= {"n", "feature_names", "spectrum", "faithfulness", "n_queries", "n_paid", "details",
                            "game"}
    assert len(payload["spectrum"]["terms"]) == len(payload["spectrum"]["values"]) == len(result.spectrum)
    assert not list(tmp_path.glob(".*tmp"))  # the temporary file was renamed away


def test_exact_explanation_round_trip_against_brute_force(tmp_path):
    game = DoubleNegativeGame()
    result = px.explain(game, budget=2 ** game.n, cache=False)
    loaded = px.load(result.save(tmp_path / "dn.json"))
    table = game(brute.all_masks(game.n))
    np.testing.assert_allclose(loaded.predict(brute.all_masks(game.n)), table, atol=1e-9)
    assert loaded.details["exact"] is True
    assert loaded.game_info["description"] == {}  # a synthetic game has no model or prompt


def test_text_game_description():
    class FakeLM:
        def __repr__(self):
            return "FakeLM('tiny')"

    class Game:
        lm = FakeLM()
        prompt = "Review: {context}"
        target = " positive"
        masking = "remove"
        fingerprint = "abc"

        def __call__(self, X):
            return np.zeros(len(X))

    info = describe_game(Game())
    assert info == {"class": "Game", "fingerprint": "abc",
                    "description": {"model": "FakeLM('tiny')", "prompt": "Review: {context}",
                                    "target": " positive", "masking": "remove"}}

    class Described(Game):
        def describe(self):
            return {"task": "sentiment", "model": "x"}

    assert describe_game(Described())["description"] == {"task": "sentiment", "model": "x"}
    assert describe_game(lambda X: X.sum(1)) == {"class": "function", "fingerprint": None, "description": {}}


def test_plain_callable_result_saves(tmp_path):
    result = px.explain(lambda X: X[:, 0] * 2.0 - X[:, 1], n=3, budget=8, cache=False)
    loaded = px.load(result.save(tmp_path / "f.json"))
    np.testing.assert_allclose(loaded.predict(brute.all_masks(3)), [0, 2, -1, 1, 0, 2, -1, 1], atol=1e-12)


def test_bad_files_name_the_file(fitted, tmp_path):
    _, result = fitted
    with pytest.raises(FileNotFoundError, match="missing.json"):
        px.load(tmp_path / "missing.json")
    with pytest.raises(FileNotFoundError, match="the folder .*nowhere does not exist"):
        result.save(tmp_path / "nowhere" / "x.json")
    bad = tmp_path / "bad.json"
    bad.write_text("not json {")
    with pytest.raises(ValueError, match="bad.json is not a JSON file"):
        px.load(bad)
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    with pytest.raises(ValueError, match="bad.json is not a JSON file"):
        px.load(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(ValueError, match="bad.json holds a JSON list"):
        px.load(bad)
    bad.write_text(json.dumps({"hello": 1}))
    with pytest.raises(ValueError, match="bad.json is not a saved proxyspex explanation"):
        px.load(bad)
    payload = result.to_dict()
    bad.write_text(json.dumps({**payload, "format_version": 99}))
    with pytest.raises(ValueError, match="format_version 99"):
        px.load(bad)
    del payload["spectrum"]
    bad.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match="lacks the field 'spectrum'"):
        px.load(bad)
    payload = result.to_dict()
    bad.write_text(json.dumps({**payload, "feature_names": ["a"]}))
    with pytest.raises(ValueError, match="damaged explanation: feature_names has 1 entries but n=24"):
        px.load(bad)
    payload["spectrum"]["terms"][0] = [10 ** 6]
    bad.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match="damaged"):
        px.load(bad)


def test_non_finite_details_become_null(tmp_path):
    result = px.Explanation(px.Spectrum.from_dict(2, {(0,): 1.0}), ["a", "b"], float("nan"), 4, 4,
                            {"score": float("inf"), "array": np.arange(3), "nested": (np.float32(0.5),)})
    loaded = px.load(result.save(tmp_path / "nan.json"))
    assert np.isnan(loaded.faithfulness)
    assert loaded.details == {"score": None, "array": [0, 1, 2], "nested": [0.5]}


def test_a_failed_write_keeps_the_old_file(fitted, tmp_path, monkeypatch):
    _, result = fitted
    path = result.save(tmp_path / "x.json")
    before = path.read_bytes()

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr("proxyspex.jsonfile.os.replace", crash)
    with pytest.raises(OSError, match="disk full"):
        px.Explanation(px.Spectrum.from_dict(2, {(0,): 1.0}), ["a", "b"], 1.0, 4, 4).save(path)
    assert path.read_bytes() == before  # never a half-written or replaced file
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]  # and no temporary left behind
