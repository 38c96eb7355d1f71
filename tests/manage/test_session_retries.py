"""What an agent's multi-step session runs into: purging a page it already trashed, a delete or an update resent
after it landed, a bulk update with one unusable reference, a section named as the markdown shows its heading."""

from __future__ import annotations

import pytest
from manage_helpers import Rest, call, refused, unique
from mcp import Client

pytestmark = pytest.mark.anyio


async def test_a_trashed_page_can_be_purged_and_a_second_delete_is_a_no_op(tools: Client, rest: Rest) -> None:
    page = await call(tools, "create_page", title=unique("Trash"), body="bye")
    await call(tools, "delete_page", page_id=page["id"])
    again = await call(tools, "delete_page", page_id=page["id"])
    assert again["status"] == "trashed" and "Already in the trash" in again["note"]
    assert rest.page(page["id"], expand="version", status="trashed")["status"] == "trashed"
    purged = await call(tools, "delete_page", page_id=page["id"], purge=True)
    assert purged["status"] == "purged"
    assert rest.status(page["id"], status="trashed") == 404
    assert "was not found" in await refused(tools, "delete_page", page_id=page["id"], purge=True)


async def test_an_update_resent_with_its_old_expected_version_is_a_no_op(tools: Client, rest: Rest) -> None:
    page = await call(tools, "create_page", title=unique("Resend"), body="## Notes\n\nfirst")
    args = {"page_id": page["id"], "section": "Notes", "new_body": "second", "expected_version": 1}
    assert (await call(tools, "update_page_by_id", **args))["version"] == 2
    again = await call(tools, "update_page_by_id", **args)
    assert again["version"] == 2 and "already holds this content" in again["note"] and rest.version(page["id"]) == 2
    # A different edit based on the old version is still a conflict, and writes nothing.
    message = await refused(tools, "update_page_by_id", **{**args, "new_body": "third"})
    assert "based on version 1" in message and "second" in rest.storage(page["id"]) and rest.version(page["id"]) == 2


async def test_bulk_update_reports_an_unusable_reference_as_its_own_item(tools: Client, rest: Rest) -> None:
    page = await call(tools, "create_page", title=unique("Bulk"), body="same")
    out = await call(tools, "update_pages", page_ids=[page["id"], "not-a-page", "https://other.example.com/x/AB"],
                     new_contents=["same", "x", "y"])
    assert [item["ok"] for item in out["results"]] == [True, False, False]
    assert "No change" in out["results"][0]["note"] and rest.version(page["id"]) == 1
    assert "Cannot find a page id in 'not-a-page'" in out["results"][1]["error"]
    assert "not on the configured Confluence site" in out["results"][2]["error"]


async def test_a_section_is_found_by_its_heading_as_read_in_markdown(tools: Client, rest: Rest) -> None:
    body = "## The `sg` tool\n\nold\n\n## CONFIG_FILE **notes**\n\nkeep"
    page = await call(tools, "create_page", title=unique("Marked"), body=body)
    read = await call(tools, "read_page_by_id", page_id=page["id"], section="The `sg` tool")
    assert read["markdown"].startswith("## The `sg` tool") and "keep" not in read["markdown"]
    await call(tools, "update_page_by_id", page_id=page["id"], section="CONFIG\\_FILE **notes**", new_body="new")
    stored = rest.storage(page["id"])
    assert "<p>old</p>" in stored and "<p>new</p>" in stored and "keep" not in stored
