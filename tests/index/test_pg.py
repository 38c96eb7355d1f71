"""The embedded Postgres lifecycle: start, reuse by a second process, stale pid files, throwaway databases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from confluence_mcp.config import IndexSettings
from confluence_mcp.index.pg import EmbeddedPostgres, create_database, drop_database, open_pool

pytestmark = pytest.mark.anyio

_ATTACH = """
import sys
from confluence_mcp.index.pg import EmbeddedPostgres
import psycopg
server = EmbeddedPostgres(sys.argv[1])
with psycopg.connect(server.start()) as conn:
    print(conn.execute("SELECT pg_postmaster_start_time()::text").fetchone()[0])
server.stop()
"""


def _start_time(dsn: str) -> str:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT pg_postmaster_start_time()::text").fetchone()
    assert row is not None
    return str(row[0])


def _run_child(data_dir: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run([sys.executable, "-c", _ATTACH, str(data_dir)], capture_output=True, text=True,
                          timeout=60, env=env, check=True)
    return done.stdout.strip()


def test_second_process_reuses_running_server_and_last_handle_stops_it(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "pg")
    dsn = server.start()
    started = _start_time(dsn)
    assert _run_child(tmp_path / "pg") == started  # attached to the same server, which keeps running
    assert _start_time(dsn) == started
    server.stop()
    assert not (tmp_path / "pg" / "postmaster.pid").exists()  # last handle gone: stopped cleanly
    again = EmbeddedPostgres(tmp_path / "pg")  # data directory is reused across runs
    try:
        with psycopg.connect(again.start()) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        again.stop()


def test_stale_pid_files_are_cleaned(tmp_path: Path) -> None:
    data = tmp_path / "pg"
    server = EmbeddedPostgres(data)
    server.start()
    server.stop()
    # A crashed run: its pid is still registered and a postmaster.pid names a live process that is not Postgres.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    (data / ".handle_pids.json").write_text(json.dumps([int(dead)]))
    (data / "postmaster.pid").write_text(f"{os.getpid()}\n{data}\n0\n5432\n{data}\n\n0 0\nready\n")
    revived = EmbeddedPostgres(data)
    try:
        assert _start_time(revived.start())
        assert json.loads((data / ".handle_pids.json").read_text()) == [os.getpid()]
    finally:
        revived.stop()


def test_throwaway_databases(pg_dsn: str) -> None:
    dsn = create_database(pg_dsn, "t_throwaway")
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("t_throwaway",)
    drop_database(pg_dsn, "t_throwaway")
    with pytest.raises(ValueError, match="must match"):
        create_database(pg_dsn, "bad-name; DROP")


async def test_open_pool_registers_vector(index_settings: IndexSettings) -> None:
    import numpy as np

    pool = await open_pool(index_settings)
    try:
        async with pool.connection() as conn:
            vector = np.array([1, 2, 3], dtype=np.float32)
            row = await (await conn.execute("SELECT %s::vector(3)", (vector,))).fetchone()
        assert row is not None and list(np.asarray(row[0].to_numpy())) == [1.0, 2.0, 3.0]
    finally:
        await pool.close()


async def test_unreachable_database_is_a_clear_error() -> None:
    from pydantic import SecretStr

    from confluence_mcp.errors import IndexStoreError

    settings = IndexSettings(database_url=SecretStr("postgresql://u:secret@127.0.0.1:1/db?connect_timeout=2"))
    with pytest.raises(IndexStoreError, match="cannot connect") as info:
        await open_pool(settings)
    assert "secret" not in str(info.value)


def _terminate_sessions(dsn: str) -> int:
    """End every other session on `dsn`'s database, as a Postgres restart, an idle timeout or a failover would."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchone()
    return int(row[0]) if row else 0


async def test_the_pool_replaces_connections_the_server_ended(index_settings: IndexSettings) -> None:
    """Pooled connections the server ended are found dead when taken, not by the next tool calls (one failure
    per pooled connection, each an unexpected-error answer), and a connection ended mid-query is not reused."""
    import anyio

    from confluence_mcp.index.store import IndexStore

    assert index_settings.database_url is not None
    dsn = index_settings.database_url.get_secret_value()
    async with await IndexStore.open(index_settings) as store:
        await store.collection_refs()
        assert _terminate_sessions(dsn) >= 1
        for _ in range(4):
            await store.collection_refs()

        failures: list[BaseException] = []

        async def slow_query() -> None:
            try:
                async with store.autocommit() as conn:
                    await conn.execute("SELECT pg_sleep(30)")
            except psycopg.OperationalError as exc:
                failures.append(exc)

        with anyio.fail_after(20):
            async with anyio.create_task_group() as group:
                group.start_soon(slow_query)
                await anyio.sleep(0.5)
                assert _terminate_sessions(dsn) >= 1
        assert len(failures) == 1  # the query that was running fails; the calls after it do not
        for _ in range(4):
            await store.collection_refs()
        stats = store.pool.get_stats()
        assert stats["pool_size"] <= stats["pool_max"]
