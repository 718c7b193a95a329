"""Crash safety and concurrency of the query cache, with real processes.

A run killed with SIGKILL mid-way loses no output it has stored: the same call, run
again, pays only for the missing masks and returns what an uninterrupted run returns.
Several processes explaining at once against one cache file all finish, and the file
holds every output once, with the right value.
"""

from __future__ import annotations

import json
import os
import runpy
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from proxyspex.games import hierarchical_spectrum

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")

N = 24
BUDGET = 240

# Run as a script (one explanation, result to JSON) or loaded with runpy (same class, same fingerprint).
SCRIPT = f'''
import json, os, sys, time
from pathlib import Path

import proxyspex as px
from proxyspex.games import SpectrumGame, hierarchical_spectrum


class SlowGame(SpectrumGame):
    """A synthetic game that takes ``delay`` seconds per batch, like a model would."""

    def __init__(self, seed, delay=0.0):
        super().__init__(hierarchical_spectrum({N}, random_state=seed), random_state=seed)
        self.delay = delay
        self.times = []

    def value(self, masks):
        self.times.append(time.time())
        time.sleep(self.delay)
        return super().value(masks)


def run(cache, seed, delay=0.0, batch_size=8, budget={BUDGET}):
    game = SlowGame(seed, delay)
    result = px.explain(game, budget=budget, random_state=0, cache=cache, batch_size=batch_size, progress=False)
    return {{"terms": [[list(t), v] for t, v in result.spectrum.to_dict().items()],
            "faithfulness": result.faithfulness, "n_queries": result.n_queries, "n_paid": result.n_paid,
            "fingerprint": game.fingerprint, "query_times": game.times[:1] + game.times[-1:]}}


if __name__ == "__main__":
    cache, out, seed, delay, batch_size, barrier, parties = sys.argv[1:]
    Path(barrier, f"ready-{{os.getpid()}}").touch()  # imports done: wait for the other processes
    while len(list(Path(barrier).glob("ready-*"))) < int(parties):
        time.sleep(0.01)
    Path(out).write_text(json.dumps(run(cache, int(seed), float(delay), int(batch_size))))
'''


@pytest.fixture
def script(tmp_path) -> Path:
    path = tmp_path / "explain_slow_game.py"
    path.write_text(SCRIPT)
    return path


@pytest.fixture
def launch(script):
    """Start explanations of ``SlowGame(seed)`` in new processes; any left running at teardown is killed."""
    started: list[subprocess.Popen] = []

    def start(cache: Path, out: Path, *, seed: int, delay: float, batch_size: int, barrier: Path,
              parties: int = 1) -> subprocess.Popen:
        barrier.mkdir(exist_ok=True)  # a process starts querying once ``parties`` processes are ready
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        started.append(subprocess.Popen(
            [sys.executable, str(script), str(cache), str(out), str(seed), str(delay), str(batch_size),
             str(barrier), str(parties)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        return started[-1]

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate()


def stored_rows(cache: Path) -> list[tuple[str, bytes, float]]:
    """Every row of the cache file, read by a fresh connection (as after a crash)."""
    with sqlite3.connect(cache, timeout=60) as connection:
        try:
            return connection.execute("SELECT game, mask, value FROM queries").fetchall()
        except sqlite3.OperationalError:  # the table does not exist yet
            return []


def assert_values_are_right(rows, seed: int) -> None:
    masks = np.array([np.unpackbits(np.frombuffer(mask, np.uint8))[:N] for _, mask, _ in rows], dtype=bool)
    truth = hierarchical_spectrum(N, random_state=seed).predict(masks.reshape(-1, N))
    np.testing.assert_allclose([value for _, _, value in rows], truth, rtol=1e-12, atol=1e-12)


def test_a_killed_run_is_resumed_without_paying_twice(script, launch, tmp_path):
    cache = tmp_path / "cache.sqlite"
    process = launch(cache, tmp_path / "killed.json", seed=1, delay=0.2, batch_size=8,
                     barrier=tmp_path / "barrier")
    deadline = time.monotonic() + 120
    while len(stored_rows(cache)) < 40:  # let it pay for a few batches, then kill it mid-way
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, "the explanation never started querying"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL

    rows = stored_rows(cache)
    cached_before = len(rows)
    assert 40 <= cached_before < BUDGET  # killed in the middle of the querying
    assert_values_are_right(rows, seed=1)

    run = runpy.run_path(str(script))["run"]
    resumed = run(cache, seed=1)
    assert resumed["n_queries"] == BUDGET
    assert resumed["n_paid"] == BUDGET - cached_before  # every stored output is reused
    uninterrupted = run(False, seed=1)
    assert uninterrupted["n_paid"] == BUDGET
    assert resumed["terms"] == uninterrupted["terms"]
    assert resumed["faithfulness"] == uninterrupted["faithfulness"]

    rows = stored_rows(cache)
    assert len(rows) == BUDGET
    assert_values_are_right(rows, seed=1)


def test_concurrent_writers_share_one_cache(launch, tmp_path):
    cache = tmp_path / "cache.sqlite"
    games = [("a", 1), ("b", 1), ("c", 2)]  # a and b: the same game; c: another
    jobs = {name: launch(cache, tmp_path / f"{name}.json", seed=seed, delay=0.005, batch_size=2,
                         barrier=tmp_path / "barrier", parties=len(games))
            for name, seed in games}
    for process in jobs.values():
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
        assert "locked" not in stderr
    results = {name: json.loads((tmp_path / f"{name}.json").read_text()) for name in jobs}
    starts, ends = zip(*(result["query_times"] for result in results.values()))
    assert max(starts) < min(ends)  # all three were writing at the same time
    assert results["a"]["terms"] == results["b"]["terms"]  # same outputs, same explanation
    assert results["a"]["fingerprint"] == results["b"]["fingerprint"] != results["c"]["fingerprint"]

    rows = stored_rows(cache)
    by_game = {}
    for row in rows:
        by_game.setdefault(row[0], []).append(row)
    assert {game: len(game_rows) for game, game_rows in by_game.items()} == {
        f"{results['a']['fingerprint']}|n={N}": BUDGET, f"{results['c']['fingerprint']}|n={N}": BUDGET}
    assert len({(game, mask) for game, mask, _ in rows}) == len(rows) == 2 * BUDGET
    assert_values_are_right(by_game[f"{results['a']['fingerprint']}|n={N}"], seed=1)
    assert_values_are_right(by_game[f"{results['c']['fingerprint']}|n={N}"], seed=2)


# -- a real LLM explanation, with default settings ------------------------------------------------

LLM_BUDGET = 300
LLM_SCRIPT = f'''
import json, sys
import proxyspex as px

TEXT = "The plot drags in the middle, yet the cast is wonderful and the final scene left me in tears."


def main(cache, passes):
    game = px.games.Sentiment(TEXT)
    log = open(passes, "a")

    def record(module, args, kwargs, output):  # rows of each scoring pass, once it has run
        if kwargs.get("attention_mask") is not None:  # not the shared-prefix pass
            log.write(f"{{kwargs['input_ids'].shape[0]}}\\n")
            log.flush()

    game.lm.model.base_model.register_forward_hook(record, with_kwargs=True)
    result = px.explain(game, budget={LLM_BUDGET}, random_state=0, cache=cache, progress=False)
    print(json.dumps({{"n_paid": result.n_paid, "n_queries": result.n_queries, "n": game.n,
                      "batch_size": game.batch_size}}))


if __name__ == "__main__":
    main(*sys.argv[1:])
'''


def passes_run(log: Path) -> list[int]:
    """Rows of each model pass that finished, as the script logged them."""
    return [int(line) for line in log.read_text().split()] if log.exists() else []


@pytest.mark.llm
@pytest.mark.slow
def test_a_killed_or_interrupted_llm_explanation_keeps_every_finished_model_batch(embedded_model_dir, tmp_path):
    script = tmp_path / "explain_sentiment.py"
    script.write_text(LLM_SCRIPT)
    cache = tmp_path / "cache.sqlite"
    env = {**os.environ, "OMP_NUM_THREADS": "2"}

    def run_until(log: Path, rows: int, signal_number: int) -> list[int]:
        """Run the explanation until ``rows`` masks in two passes or more went through the model, then
        send the signal (after one pass, "all but one model batch" would be nothing)."""
        process = subprocess.Popen([sys.executable, str(script), str(cache), str(log)], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 1200
            while sum(passes_run(log)) < rows or len(passes_run(log)) < 2:
                assert process.poll() is None, process.communicate()[1][-3000:]
                assert time.monotonic() < deadline, "the explanation never got that far"
                time.sleep(0.05)
            process.send_signal(signal_number)
            _, stderr = process.communicate(timeout=300)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
        if signal_number == signal.SIGINT:
            assert "KeyboardInterrupt" in stderr, stderr[-3000:]
        else:
            assert process.returncode == -signal.SIGKILL
        return passes_run(log)  # read after the process ended: a pass may have finished meanwhile

    interrupted = run_until(tmp_path / "interrupted.log", 60, signal.SIGINT)  # Ctrl-C
    after_interrupt = len(stored_rows(cache))
    assert sum(interrupted) - max(interrupted) <= after_interrupt <= sum(interrupted)

    killed = run_until(tmp_path / "killed.log", 60, signal.SIGKILL)  # resumed, then killed outright
    after_kill = len(stored_rows(cache))
    assert sum(killed) - max(killed) <= after_kill - after_interrupt <= sum(killed)  # only new masks were paid
    assert after_kill < LLM_BUDGET

    resumed = subprocess.run([sys.executable, str(script), str(cache), str(tmp_path / "resumed.log")], env=env,
                             capture_output=True, text=True, timeout=1800, check=False)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    result = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert result["n_queries"] == LLM_BUDGET and result["n_paid"] == LLM_BUDGET - after_kill
    assert sum(passes_run(tmp_path / "resumed.log")) == LLM_BUDGET - after_kill
    assert 16 <= result["batch_size"] < LLM_BUDGET  # the model's batch, not Queries' default of 1024
    assert len(stored_rows(cache)) == LLM_BUDGET
