"""Real `confluence-mcp` subprocesses: stdio and streamable HTTP, against the sandbox in both flavours, in both
protocol modes; every tool called at least once over each transport."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest
from _mcp_fixtures import REPO, ToolFailed, call, http_server, sandbox_env, stdio_params
from mcp import Client

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


def test_repo_is_importable_from_subprocess() -> None:
    assert (REPO / "confluence_mcp" / "__main__.py").is_file()
