"""HTML an assistant writes in a markdown body: `<details>` and inline tags become storage through create_page, the
page reads back as markdown that writes back as a no-op, and HTML without a storage form is refused unwritten."""

from __future__ import annotations

import pytest
from manage_helpers import Rest, call, refused, unique
from mcp import Client

pytestmark = pytest.mark.anyio

EXPAND = ('<ac:structured-macro ac:name="expand" ac:schema-version="1"><ac:parameter ac:name="title">More'
          "</ac:parameter><ac:rich-text-body><p>hidden text</p></ac:rich-text-body></ac:structured-macro>")


async def test_details_and_inline_tags_are_stored_as_storage(tools: Client, rest: Rest) -> None:
    body = ("<details><summary>More</summary>\n\nhidden text\n\n</details>\n\n"
            "Line<br>two <b>bold</b> H<sub>2</sub>O, `<b>code</b>` and List<String>")
    page = await call(tools, "create_page", title=unique("Det2"), body=body)
    storage = rest.storage(page["id"])
    assert storage == (EXPAND + "<p>Line<br/>two <strong>bold</strong> H<sub>2</sub>O, "
                                "<code>&lt;b&gt;code&lt;/b&gt;</code> and List&lt;String&gt;</p>")

    read = await call(tools, "read_page_by_id", page_id=page["id"])
    assert "> [!EXPAND] More" in read["markdown"] and "H<sub>2</sub>O" in read["markdown"]
    out = await call(tools, "update_page_by_id", page_id=page["id"], new_body=read["markdown"])
    assert out["version"] == 1 and "No change" in (out["note"] or "")
    assert rest.storage(page["id"]) == storage


async def test_html_without_a_storage_form_is_refused(tools: Client, rest: Rest) -> None:
    title = unique("Raw div")
    message = await refused(tools, "create_page", title=title, body='Intro\n\n<div style="color: red">x</div>')
    assert '`<div style="color: red">`' in message and 'body_format="storage"' in message
    assert "Nothing was written" in message and rest.titled("DEMO", title) == []

    page = await call(tools, "create_page", title=unique("Raw update"), body="first")
    message = await refused(tools, "update_page_by_id", page_id=page["id"], new_body="<b>never closed")
    assert "`<b>`" in message and "</b>" in message
    assert rest.storage(page["id"]) == "<p>first</p>" and rest.version(page["id"]) == 1
