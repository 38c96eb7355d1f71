"""A page of key/value tables (bare, in Page Properties, in an expand), HTML in cells and tasks sharing an id: unchanged
markdown is a no-op, an edit or a section write changes only what it says, and the markdown written as a new page
reads back the same."""

from __future__ import annotations

import pytest
from manage_helpers import Rest, call, unique
from mcp import Client

pytestmark = pytest.mark.anyio

KV = ('<table class="wrapped"><colgroup><col/><col/></colgroup><tbody><tr><th>Owner</th><td>Ada</td></tr>'
      '<tr><th colspan="1">Status</th><td colspan="1"><em><u>Done</u></em> H<sub>2</sub>O</td></tr></tbody></table>')
DETAILS = ('<ac:structured-macro ac:name="details" ac:schema-version="1" ac:macro-id="m1"><ac:parameter ac:name="id">'
           f'req</ac:parameter><ac:rich-text-body>{KV}</ac:rich-text-body></ac:structured-macro>')
EXPAND = ('<ac:structured-macro ac:name="expand" ac:schema-version="1" ac:macro-id="m2"><ac:parameter ac:name="title">'
          f'More</ac:parameter><ac:rich-text-body><p>Hidden</p>{KV.replace("Ada", "Bo")}</ac:rich-text-body>'
          "</ac:structured-macro>")
TASKS = ("<ac:task-list><ac:task><ac:task-id>1</ac:task-id><ac:task-status>incomplete</ac:task-status><ac:task-body>a"
         "</ac:task-body></ac:task><ac:task><ac:task-id>1</ac:task-id><ac:task-status>complete</ac:task-status>"
         "<ac:task-body>b</ac:task-body></ac:task></ac:task-list>")
PAGE = f"<h1>One</h1><p>Intro</p>{KV}{DETAILS}<h1>Two</h1>{EXPAND}{TASKS}<p>End</p>\n"


async def test_a_mixed_page_round_trips_and_edits_stay_local(tools: Client, rest: Rest) -> None:
    page = rest.create(unique("Mixed"), PAGE)
    made: list[str] = [page["id"]]
    try:
        stored = rest.storage(page["id"])
        before = rest.page(page["id"])["version"]["number"]
        markdown = (await call(tools, "read_page_by_id", page_id=page["id"]))["markdown"]
        out = await call(tools, "update_page_by_id", page_id=page["id"], new_body=markdown)
        assert "No change" in (out["note"] or ""), out
        assert rest.storage(page["id"]) == stored
        await call(tools, "update_page_by_id", page_id=page["id"], new_body=markdown.replace("Intro", "Intro2"))
        assert rest.storage(page["id"]) == stored.replace("Intro", "Intro2")
        await call(tools, "update_page_by_id", page_id=page["id"], new_body=markdown.replace("Intro", "Intro3")
                   .replace("| Bo |", "| Cy |"))
        assert rest.storage(page["id"]) == stored.replace("Intro", "Intro3").replace(">Bo<", ">Cy<")
        section = markdown.replace("| Bo |", "| Cy |").split("# Two\n\n", 1)[1]
        await call(tools, "update_page_by_id", page_id=page["id"], new_body=section, section="Two")
        assert rest.storage(page["id"]) == stored.replace("Intro", "Intro3").replace(">Bo<", ">Cy<")
        fresh = await call(tools, "create_page", title=unique("Mixed copy"), body=markdown)
        made.append(fresh["id"])
        again = (await call(tools, "read_page_by_id", page_id=fresh["id"]))["markdown"]
        assert again == markdown
        assert rest.page(page["id"])["version"]["number"] == before + 2  # the two edits; no-ops wrote nothing
    finally:
        for each in made:
            await call(tools, "delete_page", page_id=each, purge=True)
