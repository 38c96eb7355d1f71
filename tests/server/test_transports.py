"""Real `confluence-mcp` subprocesses: stdio and streamable HTTP, against the sandbox in both flavours, in both
protocol modes; every tool called at least once over each transport."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from _mcp_fixtures import REPO, ToolFailed, call, http_server, sandbox_env, stdio_params
from mcp import Client

from confluence_mcp.config import load_settings
from confluence_mcp.server import build_server

pytestmark = pytest.mark.anyio

READ_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("site_search", {"query": "installation"}),
    ("search_by_title", {"query": "guide"}),
    ("search_pages", {"query": "confluence", "limit": 1}),
    ("get_page_id_by_title", {"title": "Installation Guide"}),
    ("read_page_by_id", {"page_id": "65539"}),
    ("get_pages_with_label", {"label": "guide"}),
    ("list_pages_with_label", {"label": "onboarding"}),
    ("get_page_tree", {"page_id": "65537", "max_depth": 2}),
    ("get_page_attachments", {"page_id": "65539"}),
    ("execute_generic_confluence", {"method": "GET", "relative_url": "/rest/api/space"}),
]


async def exercise(client: Client) -> None:
    names = {t.name for t in (await client.list_tools()).tools}
    assert {name for name, _ in READ_CALLS} <= names
    for name, args in READ_CALLS:
        out = await call(client, name, args)
        assert out, name
    with pytest.raises(ToolFailed, match="outside this toolkit's allowed spaces"):
        await call(client, "search_pages", {"query": "x", "space": "HR"})
    with pytest.raises(ToolFailed, match="Refused"):
        await call(client, "execute_generic_confluence", {"method": "GET", "relative_url": "//evil/x"})


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_stdio_subprocess(flavor_sandbox: Any, mode: str) -> None:
    with anyio.fail_after(60):
        async with Client(stdio_params(sandbox_env(flavor_sandbox)), mode=mode) as client:
            await exercise(client)


async def test_streamable_http_subprocess(flavor_sandbox: Any) -> None:
    with http_server(sandbox_env(flavor_sandbox)) as url:
        with anyio.fail_after(60):
            async with Client(url) as client:
                await exercise(client)
            async with Client(url, mode="legacy") as client:
                assert len((await client.list_tools()).tools) >= len(READ_CALLS)


async def test_http_transport_answers_a_health_check(flavor_sandbox: Any) -> None:
    """`GET /healthz` for load balancers and container probes: 200 without MCP headers, without a session and
    without calling Confluence (a liveness check must not fail because the wiki is slow)."""
    with http_server(sandbox_env(flavor_sandbox)) as url:
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.get(url.removesuffix("/mcp") + "/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_stdio_read_only_hides_writes(flavor_sandbox: Any) -> None:
    env = sandbox_env(flavor_sandbox, CONFLUENCE_MCP_READ_ONLY="true")
    with anyio.fail_after(60):
        async with Client(stdio_params(env)) as client:
            tools = (await client.list_tools()).tools
            hidden = await client.call_tool("delete_page", {"page_id": "65545"})
    assert all(t.annotations and (t.annotations.read_only_hint or t.name == "execute_generic_confluence")
               for t in tools)
    assert hidden.is_error


async def test_a_session_ending_leaves_the_index_to_the_others(tmp_path: Path) -> None:
    """SSE (like the in-memory client) enters the server's lifespan once per connection. The first connection to
    end closed the process-wide index store and stopped the embedded Postgres under every other connected
    session (`PoolClosed` on every index tool until restart); now the last one to leave does."""
    from confluence_mcp.index.pg import embedded_server
    from confluence_mcp.sandbox.runner import start_sandbox

    with start_sandbox() as sandbox:
        settings = load_settings(None, environ={}, overrides={
            "credentials": {"default": {"base_url": sandbox.base_url, "username": "sandbox@example.com",
                                        "api_token": "sandbox-token"}},
            "toolkits": {"default": {"space": "DEMO", "retries": 0}}, "index": {"data_dir": str(tmp_path)}})
        server = build_server(settings)
        with anyio.fail_after(120):
            async with Client(server) as staying:
                await call(staying, "list_collections", {})
                async with Client(server) as leaving:
                    await call(leaving, "list_collections", {})
                listed = await call(staying, "list_collections", {})
            assert not embedded_server(tmp_path / "pg").running  # the last session out stops it
            async with Client(server) as idle:  # ... even when only a session that left earlier used the index
                async with Client(server) as leaving:
                    await call(leaving, "list_collections", {})
                assert embedded_server(tmp_path / "pg").running
                await call(idle, "search_by_title", {"query": "guide"})
    assert listed["collections"] == []
    assert not embedded_server(tmp_path / "pg").running


def test_repo_is_importable_from_subprocess() -> None:
    assert (REPO / "confluence_mcp" / "__main__.py").is_file()
