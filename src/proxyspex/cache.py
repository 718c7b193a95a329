"""SQLite store of every model output paid for.

One table keyed by (game fingerprint, packed mask). Each batch is committed before the
values are used, so a crash never loses an inference. WAL mode lets several processes
explain at once against one file.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import numpy as np

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queries (
    game TEXT NOT NULL,
    mask BLOB NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (game, mask)
) WITHOUT ROWID
"""


def default_cache_dir() -> Path:
    """``$PROXYSPEX_CACHE_DIR``, else ``$XDG_CACHE_HOME/proxyspex``, else ``~/.cache/proxyspex``."""
    if os.environ.get("PROXYSPEX_CACHE_DIR"):
        return Path(os.environ["PROXYSPEX_CACHE_DIR"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "proxyspex"
    return Path.home() / ".cache" / "proxyspex"


class QueryCache:
    """Persistent ``(game, mask) -> value`` store in one SQLite file."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path is not None else default_cache_dir() / "queries.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._connection = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=NORMAL")
        self._connection.execute(_SCHEMA)

    def get(self, game: str, keys: list[bytes]) -> dict[bytes, float]:
        """The stored values among ``keys``."""
        found: dict[bytes, float] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            rows = self._connection.execute(
                f"SELECT mask, value FROM queries WHERE game = ? AND mask IN ({','.join('?' * len(chunk))})",
                [game, *chunk])
            found.update(rows)
        return found

    def put(self, game: str, keys: Iterable[bytes], values: np.ndarray) -> None:
        """Store a batch in one committed transaction: it survives a killed process."""
        rows = [(game, key, float(v)) for key, v in zip(keys, values)]
        with self._connection:
            self._connection.execute("BEGIN IMMEDIATE")
            self._connection.executemany("INSERT OR REPLACE INTO queries VALUES (?, ?, ?)", rows)

    def count(self, game: str | None = None) -> int:
        """Number of stored values, for one game or all."""
        if game is None:
            return self._connection.execute("SELECT COUNT(*) FROM queries").fetchone()[0]
        return self._connection.execute("SELECT COUNT(*) FROM queries WHERE game = ?", [game]).fetchone()[0]

    def clear(self, game: str | None = None) -> None:
        with self._connection:
            if game is None:
                self._connection.execute("DELETE FROM queries")
            else:
                self._connection.execute("DELETE FROM queries WHERE game = ?", [game])

    def close(self) -> None:
        self._connection.close()

    def __repr__(self) -> str:
        return f"QueryCache({str(self.path)!r})"


class MemoryCache:
    """In-memory stand-in with the same interface, for ``cache=False`` or anonymous callables."""

    def __init__(self):
        self._values: dict[tuple[str, bytes], float] = {}
        self.path = None

    def get(self, game: str, keys: list[bytes]) -> dict[bytes, float]:
        return {k: self._values[(game, k)] for k in keys if (game, k) in self._values}

    def put(self, game: str, keys: Iterable[bytes], values: np.ndarray) -> None:
        self._values.update({(game, k): float(v) for k, v in zip(keys, values)})

    def count(self, game: str | None = None) -> int:
        return sum(1 for g, _ in self._values if game is None or g == game)

    def clear(self, game: str | None = None) -> None:
        self._values = {k: v for k, v in self._values.items() if game is not None and k[0] != game}

    def close(self) -> None:
        pass
