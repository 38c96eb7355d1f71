"""Listings under a page on a Cloud site whose deprecated v1 listings answer 410 Gone.

Children, descendants and comments move to CQL (`/content/search`), attachments to v2, the space read and its
top-level pages to v2 `/spaces`. The same calls are made with v1 answering and with v1 gone, and must give the
same answers; each gone route is asked once, then never again.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from confluence_mcp.confluence.client import ConfluenceClient
from confluence_mcp.errors import BadRequest, NotFound
from confluence_mcp.sandbox.runner import RunningSandbox, SandboxOptions, start_sandbox

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sandbox"))  # sandbox_helpers
from sandbox_helpers import DEPRECATED_V1_LISTING_ROUTES as GONE

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def cloud() -> Iterator[RunningSandbox]:
    with start_sandbox(SandboxOptions(flavor="cloud")) as running:
        yield running


def admin(sandbox: RunningSandbox, path: str, payload: dict[str, Any] | None = None) -> Any:
    response = httpx.post(f"{sandbox.admin_url}/{path}", json=payload or {}, timeout=5)
    response.raise_for_status()
    return response.json() if response.content else None


def by_route(sandbox: RunningSandbox) -> dict[str, int]:
    return dict(httpx.get(f"{sandbox.admin_url}/stats", timeout=5).json()["by_route"])


async def _tree(client: ConfluenceClient) -> dict[str, str]:
    """A parent with a child and a grandchild, and three attachments on the parent (v1 answering)."""
    ids: dict[str, str] = {}
    parent: str | None = None
    for name in ("parent", "child", "grandchild"):
        page = await client.create_page("DEMO", f"{name} {uuid.uuid4().hex[:8]}", f"<p>{name}</p>",
                                        parent_id=parent)
        ids[name] = parent = str(page["id"])
    for index in range(3):
        await client.upload_attachment(ids["parent"], f"file{index}.txt", f"body {index}".encode(),
                                       media_type="text/plain")
    return ids


async def _listings(client: ConfluenceClient, page_id: str) -> dict[str, Any]:
    first = await client.attachments(page_id, limit=2)
    assert first.next is not None
    rest = await client.attachments(page_id, limit=2, cursor=first.next)
    named = await client.attachments(page_id, filename="file1.txt")
    return {
        "children": [c["id"] async for c in client.child_pages(page_id)],
        "descendants": sorted([(d["id"], len(d["ancestors"])) async for d in client.descendant_pages(page_id)]),
        "comments": [c["id"] async for c in client.comments(page_id)],
        "attachments": [(a["title"], a["version"]["number"], a["extensions"]["fileSize"], a["container"]["id"])
                        for a in first.results + rest.results],
        "named": [a["title"] for a in named.results],
        "home": (await client.get_space("DEMO"))["homepage"]["id"],
        "roots": sorted([(r["id"], r["title"], r["type"]) async for r in client.root_pages("DEMO")]),
    }


async def test_listings_answer_the_same_once_v1_is_gone(cloud: RunningSandbox, toolkit_factory: Any) -> None:
    async with ConfluenceClient(toolkit_factory(cloud.base_url, "cloud", space="DEMO")) as client:
        ids = await _tree(client)
        before = await _listings(client, ids["parent"])
    admin(cloud, "faults", {"fail_next": 10_000, "status": 410, "routes": GONE})
    admin(cloud, "reset-stats")
    try:
        async with ConfluenceClient(toolkit_factory(cloud.base_url, "cloud", space="DEMO")) as client:
            after = await _listings(client, ids["parent"])
            again = await _listings(client, ids["parent"])
            stats = by_route(cloud)
            listed = (await client.attachments(ids["parent"], filename="file2.txt")).results[0]
            text = await client.download_attachment(listed)
            via_link = await client.download(listed["_links"]["download"])  # Cloud refuses that path: REST instead
    finally:
        admin(cloud, "faults", {"fail_next": 0, "routes": []})
    assert before["roots"] and {kind for *_, kind in before["roots"]} == {"page"}  # no blog posts
    assert before["descendants"] and len(before["attachments"]) == 3 and before["named"] == ["file1.txt"]
    assert after == before == again
    assert text == via_link == b"body 2"
    for route in GONE:
        assert stats.get(route) == 1, (route, stats)
    assert stats["GET /wiki/api/v2/pages/{id}/attachments"] >= 2 and stats["GET /wiki/rest/api/content/search"] >= 3


async def test_a_v1_cursor_is_refused_once_the_listing_moved(cloud: RunningSandbox, toolkit_factory: Any) -> None:
    async with ConfluenceClient(toolkit_factory(cloud.base_url, "cloud", space="DEMO")) as client:
        ids = await _tree(client)
        first = await client.attachments(ids["parent"], limit=1)
        assert first.next is not None
        admin(cloud, "faults", {"fail_next": 10_000, "status": 410, "routes": GONE})
        try:
            with pytest.raises(BadRequest, match="list again without a cursor"):
                await client.attachments(ids["parent"], limit=1, cursor=first.next)
            restarted = await client.attachments(ids["parent"], limit=1)
            with pytest.raises(BadRequest, match="list again without a cursor"):  # remembered: no v1 call
                await client.attachments(ids["parent"], limit=1, cursor=first.next)
        finally:
            admin(cloud, "faults", {"fail_next": 0, "routes": []})
    assert [a["title"] for a in restarted.results] == ["file0.txt"] and restarted.next is not None


async def test_blog_post_attachments_come_from_the_blog_post_listing(cloud: RunningSandbox,
                                                                     toolkit_factory: Any) -> None:
    async with ConfluenceClient(toolkit_factory(cloud.base_url, "cloud", space="DEMO")) as client:
        blog = "65546"
        await client.upload_attachment(blog, "blog.txt", b"on a blog post", media_type="text/plain")
        admin(cloud, "faults", {"fail_next": 10_000, "status": 410, "routes": GONE})
        try:
            listed = await client.attachments(blog, filename="blog.txt")
        finally:
            admin(cloud, "faults", {"fail_next": 0, "routes": []})
    assert [(a["title"], a["container"]["id"]) for a in listed.results] == [("blog.txt", blog)]


async def test_collecting_every_attachment_survives_the_switch_midway(cloud: RunningSandbox,
                                                                      toolkit_factory: Any) -> None:
    async with ConfluenceClient(toolkit_factory(cloud.base_url, "cloud", space="DEMO")) as client:
        ids = await _tree(client)
        # The first v1 page answers; the next one (its link carries start=) is gone: the collection starts again.
        admin(cloud, "faults", {"fail_next": 10_000, "status": 410, "match": "start=",
                                "routes": ["GET /wiki/rest/api/content/{id}/child/attachment"]})
        try:
            collected = await client.all_attachments(ids["parent"], page_size=2)
        finally:
            admin(cloud, "faults", {"fail_next": 0, "routes": [], "match": ""})
    assert sorted(a["title"] for a in collected) == ["file0.txt", "file1.txt", "file2.txt"]


async def test_a_web_link_to_a_missing_file_is_not_found(cloud: RunningSandbox, toolkit_factory: Any) -> None:
    async with ConfluenceClient(toolkit_factory(cloud.base_url, "cloud", space="DEMO")) as client:
        ids = await _tree(client)
        with pytest.raises(NotFound, match=r"No attachment 'gone\.txt' on page \d+"):
            await client.download(f"{cloud.base_url}/download/attachments/{ids['parent']}/gone.txt?version=1")
        thumbnail = await client.download(f"/download/thumbnails/{ids['parent']}/file1.txt")
    assert thumbnail == b"body 1"
