"""Write tools take a page as reads do: its id, its web URL or its tiny link, and a page named twice in one bulk
update is refused whatever forms name it."""

from __future__ import annotations

import base64

import pytest
from manage_helpers import Rest, call, refused, unique
from mcp import Client

from confluence_mcp.sandbox.runner import RunningSandbox

pytestmark = pytest.mark.anyio


def _forms(sandbox: RunningSandbox, rest: Rest, page_id: str) -> tuple[str, str]:
    links = rest.page(page_id, expand="version")["_links"]
    return f"{sandbox.base_url}{links['webui']}", f"{sandbox.base_url}{links['tinyui']}"


async def test_pages_are_named_by_url_or_tiny_link(tools: Client, rest: Rest, sandbox: RunningSandbox) -> None:
    page = await call(tools, "create_page", title=unique("Refs"), body="first")
    url, tiny = _forms(sandbox, rest, page["id"])
    updated = await call(tools, "update_page_by_id", page_id=url, new_body="second")
    assert updated["id"] == page["id"] and "second" in rest.storage(page["id"])
    labelled = await call(tools, "update_labels", page_ids=[tiny], new_labels=["via-url"])
    assert labelled["succeeded"] == 1 and "via-url" in rest.labels(page["id"])
    attached = await call(tools, "add_file_to_page", page_id=tiny, filename="a.txt", show_on_page=False,
                          file_base64=base64.b64encode(b"hello").decode())
    assert attached["id"] == page["id"]
    bulk = await call(tools, "update_pages", page_ids=[url], new_contents=["third"])
    assert bulk["succeeded"] == 1 and "third" in rest.storage(page["id"])
    message = await refused(tools, "update_pages", page_ids=[page["id"], tiny], new_contents=["a", "b"])
    assert f"lists {page['id']} more than once" in message
    deleted = await call(tools, "delete_page", page_id=tiny)
    assert deleted["id"] == page["id"] and deleted["status"] == "trashed"


async def test_a_url_of_another_site_is_refused(tools: Client, rest: Rest) -> None:
    page = await call(tools, "create_page", title=unique("Elsewhere"), body="x")
    message = await refused(tools, "update_page_by_id", page_id="https://other.example.com/wiki/x/AAAB",
                            new_body="y")
    assert "not on the configured Confluence site" in message
    assert "x" in rest.storage(page["id"])


async def test_a_parent_by_url_and_trashed_roots_named_as_such(tools: Client, rest: Rest,
                                                               sandbox: RunningSandbox) -> None:
    parent = await call(tools, "create_page", title=unique("Parent"), body="p")
    _, tiny = _forms(sandbox, rest, parent["id"])
    child = await call(tools, "create_page", title=unique("Child"), body="c", parent_id=tiny)
    assert rest.page(child["id"], expand="ancestors")["ancestors"][-1]["id"] == parent["id"]
    await call(tools, "delete_page", page_id=parent["id"])
    for tool in ("get_page_tree", "get_page_attachments"):
        message = await refused(tools, tool, page_id=parent["id"])
        assert f"Page {parent['id']} is in the trash" in message, tool
