"""The in-process description cache is shared by every toolkit of the server: an attachment revision is only the
same image on the same site, so one site's descriptions never answer for another's (a staging copy of a site has
the same page and attachment ids, file names, versions and even modification dates)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest
from _image_site import TOKEN, USER, Site, make_settings
from _vision_stub import RunningServer, image_urls
from mcp import Client

from confluence_mcp.sandbox.demo import make_png
from confluence_mcp.sandbox.runner import SandboxOptions, start_sandbox
from confluence_mcp.server import build_server
from confluence_mcp.tools.images import CACHE

pytestmark = pytest.mark.anyio
OTHER_PNG = make_png(12, 12, (0, 200, 0), (0, 0, 0))


@pytest.fixture
def twin_sites() -> Iterator[tuple[Site, Site]]:
    """Two sandboxes whose architecture.png has the same id and download link, with different bytes."""
    with start_sandbox(SandboxOptions(flavor="cloud")) as first, \
            start_sandbox(SandboxOptions(flavor="cloud")) as second:
        sites = []
        for sandbox in (first, second):
            with httpx.Client(base_url=sandbox.base_url + "/rest/api", auth=(USER, TOKEN), timeout=30) as http:
                page = http.get("/content", params={"spaceKey": "DEMO", "title": "Architecture Overview"}).json()
            sites.append(Site(sandbox, {"architecture": str(page["results"][0]["id"])}))
        originals = [next(a for a in site.sandbox.store.attachments.values() if a.filename == "architecture.png")
                     for site in sites]
        assert originals[0].id == originals[1].id and sites[0].pages == sites[1].pages
        copy = originals[1].current
        copy.when, copy.data = originals[0].current.when, OTHER_PNG
        yield sites[0], sites[1]


async def test_a_revision_described_on_one_site_is_described_afresh_on_another(
        twin_sites: tuple[Site, Site], vision: RunningServer) -> None:
    CACHE.clear()
    pages: list[dict[str, Any]] = []
    for site in twin_sites:
        async with Client(build_server(make_settings(site, llm_url=vision.base_url))) as client:
            with anyio.fail_after(60):
                before = len(vision.requests)
                result = await client.call_tool("get_page_with_image_descriptions",
                                                {"page_id": site.pages["architecture"]})
            assert not result.is_error and result.structured_content is not None
            pages.append(result.structured_content)
            # Each site's own image went to the LLM.
            assert len(vision.requests) == before + 1
            sent = base64.b64decode(image_urls(vision.requests[-1])[0].split(",", 1)[1])
            assert sent.startswith(b"\x89PNG") and (sent == OTHER_PNG) == (site is twin_sites[1])
    assert all(page["images"][0]["described"] for page in pages)
