"""A layout page end to end: read as markdown markers, one cell edited in markdown, the layout written back whole."""

from __future__ import annotations

import pytest
from manage_helpers import Rest, call, refused, unique
from mcp import Client

pytestmark = pytest.mark.anyio

STORAGE = ('<ac:layout><ac:layout-section ac:type="two_equal" ac:breakout-mode="wide" ac:local-id="s1">'
           '<ac:layout-cell ac:local-id="c1"><h2>Plan</h2><p local-id="p1">old plan</p></ac:layout-cell>'
           '<ac:layout-cell ac:local-id="c2"><ac:structured-macro ac:name="toc" ac:macro-id="m1"/>'
           "<p>right</p></ac:layout-cell></ac:layout-section>"
           '<ac:layout-section ac:type="single"><ac:layout-cell><p/></ac:layout-cell></ac:layout-section>'
           "</ac:layout><h2>After</h2><p>tail</p>")


async def test_layout_page_reads_as_markers_and_a_cell_edit_keeps_the_layout(tools: Client, rest: Rest) -> None:
    page = await call(tools, "create_page", title=unique("Layout"), body=STORAGE, body_format="storage")
    read = await call(tools, "read_page_by_id", page_id=page["id"])
    markdown = read["markdown"]
    assert markdown.startswith(":::layout two_equal breakout-mode=wide\n\n## Plan\n\nold plan\n\n:::cell\n\n"
                               "```confluence-storage macro=toc\n")
    assert "\n\n:::section single\n\n:::\n\n## After\n\ntail" in markdown

    await call(tools, "update_page_by_id", page_id=page["id"], new_body=markdown.replace("old plan", "new **plan**"))
    after = rest.storage(page["id"])
    # The edited paragraph keeps its editor id.
    assert '<ac:layout-cell ac:local-id="c1"><h2>Plan</h2><p local-id="p1">new <strong>plan</strong></p>' \
           "</ac:layout-cell>" in after
    # The other cells, the sections' ids and widths and the blocks after the layout are as stored.
    assert after == STORAGE.replace('<p local-id="p1">old plan</p>', '<p local-id="p1">new <strong>plan</strong></p>')

    again = await call(tools, "read_page_by_id", page_id=page["id"])
    assert again["markdown"] == markdown.replace("old plan", "new **plan**")


async def test_section_edit_before_a_layout_keeps_the_layout(tools: Client, rest: Rest) -> None:
    storage = "<h1>Intro</h1><p>old</p>" + STORAGE
    page = await call(tools, "create_page", title=unique("Layout section"), body=storage, body_format="storage")
    await call(tools, "update_page_by_id", page_id=page["id"], section="Intro", new_body="new")
    assert rest.storage(page["id"]) == storage.replace("<p>old</p>", "<p>new</p>")


async def test_malformed_layout_markers_are_refused(tools: Client, rest: Rest) -> None:
    message = await refused(tools, "create_page", title=unique("Bad layout"),
                            body=":::layout two_equal\n\nleft\n\n:::cell\n\nright\n")
    assert "not closed" in message and "line 1" in message


async def test_a_layout_in_a_section_inside_a_layout_cell_is_refused(tools: Client, rest: Rest) -> None:
    # The section "Plan" lies in a layout cell: new content with layout markers would nest a layout in it.
    page = await call(tools, "create_page", title=unique("Layout nest"), body=STORAGE, body_format="storage")
    message = await refused(tools, "update_page_by_id", page_id=page["id"], section="Plan",
                            new_body=":::layout single\n\nnested\n\n:::\n")
    assert "layouts do not nest" in message and "Nothing was written" in message
    assert rest.storage(page["id"]) == STORAGE
