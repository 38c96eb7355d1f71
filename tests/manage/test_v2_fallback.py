"""A Cloud site where the deprecated v1 page endpoints answer 410 Gone: every page operation moves to REST v2.

The v1 routes are made to answer 410 through the sandbox's fault plan (`routes`); the tools are then used as
an agent would, and what landed is checked with plain REST once the faults are lifted. Server/DC has no v2 API:
there a 410 is reported, never worked around.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from manage_helpers import Rest, call, connect, refused, unique

from confluence_mcp.sandbox.runner import RunningSandbox, SandboxOptions, start_sandbox

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sandbox"))  # sandbox_helpers
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


async def test_server_reports_a_410_instead_of_working_around_it() -> None:
    with start_sandbox(SandboxOptions(flavor="server")) as server:
        Rest(server).faults(fail_next=100, status=410, routes=["POST /rest/api/content"])
        async with connect(server) as tools:
            message = await refused(tools, "create_page", title=unique(), body="x")
    assert "410" in message
