"""Images a page names by URL on the site itself are fetched with the server's credentials, so the allowed-spaces
policy must hold for them as it does for `ri:attachment` references (page content is attacker-controlled)."""

from __future__ import annotations

import uuid
from typing import Any

import anyio
import httpx
import pytest
from _image_site import TOKEN, USER, Site, make_settings
from _vision_stub import RunningServer

from confluence_mcp.server import build_server
from confluence_mcp.tools.images import CACHE

pytestmark = pytest.mark.anyio
TOOL = "get_page_with_image_descriptions"


def _page_with(site: Site, storage: str) -> str:
    body = {"type": "page", "title": f"URL images {uuid.uuid4().hex[:8]}", "space": {"key": "DEMO"},
            "body": {"storage": {"value": storage, "representation": "storage"}}}
    with httpx.Client(base_url=site.base_url, auth=(USER, TOKEN), timeout=30) as http:
        response = http.post("/rest/api/content", json=body)
        response.raise_for_status()
        return str(response.json()["id"])


async def _images(site: Site, page_id: str, **toolkit: Any) -> list[dict[str, Any]]:
    from mcp import Client

    CACHE.clear()
    async with Client(build_server(make_settings(site, **toolkit))) as client:
        with anyio.fail_after(60):
            result = await client.call_tool(TOOL, {"page_id": page_id})
    assert not result.is_error and result.structured_content is not None, result.content
    return list(result.structured_content["images"])


async def test_same_site_url_image_of_another_space_is_refused(site: Site, vision: RunningServer) -> None:
    """A DEMO page showing ARCHIVE's attachment by URL (web download link, REST download link, with and without
    the site path): a toolkit allowed DEMO only must not download it, nor send it to the LLM."""
    archive = site.pages["archive"]
    with httpx.Client(base_url=site.base_url, auth=(USER, TOKEN), timeout=30) as http:
        attachment = http.get(f"/rest/api/content/{archive}/child/attachment").json()["results"][0]["id"]
    links = [f"{site.base_url}/download/attachments/{archive}/old.png",
             f"/download/thumbnails/{archive}/old.png?version=1",
             f"{site.base_url}/rest/api/content/{archive}/child/attachment/{attachment}/download"]
    page = _page_with(site, "".join(f'<p><ac:image><ri:url ri:value="{link}"/></ac:image></p>' for link in links))
    before = len(vision.requests)
    images = await _images(site, page, allowed_spaces=["DEMO"], llm_url=vision.base_url)
    assert len(vision.requests) == before
    assert [i["filename"] for i in images] == ["old.png", "old.png", "download"]
    for image in images:
        assert not image["described"] and "allowed spaces" in image["error"], image
    # The same page read by a toolkit allowed both spaces describes the images.
    images = await _images(site, page, allowed_spaces=["DEMO", "ARCHIVE"], llm_url=vision.base_url)
    assert all(i["described"] for i in images), images


async def test_same_site_url_that_is_no_attachment_is_not_fetched_for_a_confined_toolkit(
        site: Site, vision: RunningServer) -> None:
    """Other same-site paths are not attachments whose space could be checked: a confined toolkit does not send its
    credentials there on the page's say-so."""
    page = _page_with(site, '<p><ac:image><ri:url ri:value="/rest/api/space/ARCHIVE"/></ac:image></p>')
    site.reset_stats()
    images = await _images(site, page, allowed_spaces=["DEMO"], llm_url=vision.base_url)
    (image,) = images
    assert not image["described"] and "not downloaded" in image["error"], image
    assert "GET /wiki/rest/api/space/ARCHIVE" not in str(site.stats())
