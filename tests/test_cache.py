"""The query cache file: read-only and corrupt files are found before paying, values read back are checked."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess

import numpy as np
import pytest

import proxyspex as px
from proxyspex.cache import FORMAT_VERSION, QueryCache
from proxyspex.errors import CacheError
from proxyspex.query import Queries

N = 8


class Counting:
    def __init__(self):
        self.calls = 0

    def __call__(self, X):
        self.calls += len(X)
        return X @ np.arange(1.0, N + 1)


@contextlib.contextmanager
def unwritable(path):
    """``path`` (a file or directory) cannot be written, even by root (which ignores chmod)."""
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(mode & 0o555)
        try:
            yield
        finally:
            path.chmod(mode)
        return
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False).returncode != 0:
        if os.environ.get("CI"):  # CI runs as root on Debian, where chattr exists: the read-only tests must run
            raise RuntimeError("chattr +i failed: the read-only cache tests cannot run")
        pytest.skip("running as root where chattr +i is not available: cannot make a file read-only")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def filled_cache(path, masks, games=("g",)) -> None:
    for game in games:
        queries = Queries(Counting(), N, key=game, cache=path)
        queries(masks)
        queries.cache.close()  # the last connection checkpoints the WAL into the file


MASKS = px.masks.all_masks(N)


@pytest.mark.parametrize("what", ["file", "directory"])
def test_a_read_only_cache_fails_before_paying(tmp_path, what):
    path = tmp_path / "c.sqlite"
    filled_cache(path, MASKS[:100])
    f = Counting()
    with unwritable(path if what == "file" else tmp_path):
        queries = Queries(f, N, key="g", cache=path)
        with pytest.raises(CacheError, match=r"c\.sqlite is read-only .*cache=False") as info:
            queries(MASKS)
        assert f.calls == 0  # nothing was paid for, so nothing was lost
        if what == "directory":
            assert "directory" in str(info.value)
        np.testing.assert_allclose(queries(MASKS[:100]), Counting()(MASKS[:100]))  # fully cached: works
        assert f.calls == 0


def test_a_fully_cached_explanation_runs_from_a_read_only_directory(tmp_path):
    path = tmp_path / "c.sqlite"
    first = px.explain(Counting(), n=N, budget=60, random_state=0, cache=path, cache_key="g")
    QueryCache(path).close()
    with unwritable(tmp_path):
        again = px.explain(Counting(), n=N, budget=60, random_state=0, cache=path, cache_key="g")
    assert again.n_paid == 0 and again.spectrum.to_dict() == first.spectrum.to_dict()


def test_a_corrupt_page_fails_before_paying(tmp_path):
    path = tmp_path / "c.sqlite"
    filled_cache(path, MASKS, games=[f"game {i}" for i in range(20)])
    page = sqlite3.connect(path).execute("PRAGMA page_size").fetchone()[0]
    assert path.stat().st_size > 4 * page
    with open(path, "r+b") as handle:
        handle.seek(2 * page)
        handle.write(bytes(page))  # a zeroed page, as a disk or a copy may leave it
    f = Counting()
    with pytest.raises(CacheError, match=r"c\.sqlite is corrupt .*delete it.*cache=False"):
        Queries(f, N, key="other", cache=path)(MASKS[:10])
    assert f.calls == 0


def test_a_file_that_is_not_a_database_is_named(tmp_path):
    path = tmp_path / "notes.sqlite"
    path.write_text("my notes, not a cache")
    with pytest.raises(CacheError, match=r"notes\.sqlite is corrupt or not a SQLite file .*cache=False"):
        px.explain(Counting(), n=N, budget=40, cache=path, cache_key="g")
    assert path.read_text() == "my notes, not a cache"


def test_another_table_layout_is_refused(tmp_path):
    path = tmp_path / "c.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE queries (a, b)")
    with pytest.raises(CacheError, match="not a proxyspex query cache"):
        QueryCache(path)


def test_a_newer_format_is_refused_and_an_old_file_is_upgraded(tmp_path):
    path = tmp_path / "c.sqlite"
    filled_cache(path, MASKS[:5])
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == FORMAT_VERSION
        connection.execute(f"PRAGMA user_version = {FORMAT_VERSION + 1}")
    with pytest.raises(CacheError, match=rf"has format {FORMAT_VERSION + 1}, newer than this proxyspex reads"):
        QueryCache(path)
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA user_version = 0")  # a file written before formats had versions
    queries = Queries(Counting(), N, key="g", cache=path)
    queries(MASKS[:10])
    assert queries.n_paid == 5
    assert queries.cache._connection.execute("PRAGMA user_version").fetchone()[0] == FORMAT_VERSION


def test_a_directory_is_not_a_cache_file(tmp_path):
    with pytest.raises(CacheError, match="is a directory; pass a file path"):
        QueryCache(tmp_path)


@pytest.mark.parametrize("stored", ["nan", "inf", "-inf", "NULL", "'text'", "x'00'"])
def test_values_read_back_are_checked_like_fresh_ones(tmp_path, stored):
    path = tmp_path / "c.sqlite"
    filled_cache(path, MASKS[:20])
    with sqlite3.connect(path) as connection:  # tamper: rebuild the table without its NOT NULL and REAL type
        rows = connection.execute("SELECT game, mask, value FROM queries").fetchall()
        connection.execute("DROP TABLE queries")
        connection.execute("CREATE TABLE queries (game TEXT, mask BLOB, value, PRIMARY KEY (game, mask))")
        connection.executemany("INSERT INTO queries VALUES (?, ?, ?)", rows)
        literal = {"nan": "9e999 - 9e999", "inf": "9e999", "-inf": "-9e999"}.get(stored, stored)
        connection.execute(f"UPDATE queries SET value = {literal} WHERE mask IN (SELECT mask FROM queries LIMIT 3)")
    f = Counting()
    queries = Queries(f, N, key="g", cache=path)
    with pytest.warns(UserWarning, match=r"c\.sqlite holds 3 values that are not finite numbers; .* paid again"):
        values = queries(MASKS[:20])
    np.testing.assert_allclose(values, Counting()(MASKS[:20]))
    assert f.calls == 3  # only the bad ones are paid again, and the good values replace them
    again = Queries(Counting(), N, key="g", cache=path)
    np.testing.assert_allclose(again(MASKS[:20]), values)
    assert again.n_paid == 0
