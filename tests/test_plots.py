"""res.plot(...): figures checked by their content (texts, patches, colours), not by pixels."""

import numpy as np
import pytest

import proxyspex as px
from proxyspex.games.synthetic import DoubleNegativeGame
from proxyspex.report.plots import NEGATIVE, POSITIVE

mpl = pytest.importorskip("matplotlib")
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


@pytest.fixture(scope="module")
def double_negative():
    game = DoubleNegativeGame()
    return game, px.explain(game, budget=2 ** game.n, cache=False)


@pytest.fixture(scope="module")
def long_result():
    n = 300
    rng = np.random.default_rng(0)
    terms = {tuple(sorted(rng.choice(n, size=d, replace=False).tolist())): rng.normal() for d in (1, 2)
             for _ in range(60)}
    names = [("a-very-long-unit-name-indeed" if i % 37 == 0 else w)
             for i, w in enumerate((["the", "film", "was", "not", "bad", "."] * 50))]
    return px.Explanation(px.Spectrum.from_dict(n, terms), names, 0.9, 1000, 1000)


def texts(fig):
    ax = fig.axes[0]
    return [t.get_text() for t in ax.texts] + [t.get_text() for t in ax.get_yticklabels()]


def by_gid(fig, prefix):
    ax = fig.axes[0]
    return [a for a in ax.patches + ax.lines if (a.get_gid() or "").startswith(prefix)]


def test_bar_names_and_signs(double_negative):
    _, result = double_negative
    fig = result.plot("bar", index="fsii", top=4)
    assert isinstance(fig, Figure)
    labels = texts(fig)
    assert labels[:4] == ["never × fails", "never", "fails", "impress"]
    bars = fig.axes[0].patches
    assert len(bars) == 4
    expected = dict(result.values("fsii").top(4, names=True))
    for label, patch in zip(labels, bars):
        assert to_hex(patch.get_facecolor()) == (POSITIVE if expected[tuple(label.split(" × "))] > 0 else NEGATIVE)
        assert patch.get_width() == pytest.approx(expected[tuple(label.split(" × "))])


def test_network_nodes_and_edges(double_negative):
    _, result = double_negative
    fig = result.plot("network", index="fsii", top=3)
    edges = by_gid(fig, "edge")
    pairs = result.values("fsii").top(3, order=2)
    pairs = [(t, v) for t, v in pairs if abs(v) > 1e-9]
    assert [e.get_gid() for e in edges] == [f"edge {i} {j}" for (i, j), _ in pairs]
    for edge, (_, value) in zip(edges, pairs):
        assert to_hex(edge.get_color()) == (POSITIVE if value > 0 else NEGATIVE)
    nodes = {n.get_gid(): n for n in by_gid(fig, "node")}
    first = result.values("fsii").first_order()
    never, impress = result.feature_names.index("never"), result.feature_names.index("impress")
    assert to_hex(nodes[f"node {never}"].get_facecolor()) == NEGATIVE  # first order of never is -2.5
    assert to_hex(nodes[f"node {impress}"].get_facecolor()) == POSITIVE
    assert nodes[f"node {never}"].get_radius() > nodes[f"node {impress}"].get_radius()  # |-2.5| > 2
    assert abs(first[never]) > abs(first[impress])
    assert "never" in texts(fig) and "to#4" in texts(fig)  # a repeated name carries its position


def test_text_units_shaded_and_top_pair_arc(double_negative):
    game, result = double_negative
    fig = result.plot("text", top=1)
    units = [t for t in fig.axes[0].texts if (t.get_gid() or "").startswith("unit")]
    assert [t.get_text() for t in units] == game.feature_names
    shapley = result.values("shapley").first_order()
    for unit, value in zip(units, shapley):
        assert to_hex(unit.get_bbox_patch().get_facecolor()) == (POSITIVE if value >= 0 else NEGATIVE)
    never, fails = game.feature_names.index("never"), game.feature_names.index("fails")
    arcs = by_gid(fig, "arc")
    assert [a.get_gid() for a in arcs] == [f"arc {never} {fails}"]  # "fails" reads negative, its pair positive
    assert to_hex(arcs[0].get_edgecolor()) == POSITIVE


def test_waterfall_runs_from_empty_to_full(double_negative):
    game, result = double_negative
    fig = result.plot("waterfall", index="fsii", top=3)
    labels = texts(fig)
    assert labels[0] == "f(∅)" and labels[-1] == "f(all)" and labels[1] == "never × fails"
    empty, full = game(np.array([np.zeros(game.n, bool), np.ones(game.n, bool)]))
    start, end = by_gid(fig, "f(empty)")[0], by_gid(fig, "f(all)")[0]
    assert start.get_width() == pytest.approx(empty)
    assert end.get_width() == pytest.approx(full)
    steps = by_gid(fig, "step")
    assert start.get_width() + sum(s.get_width() for s in steps) == pytest.approx(full)
    with pytest.raises(ValueError, match="add up to f\\(all\\)"):
        result.plot("waterfall", index="sii")


def test_readable_at_300_units(long_result):
    fig = long_result.plot("bar", top=10)
    labels = texts(fig)
    assert len(labels) == 10 and max(len(part) for label in labels for part in label.split(" × ")) <= 18
    assert len(by_gid(long_result.plot("network", top=10, nodes=20), "node")) <= 20 + 20
    text = long_result.plot("text", top=5)
    assert len(by_gid(text, "arc")) == 5
    assert all(len(t.get_text()) <= 14 for t in text.axes[0].texts if (t.get_gid() or "").startswith("unit"))
    assert len(texts(long_result.plot("waterfall", top=10))) == 13  # f(∅), 10 terms, the rest, f(all)


def test_bad_kind_and_headless(double_negative, tmp_path):
    _, result = double_negative
    with pytest.raises(ValueError, match="kind must be one of bar, network, text, waterfall"):
        result.plot("pie")
    result.plot("network").savefig(tmp_path / "n.png")  # no display needed
    assert (tmp_path / "n.png").stat().st_size > 1000
