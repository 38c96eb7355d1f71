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


def _tasks(*items: tuple[int, str, str]) -> str:
    return "<ac:task-list>" + "".join(
        f"<ac:task><ac:task-id>{n}</ac:task-id><ac:task-status>{status}</ac:task-status><ac:task-body>{text}"
        "</ac:task-body></ac:task>" for n, status, text in items) + "</ac:task-list>"


async def test_task_ids_stay_unique_in_the_page_whatever_a_write_touches(tools: Client, rest: Rest) -> None:
    import re

    one_three = _tasks((1, "incomplete", "one"), (3, "complete", "three"))  # a gap: task 2 was deleted
    storage = f"<h1>A</h1>{one_three}<h1>B</h1>{_tasks((4, 'incomplete', 'four'))}<h1>C</h1><p>none yet</p>"
    page = await call(tools, "create_page", title=unique("Sec tasks"), body=storage, body_format="storage")
    read = await call(tools, "read_page_by_id", page_id=page["id"])
    assert read["markdown"] == "# A\n\n- [ ] one\n- [x] three\n\n# B\n\n- [ ] four\n\n# C\n\nnone yet"
    assert (await call(tools, "read_page_by_id", page_id=page["id"], section="B"))["markdown"] == "# B\n\n- [ ] four"
    same = await call(tools, "update_page_by_id", page_id=page["id"], new_body=read["markdown"])
    assert "No change" in same["note"] and rest.storage(page["id"]) == storage  # ids as stored, no new version

    def ids() -> list[str]:
        return re.findall(r"<ac:task-id>(\d+)</ac:task-id>", rest.storage(page["id"]))

    # new tasks in a section are numbered from 1, where A's ids are: they get fresh ones instead
    await call(tools, "update_page_by_id", page_id=page["id"], section="C", new_body="- [ ] five\n- [ ] six")
    assert len(set(ids())) == len(ids()) == 5 and one_three in rest.storage(page["id"])
    await call(tools, "update_page_by_id", page_id=page["id"], section="B", new_body="- [x] four")
    assert len(set(ids())) == len(ids()) == 5 and one_three in rest.storage(page["id"])
    whole = (await call(tools, "read_page_by_id", page_id=page["id"]))["markdown"]
    assert "- [x] four" in whole and "- [ ] five\n- [ ] six" in whole and "confluence-storage" not in whole


async def test_a_heading_with_a_status_lozenge_is_named_by_its_text(tools: Client, rest: Rest) -> None:
    status = ('<ac:structured-macro ac:name="status" ac:schema-version="1"><ac:parameter ac:name="colour">Blue'
              '</ac:parameter><ac:parameter ac:name="title">BETA</ac:parameter></ac:structured-macro>')
    page = await call(tools, "create_page", title=unique("Sec status"), body_format="storage",
                      body=f"<h2>0.2.0 {status}</h2><p>old</p><h2>0.1.0<!-- first --></h2><p>x</p>")
    await call(tools, "update_page_by_id", page_id=page["id"], section="0.2.0", new_body="new")
    assert rest.storage(page["id"]).startswith(f"<h2>0.2.0 {status}</h2><p>new</p><h2>")
    message = await refused(tools, "update_page_by_id", page_id=page["id"], section="nope", new_body="y")
    assert "'0.2.0', '0.1.0'" in message  # no lozenge colour, no comment text
