"""Where value-function batches run: in this process, or on a pool of Ray actors.

An executor is a picklable description (``LocalExecutor()``, ``RayExecutor(num_actors=4)``).
``start(value_function)`` binds it to one game and returns a run whose ``map(batches)``
yields ``(batch index, raw output, exception or None)`` as each batch finishes, in any
order. After a batch fails no new batch starts, but batches already running still come
back, so that the caller (:class:`proxyspex.query.Queries`) can cache every output paid
for. The caller checks every batch and writes it to the cache before it uses it,
whichever executor ran it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from ._validation import check_int

RAY_EXTRA = "pip install 'proxyspex[ray]'"
Outcome = tuple[int, Any, Exception | None]  # (batch index, raw output, what the value function raised)


class LocalExecutor:
    """Run batches one after another in this process."""

    def start(self, value_function: Callable[[np.ndarray], Any]) -> _LocalRun:
        return _LocalRun(value_function)

    def __repr__(self) -> str:
        return "LocalExecutor()"


class _LocalRun:
    def __init__(self, value_function: Callable[[np.ndarray], Any]):
        self.value_function = value_function
        self.stopped = False

    def map(self, batches: Sequence[np.ndarray]) -> Iterator[Outcome]:
        self.stopped = False
        for index, batch in enumerate(batches):
            if self.stopped:
                return
            try:
                yield index, self.value_function(batch.copy()), None
            except Exception as exc:  # noqa: BLE001 - any failure of user code is reported, with its batch
                yield index, None, exc
                return

    def stop(self) -> None:
        """Start no further batch of the current ``map``."""
        self.stopped = True

    def close(self) -> None:
        pass


class RayExecutor:
    """Spread batches over a pool of Ray actors, each holding one copy of the game.

    The game is put in the object store once and every actor deserialises it once, so a
    game that loads a model lazily (or on unpickling, as :class:`~proxyspex.models.LocalLM`
    does) loads it once per actor. Actors start on the first batch that is not cached and
    are killed by ``close()``.

    Parameters
    ----------
    num_actors : actors in the pool; ``None`` = as many as the cluster's CPUs (and GPUs)
        hold, given what each actor asks for in ``actor_options``.
    actor_options : Ray resource options for each actor, e.g. ``{"num_gpus": 1}``;
        default ``{"num_cpus": 1}``.
    """

    def __init__(self, num_actors: int | None = None, actor_options: dict | None = None):
        check_int("num_actors", num_actors, min_value=1, allow_none=True, what="a positive integer or None")
        if actor_options is not None and not isinstance(actor_options, dict):
            raise TypeError(f"actor_options must be a dict of Ray actor options, got {type(actor_options).__name__}")
        self.num_actors = num_actors
        self.actor_options = dict(actor_options or {"num_cpus": 1})

    def start(self, value_function: Callable[[np.ndarray], Any]) -> _RayRun:
        return _RayRun(value_function, self)

    def pool_size(self, ray) -> int:
        """``num_actors``, else as many actors as the cluster's CPUs (and GPUs, if asked for) can hold."""
        if self.num_actors is not None:
            return self.num_actors
        cluster = ray.cluster_resources()
        fits = [cluster.get("CPU", 1) // (float(self.actor_options.get("num_cpus", 1)) or 1.0)]
        if self.actor_options.get("num_gpus"):
            fits.append(cluster.get("GPU", 0) // float(self.actor_options["num_gpus"]))
        return max(1, int(min(fits)))

    def __repr__(self) -> str:
        return f"RayExecutor(num_actors={self.num_actors!r}, actor_options={self.actor_options!r})"


class _BatchWorker:
    """A Ray actor body: holds the game, evaluates batches."""

    def __init__(self, value_function: Callable[[np.ndarray], Any]):
        self.value_function = value_function

    def evaluate(self, index: int, batch: np.ndarray) -> Outcome:
        try:
            return index, np.asarray(self.value_function(batch)), None
        except Exception as exc:  # noqa: BLE001 - returned, not raised, so the driver knows which batch failed
            return index, None, exc


class _RayRun:
    def __init__(self, value_function: Callable[[np.ndarray], Any], executor: RayExecutor):
        self.ray = import_ray()
        self.value_function = value_function
        self.executor = executor
        self.actors: list = []
        self.pool = None
        self.stopped = False

    def _start_pool(self):
        ray = self.ray
        if not ray.is_initialized():
            ray.init()
        game_ref = ray.put(self.value_function)  # serialised once, whatever the pool size
        worker = ray.remote(_BatchWorker).options(**self.executor.actor_options)
        self.actors = [worker.remote(game_ref) for _ in range(self.executor.pool_size(ray))]
        self.pool = ray.util.ActorPool(self.actors)

    def map(self, batches: Sequence[np.ndarray]) -> Iterator[Outcome]:
        if self.pool is None:
            self._start_pool()
        pending = iter(enumerate(batches))
        for item in itertools.islice(pending, len(self.actors)):  # one batch in flight per actor
            self._submit(item)
        self.stopped = False
        try:
            while self.pool.has_next():
                outcome = self.pool.get_next_unordered()
                self.stopped = self.stopped or outcome[2] is not None
                if not self.stopped:
                    for item in itertools.islice(pending, 1):
                        self._submit(item)
                yield outcome
        finally:  # the caller stopped early: leave the pool idle for its next call
            while self.pool.has_next():
                self.pool.get_next_unordered()

    def stop(self) -> None:
        """Submit no further batch of the current ``map``; running ones still come back."""
        self.stopped = True

    def _submit(self, item: tuple[int, np.ndarray]) -> None:
        self.pool.submit(lambda actor, job: actor.evaluate.remote(*job), item)

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
        self.actors, self.pool = [], None


def import_ray():
    """The ``ray`` module, or an ImportError that names the extra to install."""
    try:
        import ray
        import ray.util
    except ImportError as exc:
        raise ImportError(f"executor='ray' needs Ray, which is not installed: {RAY_EXTRA}") from exc
    return ray


def resolve_executor(executor) -> LocalExecutor | RayExecutor:
    """``"local"``, ``"ray"`` or an executor object; ``"ray"`` fails early when Ray is missing."""
    if isinstance(executor, (LocalExecutor, RayExecutor)):
        if isinstance(executor, RayExecutor):
            import_ray()
        return executor
    if executor is None or executor == "local":
        return LocalExecutor()
    if executor == "ray":
        import_ray()
        return RayExecutor()
    raise ValueError(f"executor must be 'local', 'ray' or a RayExecutor, got {executor!r}")
