"""A page as today's Cloud editor saves it, end to end through the tools: mentions and one-item lists read as
markdown, an unchanged write is a no-op, and an edited list item keeps its editor ids."""

from __future__ import annotations

from pathlib import Path

import pytest
from manage_helpers import Rest, call, unique
from mcp import Client

pytestmark = pytest.mark.anyio

STORAGE = (Path(__file__).resolve().parent.parent / "fixtures" / "storage" / "44_cloud_local_ids.xml").read_text()


async def test_cloud_page_reads_as_markdown_and_an_item_edit_keeps_its_ids(tools: Client, rest: Rest) -> None:
    page = await call(tools, "create_page", title=unique("Cloud shapes"), body=STORAGE, body_format="storage")
    markdown = (await call(tools, "read_page_by_id", page_id=page["id"]))["markdown"]
    assert "](confluence-user:712020:57c87adb-4a35-43b2-961a-5121dec7a24e)" in markdown
    assert "- Only one bullet here" in markdown and "   * one nested step" in markdown

    await call(tools, "update_page_by_id", page_id=page["id"], new_body=markdown)
    assert rest.storage(page["id"]) == STORAGE

    await call(tools, "update_page_by_id", page_id=page["id"],
               new_body=markdown.replace("one nested step", "one nested **step**"))
    item = '<p local-id="0d68fab9fdfb">one nested {}</p>'
    assert rest.storage(page["id"]) == STORAGE.replace(item.format("step"), item.format("<strong>step</strong>"))
