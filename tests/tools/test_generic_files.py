"""execute_generic_confluence with files and the less common verbs: binary bodies, Cloud's redirected downloads,
DELETE query parameters, bodies given as `params`."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from _mcp_fixtures import TOKEN, USER, ToolFailed, call, make_settings, mcp_client

from confluence_mcp.sandbox.demo import make_png

pytestmark = pytest.mark.anyio
TOOL = "execute_generic_confluence"


@pytest.fixture
def rest(flavor_sandbox: Any) -> Any:
    with httpx.Client(base_url=flavor_sandbox.base_url.rstrip("/") + "/rest/api", auth=(USER, TOKEN),
                      timeout=30) as http:
        yield http


def _page_with_files(http: httpx.Client) -> tuple[str, dict[str, dict[str, Any]]]:
    created = http.post("/content", json={"type": "page", "title": f"Files {uuid.uuid4().hex[:8]}",
                                          "space": {"key": "DEMO"},
                                          "body": {"storage": {"value": "<p>x</p>", "representation": "storage"}}})
    created.raise_for_status()
    page_id = str(created.json()["id"])
    for name, data, kind in (("dot.png", make_png(4, 4, (1, 2, 3), (4, 5, 6)), "image/png"),
                             ("notes.txt", b"plain notes", "text/plain")):
        http.post(f"/content/{page_id}/child/attachment", files={"file": (name, data, kind)},
                  headers={"X-Atlassian-Token": "no-check"}).raise_for_status()
    listed = http.get(f"/content/{page_id}/child/attachment").json()["results"]
    return page_id, {item["title"]: item for item in listed}


async def test_files_come_as_text_or_a_description_never_as_mojibake(flavor_sandbox: Any, rest: Any) -> None:
    page_id, files = _page_with_files(rest)
    cloud = flavor_sandbox.base_url.rstrip("/").endswith("/wiki")
    async with mcp_client(make_settings(flavor_sandbox.base_url)) as client:
        for name, item in files.items():
            # Cloud: the REST endpoint answers 302 to the media host, which is followed; Server: the file link.
            url = (f"/rest/api/content/{page_id}/child/attachment/{item['id']}/download" if cloud
                   else item["_links"]["download"])
            out = await call(client, TOOL, {"method": "GET", "relative_url": url})
            assert out["status"] == 200
            if name == "notes.txt":
                assert out["body"] == "plain notes"
            else:
                assert "body" not in out and "Binary response (image/png, " in out["note"]
        # Other redirects are reported, never followed (an open redirect must not make the server fetch URLs).
        moved = await call(client, TOOL, {"method": "GET", "relative_url": "/x/AQAB"})
        assert moved["status"] == 302 and moved["note"].startswith("Redirect to http") and "body" not in moved
        if cloud:  # Cloud refuses API tokens on the web UI's file links: say so, not "check your token"
            with pytest.raises(ToolFailed, match="does not serve /download/ links") as refused:
                await call(client, TOOL, {"method": "GET", "relative_url": files["dot.png"]["_links"]["download"]})
            assert "expired" not in str(refused.value)


async def test_delete_keeps_params_as_the_query_and_a_write_takes_them_as_its_body(flavor_sandbox: Any,
                                                                                    rest: Any) -> None:
    page_id, _ = _page_with_files(rest)
    async with mcp_client(make_settings(flavor_sandbox.base_url)) as client:
        added = await call(client, TOOL, {"method": "POST", "relative_url": f"/rest/api/content/{page_id}/label",
                                          "params": [{"prefix": "global", "name": "via-params"}]})
        assert [label["name"] for label in added["body"]["results"]] == ["via-params"]
        gone = await call(client, TOOL, {"method": "DELETE", "relative_url": f"/rest/api/content/{page_id}/label",
                                         "params": {"name": "via-params"}})
        assert gone["status"] == 204
        with pytest.raises(ToolFailed, match="GET requests carry no body"):
            await call(client, TOOL, {"method": "GET", "relative_url": "/rest/api/content",
                                      "body": {"spaceKey": "DEMO"}})
    assert rest.get(f"/content/{page_id}/label").json()["results"] == []
