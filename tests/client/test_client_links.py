"""Links, cursors and downloads: next links resolve without double /wiki, cursors cannot be forged,
credentials never leave the site. Uses MockTransport handlers that answer like a paginating server."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from confluence_mcp.confluence.client import ConfluenceClient
from confluence_mcp.confluence.urls import Api, SiteUrls, normalise_site_url
from confluence_mcp.confluence.weblinks import space_key_of
from confluence_mcp.errors import BadRequest, ConfluenceError, PolicyError

pytestmark = pytest.mark.anyio


def test_site_url_normalisation() -> None:
    assert normalise_site_url("https://x.atlassian.net", "cloud") == "https://x.atlassian.net/wiki"
    assert normalise_site_url("https://x.atlassian.net/wiki/", "cloud") == "https://x.atlassian.net/wiki"
    assert normalise_site_url("https://x.atlassian.net/wiki/rest/api", "cloud") == "https://x.atlassian.net/wiki"
    assert normalise_site_url("http://h:8090/confluence/", "server") == "http://h:8090/confluence"
    assert normalise_site_url("http://h:8090/rest/api/", "server") == "http://h:8090"



def test_space_key_of_content() -> None:
    webui = {"_links": {"webui": "/spaces/WEB/pages/1/T"}}
    assert space_key_of({"space": {"key": "EXP"}, "_expandable": {"space": "/rest/api/space/LNK"}, **webui}) == "EXP"
    # Listings that do not expand `space` (the index's) still name it in `_expandable`.
    assert space_key_of({"_expandable": {"space": "/wiki/rest/api/space/~jane"}, **webui}) == "~jane"
    assert space_key_of({"space": {"name": "no key"}, "_expandable": {"space": ""}, **webui}) == "WEB"
    assert space_key_of(webui, "https://x/wiki/display/FIRST", None) == "FIRST"  # fallbacks before webui
    assert space_key_of({"_links": {"webui": "/display/~bob/Page"}}) == "~bob"
    assert space_key_of({"_links": {"webui": "/pages/viewpage.action?pageId=1"}}, None) is None
    assert space_key_of({}) is None

def test_link_resolution() -> None:
    cloud = SiteUrls("https://x.atlassian.net/wiki")
    assert cloud.origin_relative("/rest/api/search?cursor=a") == "/wiki/rest/api/search?cursor=a"
    assert cloud.origin_relative("/wiki/api/v2/pages?cursor=b") == "/wiki/api/v2/pages?cursor=b"
    assert cloud.origin_relative("https://x.atlassian.net/wiki/rest/api/x") == "/wiki/rest/api/x"
    assert cloud.origin_relative("https://x.atlassian.net:443/wiki/x") == "/wiki/x"
    assert cloud.origin_relative("https://evil.example/wiki/x") is None
    assert cloud.origin_relative("//evil.example/wiki/x") is None
    server = SiteUrls("http://h:8090/confluence")
    assert server.origin_relative("rest/api/content/1/child/page?start=5") == (
        "/confluence/rest/api/content/1/child/page?start=5")
    assert server.web_url("/display/DOCS/Home") == "http://h:8090/confluence/display/DOCS/Home"
    assert cloud.web_url(None) is None
    with pytest.raises(ValueError):
        cloud.url("https://evil.example/x")


def paging_handler(total: int, style: str) -> Any:
    """A listing of `total` items whose next links use the given style."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        limit = int(request.url.params.get("limit", 25))
        start = int(request.url.params.get("start", request.url.params.get("cursor", "0") or 0))
        items = [{"id": str(i)} for i in range(start, min(total, start + limit))]
        links: dict[str, str] = {"base": "https://x.atlassian.net/wiki", "context": "/wiki"}
        if start + limit < total:
            nxt = start + limit
            links["next"] = {
                "v1": f"/rest/api/content/search?cql=type%3Dpage&limit={limit}&start={nxt}",
                "dc-no-slash": f"rest/api/content/search?cql=type%3Dpage&limit={limit}&start={nxt}",
                "v2": f"/wiki/api/v2/pages?limit={limit}&cursor={nxt}",
                "foreign": f"https://evil.example/wiki/rest/api/content/search?start={nxt}",
            }[style]
        return httpx.Response(200, json={"results": items, "size": len(items), "_links": links,
                                         "totalSize": total})

    handler.seen = seen  # type: ignore[attr-defined]
    return handler


@pytest.mark.parametrize("style", ["v1", "dc-no-slash", "v2"])
async def test_paginate_follows_next_to_the_end(toolkit_factory: Any, style: str) -> None:
    handler = paging_handler(23, style)
    async with ConfluenceClient(toolkit_factory("https://x.atlassian.net/wiki"),
                                transport=httpx.MockTransport(handler)) as client:
        api: Api = "v2" if style == "v2" else "v1"
        ids = [item["id"] async for item in client.paginate("content/search", api=api, page_size=5)]
    assert ids == [str(i) for i in range(23)]
    assert all(not r.url.path.startswith("/wiki/wiki") for r in handler.seen)
    assert len(handler.seen) == 5


async def test_paginate_respects_max_items_and_foreign_links(toolkit_factory: Any) -> None:
    handler = paging_handler(100, "v1")
    async with ConfluenceClient(toolkit_factory("https://x.atlassian.net"),
                                transport=httpx.MockTransport(handler)) as client:
        ids = [item["id"] async for item in client.paginate("content/search", page_size=10, max_items=15)]
    assert len(ids) == 15 and len(handler.seen) == 2
    foreign = paging_handler(100, "foreign")
    async with ConfluenceClient(toolkit_factory("https://x.atlassian.net"),
                                transport=httpx.MockTransport(foreign)) as client:
        ids = [item["id"] async for item in client.paginate("content/search", page_size=10)]
    assert len(ids) == 10 and all(r.url.host == "x.atlassian.net" for r in foreign.seen)


async def test_search_cursor_round_trip_and_tampering(toolkit_factory: Any) -> None:
    handler = paging_handler(12, "v1")
    transport = httpx.MockTransport(handler)
    async with ConfluenceClient(toolkit_factory("https://x.atlassian.net/wiki"), transport=transport) as client:
        first = await client.content_search("type=page", limit=5)
        assert first.next and first.total == 12
        second = await client.content_search("type=page", limit=5, cursor=first.next)
        assert [r["id"] for r in second.results] == ["5", "6", "7", "8", "9"]
        third = await client.content_search("type=page", limit=5, cursor=second.next)
        assert third.next is None and len(third.results) == 2

        _body, signature = first.next.split(".")
        forged_link = "/wiki/rest/api/content/search?cql=space%3DSECRET&start=5"
        forged = base64.urlsafe_b64encode(forged_link.encode()).decode().rstrip("=") + "." + signature
        with pytest.raises(BadRequest, match="not issued by this server"):
            await client.content_search("type=page", limit=5, cursor=forged)
        with pytest.raises(BadRequest, match="malformed"):
            await client.content_search("type=page", limit=5, cursor="garbage")
        with pytest.raises(BadRequest, match="different query"):
            await client.content_search("space=OTHER", limit=5, cursor=first.next)
        with pytest.raises(BadRequest, match="different listing"):
            await client.attachments("1", limit=5, cursor=first.next)
        # A search that fell back to /content/search continues there with its cursor; the query must still match.
        assert [r["id"] for r in (await client.search("type=page", limit=5, cursor=first.next)).results] == \
            ["5", "6", "7", "8", "9"]
        with pytest.raises(BadRequest, match="different query"):
            await client.search("space=OTHER", limit=5, cursor=first.next)

    # The same credential after a restart accepts its own cursors; another secret does not.
    async with ConfluenceClient(toolkit_factory("https://x.atlassian.net/wiki"), transport=transport) as again:
        assert (await again.content_search("type=page", limit=5, cursor=first.next)).results
    async with ConfluenceClient(toolkit_factory("https://x.atlassian.net/wiki", token="other"),
                                transport=transport) as other:
        with pytest.raises(BadRequest):
            await other.content_search("type=page", limit=5, cursor=first.next)


async def test_download_stays_on_the_site(toolkit_factory: Any) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "media.example":
            return httpx.Response(200, content=b"binary")
        if request.url.path.endswith("/download"):
            return httpx.Response(302, headers={"Location": "https://media.example/file?token=signed"})
        return httpx.Response(200, content=b"local:" + request.url.path.encode())

    async with ConfluenceClient(toolkit_factory("https://x.atlassian.net/wiki"),
                                transport=httpx.MockTransport(handler)) as client:
        # (`/download/attachments/...` links go through the REST endpoint on Cloud: test_client_listing_fallback)
        assert await client.download("/download/export/a.pdf") == b"local:/wiki/download/export/a.pdf"
        assert await client.download("/wiki/download/export/a.pdf") == b"local:/wiki/download/export/a.pdf"
        assert await client.download("https://x.atlassian.net/wiki/download/export/b.pdf") == (
            b"local:/wiki/download/export/b.pdf")
        with pytest.raises(PolicyError, match="only links on the Confluence site"):
            await client.download("https://evil.example/steal")
        assert len(seen) == 3
        assert await client.download("/rest/api/content/1/child/attachment/att9/download") == b"binary"
    redirected = seen[-1]
    assert redirected.url.host == "media.example"
    assert "authorization" not in redirected.headers
    assert seen[-2].headers["authorization"].startswith("Basic ")


async def test_redirects_on_the_gateway_keep_credentials_and_others_do_not(toolkit_factory: Any) -> None:
    seen: list[httpx.Request] = []
    gateway = "https://api.example/ex/confluence/5f3c8e1a-2b4d-4c6e-9a8b-7d1e0f2a3b4c"

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        url = str(request.url)
        if url == "https://x.atlassian.net/_edge/tenant_info":
            return httpx.Response(200, json={"cloudId": gateway.rsplit("/", 1)[1]})
        if url.endswith("/att9/download"):  # on the gateway, to another gateway path
            return httpx.Response(302, headers={"Location": f"{gateway}/wiki/rest/api/content/1/child/attachment/att9"
                                                            "/download?step=2"})
        if url.endswith("step=2"):
            return httpx.Response(302, headers={"Location": "https://media.example/file?token=signed"})
        return httpx.Response(200, content=b"binary")

    kit = toolkit_factory("https://x.atlassian.net/wiki", scoped_token=True, gateway_url="https://api.example")
    async with ConfluenceClient(kit, transport=httpx.MockTransport(handler)) as client:
        data = await client.download_attachment({"id": "att9", "container": {"id": "1"}})
    assert data == b"binary"
    download = f"{gateway}/wiki/rest/api/content/1/child/attachment/att9/download"
    assert [str(r.url).split("?")[0] for r in seen] == [
        "https://x.atlassian.net/_edge/tenant_info", download, download, "https://media.example/file"]
    assert "authorization" not in seen[0].headers and "authorization" not in seen[3].headers
    assert seen[1].headers["authorization"] == seen[2].headers["authorization"] != ""


async def test_an_upload_answered_without_json_is_an_actionable_error(toolkit_factory: Any) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json={"results": []})
        return httpx.Response(200, content=b"<html>proxy login</html>", headers={"content-type": "text/html"})

    async with ConfluenceClient(toolkit_factory("https://x.atlassian.net/wiki"),
                                transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(ConfluenceError, match=r"non-JSON content \(text/html\); check base_url"):
            await client.upload_attachment("1", "a.txt", b"x")


async def test_a_cloud_id_lookup_that_failed_on_the_way_is_tried_again(toolkit_factory: Any) -> None:
    answers = iter([httpx.Response(503), httpx.Response(200, json={"cloudId": "5f3c8e1a-2b4d-4c6e-9a8b-7d1e0f2a3b4c"})])

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/_edge/tenant_info":
            return next(answers)
        return httpx.Response(200, json={"id": "1", "type": "page", "title": "T"})

    kit = toolkit_factory("https://x.atlassian.net/wiki", scoped_token=True, gateway_url="https://api.example")
    async with ConfluenceClient(kit, transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(ConfluenceError, match=r"answered HTTP 503 .*try again shortly"):
            await client.get_page("1")
        assert (await client.get_page("1"))["title"] == "T"  # not remembered: the next request asks again
        assert client.urls.gateway == "https://api.example/ex/confluence/5f3c8e1a-2b4d-4c6e-9a8b-7d1e0f2a3b4c"
