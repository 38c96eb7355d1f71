"""A TOML configuration as users write it (two credentials, three toolkits, `${ENV}` and `*_file` secrets, custom
headers), served by `build_server` and checked against what the sandboxes actually received (their request log)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from _mcp_fixtures import call
from mcp import Client

from confluence_mcp.config import load_settings
from confluence_mcp.sandbox.runner import RunningSandbox, SandboxOptions, start_sandbox
from confluence_mcp.server import build_server

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def sites() -> Iterator[tuple[RunningSandbox, RunningSandbox]]:
    with start_sandbox(SandboxOptions(flavor="cloud")) as cloud, \
            start_sandbox(SandboxOptions(flavor="server", context_path="/confluence", token="dc-pat")) as server:
        yield cloud, server


def logged(sandbox: RunningSandbox) -> list[dict[str, Any]]:
    return list(httpx.get(f"{sandbox.admin_url}/requests", timeout=10).json()["requests"])


async def test_several_toolkits_send_their_credentials_headers(sites: tuple[RunningSandbox, RunningSandbox],
                                                              tmp_path: Path) -> None:
    cloud, server = sites
    (tmp_path / "pat").write_text("dc-pat\n")
    config = tmp_path / "c.toml"
    config.write_text(f"""
[credentials.cloud]
base_url = "{cloud.base_url}"
username = "sandbox@example.com"
api_token = "${{QA_CLOUD_TOKEN}}"
[credentials.cloud.custom_headers]
X-Proxy-Tenant = "docs"
[credentials.onprem]
base_url = "{server.base_url}"
token_file = "{tmp_path}/pat"
[toolkits.docs]
credential = "cloud"
space = "DEMO"
[toolkits.archive]
credential = "cloud"
space = "ARCHIVE"
read_only = true
retries = 0
[toolkits.dc]
credential = "onprem"
space = "DEMO"
tools = ["dc_read_page_by_id"]
""")
    settings = load_settings(config, environ={"QA_CLOUD_TOKEN": "sandbox-token"})
    for sandbox in sites:
        httpx.post(f"{sandbox.admin_url}/reset-requests", timeout=10).raise_for_status()
    with anyio.fail_after(60):
        async with Client(build_server(settings)) as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            await call(client, "docs_read_page_by_id", {"page_id": "65539"})
            await call(client, "archive_search_pages", {"query": "archive"})
            await call(client, "dc_read_page_by_id", {"page_id": "65539"})
    assert "dc_read_page_by_id" in names and "dc_search_pages" not in names and "archive_delete_page" not in names
    cloud_log, server_log = logged(cloud), logged(server)
    assert cloud_log and server_log
    assert all(entry["headers"].get("x-proxy-tenant") == "docs" for entry in cloud_log), cloud_log
    assert all(entry["headers"].get("authorization") == "Basic" for entry in cloud_log)
    assert all("x-proxy-tenant" not in entry["headers"] for entry in server_log)
    assert all(entry["headers"].get("authorization") == "Bearer" for entry in server_log)
