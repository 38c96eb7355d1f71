"""get_page_id_by_title: the exact title first (pages made elsewhere may hold runs of spaces), then the title as
create_page stores it (whitespace collapsed)."""

from __future__ import annotations

import pytest
from manage_helpers import Rest, call, unique
from mcp import Client

pytestmark = pytest.mark.anyio


async def test_titles_with_runs_of_spaces_are_found_both_ways(tools: Client, rest: Rest) -> None:
    spaced = unique("Release").replace(" ", "  ")
    made_elsewhere = rest.create(spaced, "<p>x</p>")
    found = await call(tools, "get_page_id_by_title", title=spaced)
    assert found["id"] == str(made_elsewhere["id"])
    ours = await call(tools, "create_page", title=unique("Plan  B"), body="x")
    found = await call(tools, "get_page_id_by_title", title="  " + ours["title"].replace(" ", "   ") + " ")
    assert found["id"] == ours["id"]
