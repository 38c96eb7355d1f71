"""Scoped API tokens: Cloud accepts them only through Atlassian's API gateway (`/ex/confluence/<cloud id>/wiki/...`).

The cloud sandbox plays both: the site (which answers a scoped token 401) and the gateway, with the public
`/_edge/tenant_info` that names the site's cloud id. Requests must go through the gateway, links and web-UI URLs
must keep naming the site, and what cannot work says what to set.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from confluence_mcp.check import check_connection, format_report
from confluence_mcp.confluence.client import ConfluenceClient
from confluence_mcp.errors import AuthenticationFailed, ConfigError, ConfluenceError
from confluence_mcp.sandbox.runner import RunningSandbox, SandboxOptions, start_sandbox

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "manage"))  # manage_helpers
from manage_helpers import call, connect, make_settings

pytestmark = pytest.mark.anyio
SCOPED = "sandbox-scoped-token"


@pytest.fixture(scope="module")
def cloud() -> Iterator[RunningSandbox]:
    with start_sandbox(SandboxOptions(flavor="cloud")) as running:
        yield running


def stats(sandbox: RunningSandbox) -> dict[str, int]:
    return dict(httpx.get(f"{sandbox.admin_url}/stats", timeout=5).json()["by_route"])


def reset(sandbox: RunningSandbox) -> None:
    httpx.post(f"{sandbox.admin_url}/reset-stats", timeout=5).raise_for_status()


def scoped(sandbox: RunningSandbox, toolkit_factory: Any, **credential: Any) -> Any:
    """A scoped-token toolkit whose gateway is another host than the site (localhost vs 127.0.0.1)."""
    return toolkit_factory(sandbox.base_url, "cloud", space="DEMO", token=SCOPED,
                           **{"scoped_token": True, "gateway_url": gateway_url(sandbox), **credential})


def gateway_url(sandbox: RunningSandbox) -> str:
    return sandbox.origin.replace("127.0.0.1", "localhost")


async def test_a_scoped_token_on_the_site_is_told_to_use_the_gateway(cloud: RunningSandbox,
                                                                      toolkit_factory: Any) -> None:
    async with ConfluenceClient(toolkit_factory(cloud.base_url, "cloud", token=SCOPED)) as client:
        with pytest.raises(AuthenticationFailed, match=r"set scoped_token = true \(CONFLUENCE_SCOPED_TOKEN=true\)"):
            await client.get_page("65539")


async def test_scoped_token_requests_go_through_the_gateway(cloud: RunningSandbox, toolkit_factory: Any) -> None:
    reset(cloud)
    async with ConfluenceClient(scoped(cloud, toolkit_factory)) as client:
        page = await client.get_page("65539")
        first = await client.content_search('space = "DEMO" and type = page', limit=2)
        assert first.next is not None
        second = await client.content_search('space = "DEMO" and type = page', limit=2, cursor=first.next)
        created = await client.create_page("DEMO", "Through the gateway", "<p>hello</p>")
        await client.upload_attachment(str(created["id"]), "g.txt", b"gateway bytes", media_type="text/plain")
        listed = (await client.attachments(str(created["id"]))).results
        data = await client.download_attachment(listed[0])
        gateway = client.urls.gateway
    routes = stats(cloud)
    prefix = f"/ex/confluence/{cloud.options.cloud_id}"
    assert gateway == gateway_url(cloud) + prefix
    assert page["title"] and data == b"gateway bytes"
    assert {r["id"] for r in first.results}.isdisjoint(r["id"] for r in second.results)
    assert routes["GET /_edge/tenant_info"] == 1  # looked up once
    rest = [route for route in routes if "/rest/api/" in route or "/api/v2/" in route]
    assert rest and all(route.split(" ", 1)[1].startswith(prefix + "/wiki/") for route in rest), rest
    assert client.web_url(page["_links"]["webui"]).startswith(cloud.base_url + "/")  # links name the site


async def test_check_reports_the_gateway(cloud: RunningSandbox, toolkit_factory: Any) -> None:
    report = await check_connection(scoped(cloud, toolkit_factory))
    assert report.ok, format_report(report)
    assert f"through Atlassian's API gateway ({gateway_url(cloud)}/ex/confluence/" in format_report(report)


async def test_a_configured_cloud_id_needs_no_lookup(cloud: RunningSandbox, toolkit_factory: Any) -> None:
    reset(cloud)
    async with ConfluenceClient(scoped(cloud, toolkit_factory, cloud_id=cloud.options.cloud_id)) as client:
        assert (await client.get_page("65539"))["id"] == "65539"
    assert "GET /_edge/tenant_info" not in stats(cloud)


async def test_an_oauth_access_token_goes_through_the_gateway_as_bearer(cloud: RunningSandbox,
                                                                       toolkit_factory: Any) -> None:
    # OAuth 2.0 (3LO) access tokens, like scoped API tokens, are accepted only through the gateway, as Bearer.
    kit = toolkit_factory(cloud.base_url, "cloud", token=SCOPED, bearer=True, scoped_token=True,
                          gateway_url=gateway_url(cloud), cloud_id=cloud.options.cloud_id)
    async with ConfluenceClient(kit) as client:
        assert (await client.get_page("65539"))["id"] == "65539"
        assert client.urls.gateway is not None


async def test_a_site_without_tenant_info_says_to_set_the_cloud_id(toolkit_factory: Any) -> None:
    with start_sandbox(SandboxOptions(flavor="server")) as server:
        kit = toolkit_factory(server.base_url, "cloud", token=SCOPED, scoped_token=True, gateway_url=server.origin)
        async with ConfluenceClient(kit) as client:
            with pytest.raises(ConfluenceError, match=r"without a cloud id: .*set cloud_id"):
                await client.get_page("65539")

            async def read(errors: list[str]) -> None:
                try:
                    await client.get_page("65539")
                except ConfluenceError as exc:
                    errors.append(str(exc))

            errors: list[str] = []
            async with anyio.create_task_group() as group:  # concurrent requests share the remembered failure
                for _ in range(5):
                    group.start_soon(read, errors)
        assert len(errors) == 5 and stats(server)["GET /_edge/tenant_info"] == 1


async def test_tools_through_the_gateway_link_to_the_site(cloud: RunningSandbox) -> None:
    credential = {"api_token": SCOPED, "scoped_token": True, "gateway_url": gateway_url(cloud)}
    async with connect(cloud, credential) as tools:
        page = await call(tools, "read_page_by_id", page_id="65539")
        found = await call(tools, "search_pages", query="install")
    assert page["url"].startswith(cloud.base_url + "/") and found["results"]
    assert all(hit["url"].startswith(cloud.base_url + "/") for hit in found["results"])


def test_config_checks_scoped_tokens(cloud: RunningSandbox) -> None:
    with pytest.raises(ConfigError, match="scoped_token works with Confluence Cloud only"):
        make_settings(cloud, {"scoped_token": True}, hosting="server").resolved_toolkits()
    with pytest.raises(ConfigError, match="is not a cloud id"):
        make_settings(cloud, {"cloud_id": "my site"}).resolved_toolkits()
    with pytest.raises(ConfigError, match="gateway_url must be an https:// URL"):
        make_settings(cloud, {"gateway_url": "http://gateway.example"}).resolved_toolkits()
    from confluence_mcp.config import load_settings

    settings = load_settings(environ={"CONFLUENCE_URL": "https://acme.atlassian.net", "CONFLUENCE_USERNAME": "a@b.c",
                                      "CONFLUENCE_API_TOKEN": "t", "CONFLUENCE_SCOPED_TOKEN": "true",
                                      "CONFLUENCE_CLOUD_ID": cloud.options.cloud_id})
    credential = settings.resolved_toolkits()[0].credential
    assert credential.scoped_token and credential.cloud_id == cloud.options.cloud_id
