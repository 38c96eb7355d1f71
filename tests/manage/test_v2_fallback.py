"""A Cloud site where the deprecated v1 page endpoints answer 410 Gone: every page operation moves to REST v2.

The v1 routes are made to answer 410 through the sandbox's fault plan (`routes`); the tools are then used as
an agent would, and what landed is checked with plain REST once the faults are lifted. Server/DC has no v2 API:
there a 410 is reported, never worked around.
"""

from __future__ import annotations

import base64
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from manage_helpers import Rest, call, connect, refused, unique

from confluence_mcp.sandbox.runner import RunningSandbox, SandboxOptions, start_sandbox

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sandbox"))  # sandbox_helpers
from sandbox_helpers import DEPRECATED_V1_LISTING_ROUTES as GONE_LISTINGS
from sandbox_helpers import DEPRECATED_V1_PAGE_ROUTES as GONE

pytestmark = pytest.mark.anyio


@pytest.fixture
def cloud() -> Iterator[RunningSandbox]:
    with start_sandbox(SandboxOptions(flavor="cloud")) as running:
        yield running


async def test_page_writes_and_title_lookups_move_to_v2_once_v1_is_gone(cloud: RunningSandbox) -> None:
    rest = Rest(cloud)
    parent = rest.create(unique("Parent"), "<p>parent</p>")
    rest.faults(fail_next=10_000, status=410, routes=GONE)
    rest.reset_stats()
    title = unique("Through v2")
    async with connect(cloud) as tools:
        created = await call(tools, "create_page", title=title, body="First **draft**.", parent_title=parent["title"],
                             labels=["fallback"])
        page_id = created["id"]
        read = await call(tools, "read_page_by_id", page_id=page_id)
        renamed = await call(tools, "update_page_by_title", page_title=title, new_title=f"{title} renamed",
                             new_body="Second *take*.", version_message="via v2")
        relabelled = await call(tools, "update_page_by_id", page_id=page_id, new_labels=["fallback", "again"])
        blog = await call(tools, "update_page_by_id", page_id="65546", new_body="A blog post, edited.")
        found = await call(tools, "get_page_id_by_title", title=f"{title} renamed")
        await call(tools, "delete_page", page_id=page_id)
        gone_blog = await call(tools, "delete_page", page_id="65546", purge=True)
    stats = rest.requests_by_route()
    rest.faults(fail_next=0, routes=[])

    assert read["markdown"] == "First **draft**." and read["parent_id"] == parent["id"]
    assert sorted(read["labels"]) == ["fallback", "via-mcp"]
    assert renamed["version"] == 2 and found["id"] == page_id
    assert sorted(relabelled["labels"]) == ["again", "fallback", "via-mcp"]
    assert blog["version"] >= 2 and gone_blog["id"] == "65546"
    stored = rest.page(page_id, status="trashed")
    assert stored["title"] == f"{title} renamed" and stored["version"]["number"] == 2
    assert "<em>take</em>" in stored["body"]["storage"]["value"]
    assert stored["version"].get("message") == "via v2"
    assert rest.status("65546", status="trashed") == 404  # purged
    for route in GONE:  # each v1 route answered 410 once, then was never asked again
        assert stats.get(route) == 1, (route, stats)
    assert stats["POST /wiki/api/v2/pages"] == 1 and stats["PUT /wiki/api/v2/pages/{id}"] == 1
    assert stats["PUT /wiki/api/v2/blogposts/{id}"] == 1 and stats["GET /wiki/api/v2/pages/{id}/labels"] >= 1


async def test_trees_attachments_and_homepages_work_with_all_of_v1_gone(cloud: RunningSandbox) -> None:
    rest = Rest(cloud)
    rest.faults(fail_next=10_000, status=410, routes=GONE + GONE_LISTINGS)
    files = {f"f{index}.txt": base64.b64encode(f"file {index}".encode()).decode() for index in range(3)}
    async with connect(cloud) as tools:
        top = await call(tools, "create_page", title=unique("Top"), body="top")  # under the homepage (v2 space)
        child = await call(tools, "create_page", title=unique("Child"), body="child", parent_id=top["id"])
        grandchild = await call(tools, "create_page", title=unique("Grandchild"), body="g", parent_id=child["id"])
        for name, data in files.items():
            await call(tools, "add_file_to_page", page_id=top["id"], filename=name, file_base64=data,
                       show_on_page=False)
        again = await call(tools, "add_file_to_page", page_id=top["id"], filename="f0.txt", show_on_page=False,
                           file_base64=base64.b64encode(b"file 0, second version").decode())
        tree = await call(tools, "get_page_tree", page_id=top["id"])
        space_tree = await call(tools, "get_page_tree", max_depth=2)
        first = await call(tools, "get_page_attachments", page_id=top["id"], limit=2)
        second = await call(tools, "get_page_attachments", page_id=top["id"], limit=2, cursor=first["next"])
    stats = rest.requests_by_route()
    rest.faults(fail_next=0, routes=[])

    home = rest.page(top["id"])["ancestors"]
    assert [a["id"] for a in home] == [str(rest.http.get("/space/DEMO", params={"expand": "homepage"})
                                           .json()["homepage"]["id"])]
    assert [(n["id"], n["parent_id"], n["depth"]) for n in tree["pages"]] == [
        (child["id"], top["id"], 1), (grandchild["id"], child["id"], 2)]
    assert [(n["id"], n["depth"]) for n in space_tree["pages"] if n["id"] in (home[0]["id"], top["id"])] == [
        (home[0]["id"], 1), (top["id"], 2)]
    listed = first["attachments"] + second["attachments"]
    assert sorted(a["title"] for a in listed) == ["f0.txt", "f1.txt", "f2.txt"] and "next" not in second
    assert {a["title"]: a["version"] for a in listed}["f0.txt"] == 2 and again["id"] == top["id"]
    for route in ("GET /wiki/rest/api/space/DEMO/content/page", "GET /wiki/rest/api/space/DEMO",
                  "GET /wiki/rest/api/content/{id}/child/attachment"):  # the listings these tools use
        assert stats.get(route) == 1, (route, stats)


async def test_server_reports_a_410_instead_of_working_around_it() -> None:
    with start_sandbox(SandboxOptions(flavor="server")) as server:
        Rest(server).faults(fail_next=100, status=410, routes=["POST /rest/api/content"])
        async with connect(server) as tools:
            message = await refused(tools, "create_page", title=unique(), body="x")
    assert "410" in message
