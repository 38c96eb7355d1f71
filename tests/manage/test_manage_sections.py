"""Section edits (`section=` on update_page_by_id / update_page_by_title), checked against what the sandbox stored."""

from __future__ import annotations

import pytest
from manage_helpers import Rest, call, refused, unique
from mcp import Client

pytestmark = pytest.mark.anyio

JIRA = '<ac:structured-macro ac:name="jira"><ac:parameter ac:name="key">PROJ-1</ac:parameter></ac:structured-macro>'


async def test_a_section_edit_that_drops_macros_needs_consent(tools: Client, rest: Rest) -> None:
    storage = f"<h2>Tracking</h2><p>Issue: </p>{JIRA}<p>end</p><h2>Next</h2><p>{JIRA}</p>"
    page = await call(tools, "create_page", title=unique("Sec macro"), body=storage, body_format="storage")
    message = await refused(tools, "update_page_by_id", page_id=page["id"], section="Tracking",
                            new_body="no more jira")
    # Refused though another jira macro stays elsewhere on the page: one of the two would be lost.
    assert "section 'Tracking'" in message and "jira" in message and "allow_macro_removal" in message
    assert rest.version(page["id"]) == 1
    await call(tools, "update_page_by_title", page_title=page["title"], section="Tracking",
               new_body="no more jira", allow_macro_removal=True)
    assert rest.storage(page["id"]) == f"<h2>Tracking</h2><p>no more jira</p><h2>Next</h2><p>{JIRA}</p>"


async def test_a_section_edit_that_keeps_its_macros_goes_through(tools: Client, rest: Rest) -> None:
    storage = f"<h2>Tracking</h2><p>old</p>{JIRA}<h2>Next</h2><p>n</p>"
    page = await call(tools, "create_page", title=unique("Sec keep"), body=storage, body_format="storage")
    await call(tools, "update_page_by_id", page_id=page["id"], section="Tracking", new_body=f"<p>new</p>{JIRA}",
               body_format="storage")
    assert rest.storage(page["id"]) == f"<h2>Tracking</h2><p>new</p>{JIRA}<h2>Next</h2><p>n</p>"


async def test_a_repeated_heading_needs_its_path(tools: Client, rest: Rest) -> None:
    storage = "<h1>Team A</h1><h2>Notes</h2><p>A notes</p><h1>Team B</h1><h2>Notes</h2><p>B notes</p>"
    page = await call(tools, "create_page", title=unique("Sec dup"), body=storage, body_format="storage")
    message = await refused(tools, "update_page_by_id", page_id=page["id"], section="Notes", new_body="edited")
    assert "'Team A / Notes'" in message and "'Team B / Notes'" in message and rest.version(page["id"]) == 1
    await call(tools, "update_page_by_id", page_id=page["id"], section="Team B / Notes", new_body="edited")
    assert rest.storage(page["id"]) == storage.replace("<p>B notes</p>", "<p>edited</p>")


async def test_a_new_body_that_repeats_the_heading_does_not_duplicate_it(tools: Client, rest: Rest) -> None:
    storage = "<h2>Release <em>2.0</em> notes</h2><p>old</p><h2>Next</h2><p>n</p>"
    page = await call(tools, "create_page", title=unique("Sec repeat"), body=storage, body_format="storage")
    await call(tools, "update_page_by_id", page_id=page["id"], section="## Release 2.0 notes",
               new_body="## Release 2.0 notes\n\nz")
    assert rest.storage(page["id"]) == storage.replace("<p>old</p>", "<p>z</p>")
