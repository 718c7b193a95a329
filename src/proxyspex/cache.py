"""SQLite store of every model output paid for.

One table keyed by (game fingerprint, packed mask). Each batch is committed before the
values are used, so a crash never loses an inference. WAL mode lets several processes
explain at once against one file.

The file carries its format version (``PRAGMA user_version``); a file of a newer format is
refused. :meth:`QueryCache.prepare_to_write` runs before the first inference: it checks that
the file can be written and is sound (``PRAGMA quick_check``), so a read-only or corrupt
cache fails before anything is paid for. A file (or directory) that cannot be written is
opened read-only, which is enough for a run whose masks are all cached. A stored value that
is not a finite number (a tampered file) is treated as missing, with a warning, and paid again.
"""

from __future__ import annotations

import math
import os
import sqlite3
import warnings
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote

import numpy as np

from .errors import CacheError

FORMAT_VERSION = 1  # PRAGMA user_version of the files this code writes; 0 = a file from before versions

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queries (
    game TEXT NOT NULL,
    mask BLOB NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (game, mask)
) WITHOUT ROWID
"""
_FIX = "move it away or delete it (a new cache is then started; the outputs in it are paid again), or pass cache=False"


def default_cache_dir() -> Path:
    """``$PROXYSPEX_CACHE_DIR``, else ``$XDG_CACHE_HOME/proxyspex``, else ``~/.cache/proxyspex``."""
    if os.environ.get("PROXYSPEX_CACHE_DIR"):
        return Path(os.environ["PROXYSPEX_CACHE_DIR"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "proxyspex"
    return Path.home() / ".cache" / "proxyspex"


class QueryCache:
    """Persistent ``(game, mask) -> value`` store in one SQLite file.

    ``read_only`` is True when the file or its directory cannot be written; reads still work.
    """

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path is not None else default_cache_dir() / "queries.sqlite"
        if self.path.is_dir():
            raise CacheError(f"the query cache {self.path} is a directory; pass a file path such as "
                             f"{self.path / 'queries.sqlite'}, or cache=False")
        self.read_only = False
        self._why_read_only = ""
        self._ready_to_write = False
        try:
            self._connection = self._open_writable()
        except (sqlite3.OperationalError, OSError) as exc:
            if not self.path.is_file():
                raise CacheError(f"cannot create the query cache {self.path}: {exc}; pass another path "
                                 f"(cache='...sqlite') or set $PROXYSPEX_CACHE_DIR, or pass cache=False") from None
            self.read_only, self._why_read_only = True, self._why_not_writable(exc)
            self._connection = self._open_read_only()
        except sqlite3.DatabaseError as exc:
            raise self._corrupt(exc) from None
        self._check_version()

    # -- opening --------------------------------------------------------------------------
    def _open_writable(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists() and not os.access(self.path, os.W_OK):
            raise PermissionError("the file is not writable")
        connection = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            if not _has_table(connection):
                with connection:
                    connection.execute("BEGIN IMMEDIATE")
                    connection.execute(_SCHEMA)
                    connection.execute(f"PRAGMA user_version = {FORMAT_VERSION}")
        except sqlite3.Error:
            connection.close()
            raise
        return connection

    def _open_read_only(self) -> sqlite3.Connection:
        """Read-only; ``immutable`` when even that fails (no -shm file can be made in the directory)."""
        uri = "file:" + quote(str(self.path.resolve()))
        for flags in ("?mode=ro", "?immutable=1"):
            connection = sqlite3.connect(uri + flags, uri=True, timeout=60, isolation_level=None)
            try:
                _has_table(connection)
                return connection
            except sqlite3.OperationalError:
                connection.close()
            except sqlite3.DatabaseError as exc:
                connection.close()
                raise self._corrupt(exc) from None
        raise CacheError(f"cannot read the query cache {self.path}: {self._why_read_only}; {_FIX}")

    def _why_not_writable(self, exc: BaseException) -> str:
        if not os.access(self.path, os.W_OK):
            return "the file is not writable"
        if not os.access(self.path.parent, os.W_OK):
            return f"its directory {self.path.parent} is not writable, and SQLite keeps its -wal and -shm files there"
        return str(exc)

    def _check_version(self) -> None:
        version = self._connection.execute("PRAGMA user_version").fetchone()[0]
        if version > FORMAT_VERSION:
            self._connection.close()
            raise CacheError(f"the query cache {self.path} has format {version}, newer than this proxyspex reads "
                             f"({FORMAT_VERSION}); upgrade proxyspex, or pass another cache path or cache=False")
        if _has_table(self._connection) and not _has_schema(self._connection):
            self._connection.close()
            raise CacheError(f"{self.path} is not a proxyspex query cache (its 'queries' table has other "
                             f"columns); {_FIX}")

    def _corrupt(self, exc: BaseException) -> CacheError:
        return CacheError(f"the query cache {self.path} is corrupt or not a SQLite file ({exc}); {_FIX}")

    # -- writing --------------------------------------------------------------------------
    def prepare_to_write(self) -> None:
        """Check, once, that the file can be written and is sound: call it before paying for outputs."""
        if self._ready_to_write:
            return
        if self.read_only:
            raise CacheError(f"the query cache {self.path} is read-only ({self._why_read_only}), and some masks "
                             f"are not in it; make the file and its directory writable, {_FIX}")
        try:
            problems = [row[0] for row in self._connection.execute("PRAGMA quick_check").fetchall()]
            if problems != ["ok"]:
                raise CacheError(f"the query cache {self.path} is corrupt (quick_check: {'; '.join(problems[:3])}); "
                                 f"{_FIX}")
            with self._connection:  # a real write: it fails on a read-only file, WAL file or directory
                self._connection.execute("BEGIN IMMEDIATE")
                self._connection.execute(_SCHEMA)
                self._connection.execute(f"PRAGMA user_version = {FORMAT_VERSION}")
        except sqlite3.DatabaseError as exc:
            if "readonly" in str(exc) or "unable to open" in str(exc):
                raise CacheError(f"the query cache {self.path} cannot be written ({exc}); make the file and its "
                                 f"directory writable, {_FIX}") from None
            raise self._corrupt(exc) from None
        self._ready_to_write = True

    def put(self, game: str, keys: Iterable[bytes], values: np.ndarray) -> None:
        """Store a batch in one committed transaction: it survives a killed process."""
        self.prepare_to_write()
        rows = [(game, key, float(v)) for key, v in zip(keys, values)]
        with self._connection:
            self._connection.execute("BEGIN IMMEDIATE")
            self._connection.executemany("INSERT OR REPLACE INTO queries VALUES (?, ?, ?)", rows)

    def clear(self, game: str | None = None) -> None:
        """Delete the stored values of one game, or all."""
        self.prepare_to_write()
        with self._connection:
            if game is None:
                self._connection.execute("DELETE FROM queries")
            else:
                self._connection.execute("DELETE FROM queries WHERE game = ?", [game])

    # -- reading --------------------------------------------------------------------------
    def get(self, game: str, keys: list[bytes]) -> dict[bytes, float]:
        """The stored values among ``keys``; a value that is not a finite number counts as missing."""
        found: dict[bytes, float] = {}
        bad = 0
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            for mask, value in self._read(
                    f"SELECT mask, value FROM queries WHERE game = ? AND mask IN ({','.join('?' * len(chunk))})",
                    [game, *chunk]):
                if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                    found[mask] = float(value)
                else:
                    bad += 1
        if bad:
            warnings.warn(f"the query cache {self.path} holds {bad} values that are not finite numbers; they are "
                          f"treated as missing and paid again", stacklevel=3)
        return found

    def count(self, game: str | None = None) -> int:
        """Number of stored values, for one game or all."""
        if not _has_table(self._connection):
            return 0
        if game is None:
            return self._read("SELECT COUNT(*) FROM queries", [])[0][0]
        return self._read("SELECT COUNT(*) FROM queries WHERE game = ?", [game])[0][0]

    def _read(self, sql: str, params: list) -> list[tuple]:
        if not _has_table(self._connection):  # a read-only file that was never written
            return []
        try:
            return self._connection.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            raise self._corrupt(exc) from None

    def close(self) -> None:
        self._connection.close()

    def __repr__(self) -> str:
        return f"QueryCache({str(self.path)!r})"


def _has_table(connection: sqlite3.Connection) -> bool:
    return connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'queries'").fetchone() \
        is not None


def _has_schema(connection: sqlite3.Connection) -> bool:
    columns = [row[1] for row in connection.execute("PRAGMA table_info(queries)").fetchall()]
    return columns == ["game", "mask", "value"]


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
