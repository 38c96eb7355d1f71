"""Fixtures: real sandboxes on loopback (one per flavour per session) and HTTP clients for them."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from confluence_mcp.sandbox.runner import RunningSandbox, SandboxOptions, start_sandbox


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _options(flavor: str) -> SandboxOptions:
    return SandboxOptions(flavor=flavor,  # type: ignore[arg-type]
                          context_path="/confluence" if flavor == "server" else "",
                          hidden_spaces=("PRIVATE",), read_only_spaces=("ARCHIVE",))


@pytest.fixture(scope="session")
def cloud_sandbox() -> Iterator[RunningSandbox]:
    with start_sandbox(_options("cloud")) as sandbox:
        yield sandbox


@pytest.fixture(scope="session")
def server_sandbox() -> Iterator[RunningSandbox]:
    with start_sandbox(_options("server")) as sandbox:
        yield sandbox


def client_for(sandbox: RunningSandbox) -> httpx.Client:
    return httpx.Client(base_url=sandbox.base_url, auth=sandbox.auth, timeout=10.0)


# Clients are session-scoped too: building an httpx.Client (its TLS context) costs ~0.1 s.
@pytest.fixture(scope="session")
def cloud(cloud_sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with client_for(cloud_sandbox) as http:
        yield http


@pytest.fixture(scope="session")
def server(server_sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with client_for(server_sandbox) as http:
        yield http


@pytest.fixture(params=["cloud", "server"])
def sandbox(request: pytest.FixtureRequest) -> RunningSandbox:
    """Each test using this (or `client`) runs once per flavour."""
    return request.getfixturevalue(f"{request.param}_sandbox")


@pytest.fixture
def client(sandbox: RunningSandbox, request: pytest.FixtureRequest) -> httpx.Client:
    return request.getfixturevalue(sandbox.options.flavor)
