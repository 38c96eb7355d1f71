"""Markdown read with read_page_by_id and written back unchanged is a no-op: same bytes, no new version."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from manage_helpers import Rest, call, sandbox_flavor, unique
from mcp import Client

from confluence_mcp.sandbox.runner import RunningSandbox

pytestmark = pytest.mark.anyio

FIXTURES = sorted((Path(__file__).parents[1] / "fixtures" / "storage").glob("*.xml"))


async def _round_trip(tools: Client, rest: Rest, page_id: str) -> None:
    before = rest.page(page_id)
    read = await call(tools, "read_page_by_id", page_id=page_id)
    out = await call(tools, "update_page_by_id", page_id=page_id, new_body=read["markdown"])
    after = rest.page(page_id)
    # A true no-op: the stored bytes stay and no version is written.
    assert after["body"]["storage"]["value"] == before["body"]["storage"]["value"]
    assert out["version"] == after["version"]["number"] == before["version"]["number"]
    assert out["note"] and "No change" in out["note"]


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.stem for f in FIXTURES])
async def test_fixture_round_trip(tools: Client, rest: Rest, fixture: Path) -> None:
    storage = fixture.read_text(encoding="utf-8")
    page = rest.create(unique(fixture.stem), storage)
    await _round_trip(tools, rest, page["id"])


async def test_demo_pages_round_trip(tools: Client, rest: Rest) -> None:
    # the seeded pages only, not the ones other tests made (their titles end in a random hex suffix)
    pages = [p for p in rest.space_pages("DEMO") if not re.search(r" [0-9a-f]{10}\b", p["title"])]
    assert pages
    for page in pages:
        await _round_trip(tools, rest, page["id"])


async def test_an_edit_keeps_the_stored_tables_tasks_and_trailing_newline(tools: Client, rest: Rest) -> None:
    tables = Path(__file__).parents[1] / "fixtures" / "storage" / "tables"
    tasks = (Path(__file__).parents[1] / "fixtures" / "storage" / "20_task_list.xml").read_text(encoding="utf-8")
    storage = tasks.strip() + (tables / "server_blank_lines.xml").read_text(encoding="utf-8")
    page = await call(tools, "create_page", title=unique("Fidelity"), body=storage, body_format="storage")
    stored = rest.storage(page["id"])
    assert stored.endswith("</p>\n")  # as Server returns it
    markdown = (await call(tools, "read_page_by_id", page_id=page["id"]))["markdown"]
    edited = markdown.replace("- [ ] write", "- [ ] plan\n- [ ] write").replace("| Billing |", "| Payments |")
    await call(tools, "update_page_by_id", page_id=page["id"], new_body=edited)
    # Only the edits: a new task with a fresh id, one cell's text; the stored ids, empty lines and newline stay.
    new_task = "<ac:task><ac:task-id>4</ac:task-id><ac:task-status>incomplete</ac:task-status><ac:task-body>plan" \
               "</ac:task-body></ac:task>"
    assert rest.storage(page["id"]) == stored.replace("<ac:task-list>", f"<ac:task-list>{new_task}", 1) \
        .replace(">Billing<", ">Payments<")


# A key/value table as each editor stores it: a header column, no header row.
KEY_VALUE = {
    "server": '<table class="wrapped"><colgroup><col/><col/></colgroup><tbody><tr><th>Owner</th><td>Ada</td></tr>'
              '<tr><th colspan="1">Status</th><td colspan="1">Done</td></tr></tbody></table>',
    "cloud": '<table data-table-width="760" data-layout="default" ac:local-id="kv1"><tbody><tr><th><p><strong>Owner'
             '</strong></p></th><td><p>Ada</p></td></tr><tr><th><p><strong>Status</strong></p></th><td><p>Done</p>'
             "</td></tr></tbody></table>",
}


async def test_a_key_value_table_reads_as_markdown_and_an_edit_keeps_its_header_column(
        tools: Client, rest: Rest, sandbox: RunningSandbox) -> None:
    fixture = (Path(__file__).parents[1] / "fixtures" / "storage" / "tables" / "cloud_key_value.xml").read_text()
    pages = [rest.create(unique("Key value"), storage)
             for storage in ("<p>Facts:</p>" + KEY_VALUE[sandbox_flavor(sandbox)], fixture)]
    page = pages[0]
    try:
        for each in pages:  # the fixture's `thead` and paragraph ending in a line break too
            await _round_trip(tools, rest, each["id"])
        stored = rest.storage(page["id"])
        markdown = (await call(tools, "read_page_by_id", page_id=page["id"]))["markdown"]
        assert "confluence-storage" not in markdown and "| Ada |" in markdown
        await call(tools, "update_page_by_id", page_id=page["id"],
                   new_body=markdown.replace("| Ada |", "| Bob |") + "\n| Due | Friday |")
        # The edited cell keeps its kind, the new row has its key in a `th`, the rest its stored bytes.
        assert rest.storage(page["id"]) == stored.replace(">Ada<", ">Bob<") \
            .replace("</tr></tbody>", "</tr><tr><th>Due</th><td>Friday</td></tr></tbody>")
    finally:
        for each in pages:
            await call(tools, "delete_page", page_id=each["id"], purge=True)


# An edit to one property in each flavour's Page Properties fixture (tests/fixtures/storage/tables).
PROPERTY_EDITS = {"server": ("| QA | Priya |", "| QA | Sam |", "<p>Priya</p>", "<p>Sam</p>"),
                  "cloud": ("| **Budget** | 40k |", "| **Budget** | 50k |", "<p>40k</p>", "<p>50k</p>")}


async def test_page_properties_read_as_markdown_and_an_edit_keeps_the_macro(
        tools: Client, rest: Rest, sandbox: RunningSandbox) -> None:
    flavor = sandbox_flavor(sandbox)
    fixture = Path(__file__).parents[1] / "fixtures" / "storage" / "tables" / f"{flavor}_page_properties.xml"
    page = rest.create(unique("Page properties"), fixture.read_text(encoding="utf-8"))
    try:
        await _round_trip(tools, rest, page["id"])
        stored = rest.storage(page["id"])
        markdown = (await call(tools, "read_page_by_id", page_id=page["id"]))["markdown"]
        assert "macro=details" not in markdown and "> [!DETAILS] hidden=true id=" in markdown
        old_md, new_md, old, new = PROPERTY_EDITS[flavor]
        await call(tools, "update_page_by_id", page_id=page["id"], new_body=markdown.replace(old_md, new_md))
        # Only the cell: the macro ids, parameters, key column and the other rows keep their stored bytes.
        assert rest.storage(page["id"]) == stored.replace(old, new)
    finally:
        await call(tools, "delete_page", page_id=page["id"], purge=True)


@pytest.mark.parametrize("fixture", ["42_server_nested_tasks", "43_cloud_nested_tasks"])
async def test_nested_tasks_read_as_markdown_and_an_edit_keeps_the_stored_tasks_and_shape(
        tools: Client, rest: Rest, fixture: str) -> None:
    storage = (Path(__file__).parents[1] / "fixtures" / "storage" / f"{fixture}.xml").read_text(encoding="utf-8")
    page = rest.create(unique("Nested tasks"), storage)
    stored = rest.storage(page["id"])
    markdown = (await call(tools, "read_page_by_id", page_id=page["id"]))["markdown"]
    assert "confluence-storage" not in markdown and "\n  - [x] Sub task 1\n" in markdown
    edited = markdown.replace("- [ ] Sub task 2", "- [x] Sub task 2").replace(
        "- [ ] Top level task 2", "- [ ] Top level task 2\n  - [ ] Follow up")
    await call(tools, "update_page_by_id", page_id=page["id"], new_body=edited)
    after = rest.storage(page["id"])
    assert (await call(tools, "read_page_by_id", page_id=page["id"]))["markdown"] == edited
    # Every stored task kept (ids, uuids, wrappers; the ticked one with its new status), the new task nested
    # beside its parent with a fresh id, as the editors store it.
    tasks = re.findall(r"<ac:task>(?:(?!<ac:task>).)*?</ac:task>", stored, re.DOTALL)
    for task in tasks:
        assert (task.replace("incomplete", "complete") if "Sub task 2" in task else task) in after
    assert re.search(r"Top level task 2(</span>)?</ac:task-body>\s*</ac:task><ac:task-list[^>]*><ac:task>"
                     r"<ac:task-id>6</ac:task-id>", after)
