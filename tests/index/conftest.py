"""Shared fixtures for index tests: one embedded Postgres per test session, a fresh database per module.

`pg_dsn` (session) is the server's DSN; `index_settings` (module) points IndexSettings at a throwaway database
on it, so modules never see each other's collections. Used by the sync/tools tests too, which get `env` (an index
service and a client on the module's `sandbox`: by default a fresh sandbox with the handbook sample per test).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from confluence_mcp.config import IndexSettings
from confluence_mcp.index.pg import EmbeddedPostgres, create_database, drop_database
from confluence_mcp.sandbox.runner import RunningSandbox, SandboxOptions, start_sandbox

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for llm_stub's _stub_server


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str]:
    """DSN of a Postgres with pgvector: CONFLUENCE_MCP_TEST_DATABASE_URL, else an embedded server in a tmp dir."""
    external = os.environ.get("CONFLUENCE_MCP_TEST_DATABASE_URL")
    if external:
        yield external
        return
    with tempfile.TemporaryDirectory(prefix="cmcp-pg-") as tmp:
        server = EmbeddedPostgres(Path(tmp) / "pg")
        try:
            yield server.start()
        finally:
            server.stop()


def _own_database(pg_dsn: str, label: str) -> Iterator[IndexSettings]:
    name = "t_" + re.sub(r"[^a-z0-9_]", "_", label.lower())[:40]
    dsn = create_database(pg_dsn, name)
    yield IndexSettings(database_url=SecretStr(dsn))
    drop_database(pg_dsn, name)


@pytest.fixture(scope="module")
def index_settings(pg_dsn: str, request: pytest.FixtureRequest) -> Iterator[IndexSettings]:
    """IndexSettings on a database of its own for this test module (dropped afterwards)."""
    yield from _own_database(pg_dsn, request.module.__name__.rsplit(".", 1)[-1])


@pytest.fixture
def fresh_index_settings(pg_dsn: str, request: pytest.FixtureRequest) -> Iterator[IndexSettings]:
    """IndexSettings on a database of its own for this one test (for tests that build old schema versions)."""
    yield from _own_database(pg_dsn, request.node.name.removeprefix("test_"))


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    """A fresh sandbox per test (these tests edit and delete pages); modules may override it."""
    with start_sandbox(SandboxOptions(seed=Path(__file__).parents[1] / "data" / "handbook_sample.jsonl")) as running:
        yield running


@pytest.fixture
async def env(sandbox: RunningSandbox, index_settings: IndexSettings) -> AsyncIterator[tuple[Any, Any]]:
    """(IndexService, ConfluenceClient) on `sandbox` and this module's database."""
    from test_sync import open_env

    async with open_env(sandbox, index_settings) as pair:
        yield pair
