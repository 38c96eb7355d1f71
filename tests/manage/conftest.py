"""Fixtures for the content-management tests: one real sandbox per flavour, an in-memory MCP client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from manage_helpers import Rest, connect
from mcp import Client

from confluence_mcp.sandbox.runner import RunningSandbox, SandboxOptions, start_sandbox


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session", params=["cloud", "server"])
def sandbox(request: pytest.FixtureRequest) -> Iterator[RunningSandbox]:
    with start_sandbox(SandboxOptions(flavor=request.param)) as running:
        yield running


@pytest.fixture(scope="session")
def rest(sandbox: RunningSandbox) -> Iterator[Rest]:
    client = Rest(sandbox)
    yield client
    client.http.close()


@pytest.fixture(scope="module")
async def tools(sandbox: RunningSandbox) -> AsyncIterator[Client]:
    async with connect(sandbox) as client:
        yield client


