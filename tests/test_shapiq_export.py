"""The shapiq export, checked by shapiq 1.8 itself in its own Python 3.12 venv.

Outside CI the test skips when Python 3.12 or shapiq cannot be had; under CI (``CI`` set) that is a
failure. The venv is the benchmarks' one (``benchmarks/peers/shapiq_peer.py``), built once.
"""

import importlib.util
import json
import os
import subprocess
from pathlib import Path

import brute
import numpy as np
import pytest

import proxyspex as px

ROOT = Path(__file__).resolve().parents[1]
INDICES = [("shapley", 1), ("banzhaf", 1), ("sii", 2), ("sii", 1), ("bii", 2), ("k-sii", 2), ("k-sii", 3),
           ("stii", 2), ("fsii", 2), ("fbii", 2), ("moebius", None)]
EMPTY_IS_BASELINE = ("SV", "k-SII", "STII", "FSII", "FBII", "Moebius")  # shapiq's () is the baseline there


def shapiq_venv() -> Path:
    spec = importlib.util.spec_from_file_location("shapiq_peer", ROOT / "benchmarks" / "peers" / "shapiq_peer.py")
    peer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peer)
    try:
        return peer.ensure_venv()
    except (RuntimeError, subprocess.CalledProcessError, OSError) as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"shapiq 1.8 needs Python 3.12 and its venv: {exc}")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Exact explanation of a random 6-feature game, every index exported, and shapiq's reading."""
    n = 6
    X = brute.all_masks(n)
    table = np.random.default_rng(5).normal(size=2 ** n) + 2.0 * X[:, 0] * X[:, 3] - X[:, 1] * X[:, 2] * X[:, 4]
    names = ["never", "fails", "to", "impress", "her", "acting"]
    result = px.explain(lambda M: table[(M.astype(int) << np.arange(n)).sum(axis=1)], n=n, budget=2 ** n,
                        feature_names=names, cache=False)
    folder = tmp_path_factory.mktemp("shapiq")
    ours, files = {}, []
    for index, order in INDICES:
        name = f"{index}-{order}"
        values = result.values(index, order)
        if index == "moebius":
            values = px.InteractionValues.from_spectrum(values, index="moebius", feature_names=names)
        path = folder / f"{name}.json"
        values.save_shapiq(path)
        ours[name] = values
        files.append({"name": name, "path": str(path)})
    manifest = folder / "manifest.json"
    manifest.write_text(json.dumps({"n": n, "table": table.tolist(), "feature_names": names, "files": files}))
    python = shapiq_venv() / "bin" / "python"
    out = folder / "out.json"
    subprocess.run([str(python), str(ROOT / "tests" / "shapiq_check.py"), str(manifest), str(out)], check=True,
                   timeout=600, env={**os.environ, "MPLBACKEND": "Agg"})
    return ours, json.loads(out.read_text()), table


def as_dict(mapping):
    return {tuple(int(i) for i in k.split(",")) if k else (): v for k, v in mapping.items()}


@pytest.mark.parametrize("name", [f"{index}-{order}" for index, order in INDICES])
def test_shapiq_loads_every_value(exported, name):
    ours, theirs, table = exported
    mine, loaded = ours[name], theirs["files"][name]
    assert theirs["version"] == "1.8.0"
    assert loaded["index"] == mine.shapiq_index()
    assert loaded["n_players"] == mine.n and loaded["max_order"] == mine.max_order
    assert loaded["baseline_value"] == pytest.approx(mine.baseline_value, abs=1e-12)
    got = as_dict(loaded["loaded"])
    expected = {**mine.to_dict()}
    if loaded["index"] == "SV":
        expected.setdefault((), table[0])  # shapiq keeps f(empty) as the empty set of SV
    assert set(got) == set(expected)
    for term, value in expected.items():
        assert got[term] == pytest.approx(value, abs=1e-9), term


@pytest.mark.parametrize("name", [f"{index}-{order}" for index, order in INDICES])
def test_our_values_equal_shapiq_exact_computer(exported, name):
    """Same table, shapiq's own exact computation of the index: index names and semantics agree."""
    ours, theirs, _ = exported
    mine, loaded = ours[name], theirs["files"][name]
    truth = as_dict(loaded["shapiq_exact"])
    # shapiq solves FSII as a weighted least-squares problem, to about 1e-9; our closed form is exact
    # (it matches brute force to 1e-9 in test_indices), so allow shapiq's solver error there.
    tol = 1e-7 if loaded["index"] == "FSII" else 1e-9
    for term, value in truth.items():
        if term == () and loaded["index"] not in EMPTY_IS_BASELINE:
            continue  # SII, BII, BV give the empty set a value of its own, which we do not store
        mine_value = mine.baseline_value if term == () and loaded["index"] == "SV" else mine[term]
        assert mine_value == pytest.approx(value, abs=tol), term
    if loaded["index"] in EMPTY_IS_BASELINE:
        assert mine.baseline_value == pytest.approx(loaded["shapiq_exact_baseline"], abs=1e-9)


@pytest.mark.parametrize("name", [f"{index}-{order}" for index, order in INDICES])
def test_shapiq_plots_accept_the_object(exported, name):
    plots = exported[1]["files"][name]["plots"]
    assert plots and all(ok is True for ok in plots.values()), plots


def test_to_shapiq_without_shapiq_names_the_extra():
    values = px.interaction_values(px.Spectrum.from_dict(2, {(0, 1): 1.0}), "sii", 2)
    if importlib.util.find_spec("shapiq") is not None:
        assert type(values.to_shapiq()).__name__ == "InteractionValues"
    else:
        with pytest.raises(ImportError, match=r"proxyspex\[shapiq\]"):
            values.to_shapiq()


def test_save_shapiq_needs_json_suffix(tmp_path):
    values = px.interaction_values(px.Spectrum.from_dict(2, {(0, 1): 1.0}), "sii", 2)
    with pytest.raises(ValueError, match="must end with .json"):
        values.save_shapiq(tmp_path / "x.txt")
