"""Ray: query batches on an actor pool, explanations as Ray tasks, and a clear error without Ray.

One local two-CPU cluster serves the module (about 10 s to start on a busy 2-core machine).
"""

from __future__ import annotations

import os
import pickle
import sys

import numpy as np
import pytest

import proxyspex as px
from proxyspex.cache import QueryCache
from proxyspex.executors import RayExecutor, resolve_executor
from proxyspex.games.base import Game
from proxyspex.masks import sample_masks
from proxyspex.query import Queries, ValueFunctionError


class LazyModelGame(Game):
    """A game whose 'model' loads lazily, once per process, and logs each load (pid) to a file."""

    def __init__(self, n: int, log: str, fail_on_feature: int | None = None):
        self.feature_names = [f"w{i}" for i in range(n)]
        self.log = log
        self.fail_on_feature = fail_on_feature
        self._weights = None

    def __getstate__(self):
        return {**self.__dict__, "_weights": None}  # like LocalLM: the weights never travel

    def value(self, masks: np.ndarray) -> np.ndarray:
        if self._weights is None:
            with open(self.log, "a") as handle:
                handle.write(f"{os.getpid()}\n")
            self._weights = np.random.default_rng(0).normal(size=self.n)
        if self.fail_on_feature is not None and masks[:, self.fail_on_feature].all():
            raise RuntimeError("out of memory on this batch")
        return masks @ self._weights + 2.0 * masks[:, 0] * masks[:, 1] * masks[:, 2]

    def fingerprint_data(self) -> dict:
        return {"fail": self.fail_on_feature}


def loads(log) -> list[int]:
    return [int(line) for line in open(log).read().split()] if os.path.exists(log) else []


@pytest.fixture(scope="module")
def ray_cluster():
    try:
        import ray
        from ray import cloudpickle
    except ImportError:
        if os.environ.get("CI"):  # CI installs the ray extra (make test): a missing one is a failure there
            raise
        pytest.skip("Ray is not installed: pip install 'proxyspex[ray]'")

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests/
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def test_ray_equals_local_and_each_actor_loads_once(ray_cluster, tmp_path):
    params = {"budget": 400, "random_state": 3, "cache": False, "batch_size": 25}
    local = px.explain(LazyModelGame(30, str(tmp_path / "local.log")), **params)
    remote_log = str(tmp_path / "ray.log")
    remote = px.explain(LazyModelGame(30, remote_log), executor=RayExecutor(num_actors=2), **params)
    assert remote.spectrum.to_dict() == local.spectrum.to_dict()
    assert remote.faithfulness == local.faithfulness and remote.n_paid == local.n_paid == 400
    pids = loads(remote_log)
    assert len(pids) == len(set(pids)) <= 2  # 16 batches, at most one load per actor
    assert os.getpid() not in pids  # the driver never loaded the model


def test_ray_caches_every_batch_before_a_failure_and_keeps_its_actors(ray_cluster, tmp_path):
    cache, log = tmp_path / "c.sqlite", str(tmp_path / "g.log")
    game = LazyModelGame(12, log, fail_on_feature=5)
    queries = Queries(game, 12, key="g", cache=cache, batch_size=2, executor=RayExecutor(num_actors=1))
    X = sample_masks(12, 300, np.random.default_rng(0))
    try:
        with pytest.raises(ValueFunctionError, match="out of memory.*outputs of this call were cached"):
            queries(X)
        saved = QueryCache(cache).count()
        assert 0 < saved < 300 and queries.n_paid == saved
        fine = X[~X[:, 5]]  # masks the actor's copy of the game accepts
        np.testing.assert_allclose(queries(fine), game(fine))
    finally:
        queries.close()
    actor, driver = loads(log)  # the actor loaded once for both calls; game(fine) loaded here
    assert driver == os.getpid() != actor
    game.fail_on_feature = None
    before = QueryCache(cache).count()
    healthy = Queries(game, 12, key="g", cache=cache, batch_size=50, executor=RayExecutor(num_actors=1))
    try:
        np.testing.assert_allclose(healthy(X), game(X))
    finally:
        healthy.close()
    assert healthy.n_paid == 300 - before > 0 and QueryCache(cache).count() == 300


def test_explain_many_on_ray_matches_sequential(ray_cluster, tmp_path):
    games = [px.games.SyntheticGame(24, n_interactions=8, random_state=seed) for seed in range(3)]
    params = {"budget": 200, "random_state": 1, "cache": tmp_path / "shared.sqlite"}
    remote = px.explain_many(games, executor="ray", **params)
    local = [px.explain(game, budget=200, random_state=1, cache=False) for game in games]
    assert [r.spectrum.to_dict() for r in remote] == [r.spectrum.to_dict() for r in local]
    assert QueryCache(tmp_path / "shared.sqlite").count() == 3 * 200  # every task wrote its outputs
    again = px.explain_many(games, executor="local", **params)
    assert [r.n_paid for r in again] == [0, 0, 0]


def test_explain_many_rejects_an_open_cache_on_ray(ray_cluster, tmp_path):
    with pytest.raises(TypeError, match="path every worker"):
        px.explain_many([px.games.SyntheticGame(8)], executor="ray", cache=QueryCache(tmp_path / "c.sqlite"))


def test_without_ray_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    game = px.games.SyntheticGame(10, random_state=0)
    with pytest.raises(ImportError, match=r"pip install 'proxyspex\[ray\]'"):
        px.explain(game, budget=64, cache=False, executor="ray")
    with pytest.raises(ImportError, match=r"proxyspex\[ray\]"):
        px.explain_many([game], executor="ray", budget=64, cache=False)
    assert px.explain_many([game], budget=64, cache=False)[0].n_queries == 64  # local still works


def test_executor_arguments_are_checked():
    with pytest.raises(ValueError, match="num_actors"):
        RayExecutor(num_actors=0)
    with pytest.raises(TypeError, match="actor_options"):
        RayExecutor(actor_options=["num_gpus"])
    with pytest.raises(ValueError, match="executor must be"):
        resolve_executor("dask")
    with pytest.raises(ValueError, match="executor must be"):
        px.explain_many([], executor="dask")


@pytest.mark.llm
def test_local_lm_pickles_without_its_weights(embedded_model_dir, monkeypatch):
    from proxyspex.models import LocalLM

    monkeypatch.setenv("PROXYSPEX_MODEL_DIR", str(embedded_model_dir))
    lm = LocalLM(dtype="float32")
    blob = pickle.dumps(lm)
    assert len(blob) < 100_000  # the 135M-parameter weights are not in it
    copy = pickle.loads(blob)
    assert copy.model is lm.model  # in one process the loaded model is shared, not reloaded
    np.testing.assert_array_equal(copy.score(["Hello"], " world"), lm.score(["Hello"], " world"))


def test_default_pool_size_fits_the_cluster():
    class Cluster:
        def cluster_resources(self):
            return {"CPU": 16.0, "GPU": 2.0}

    assert RayExecutor().pool_size(Cluster()) == 16
    assert RayExecutor(actor_options={"num_cpus": 4}).pool_size(Cluster()) == 4
    assert RayExecutor(actor_options={"num_gpus": 1}).pool_size(Cluster()) == 2  # one actor per GPU
    assert RayExecutor(num_actors=3, actor_options={"num_gpus": 1}).pool_size(Cluster()) == 3
