"""Titles, bodies, labels, filenames and captions are data: none of them can add markup or macros."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from manage_helpers import Rest, call, connect, refused, unique
from mcp import Client

from confluence_mcp.sandbox.runner import RunningSandbox

pytestmark = pytest.mark.anyio

MACRO = '<ac:structured-macro ac:name="include"><ac:parameter ac:name="">Secret</ac:parameter></ac:structured-macro>'
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9aw"
                       "AAAABJRU5ErkJggg==")


async def test_title_is_stored_verbatim_not_as_markup(tools: Client, rest: Rest) -> None:
    title = f'Evil {unique()} </title><script>alert(1)</script> {MACRO}'
    out = await call(tools, "create_page", title=title, body="x")
    page = rest.page(out["id"])
    assert page["title"] == " ".join(title.split())
    assert "structured-macro" not in page["body"]["storage"]["value"]


async def test_markdown_body_cannot_inject_macros(tools: Client, rest: Rest) -> None:
    body = f"Hello {MACRO}\n\n\\<script>alert(1)\\</script>\n\n[x](javascript:alert(1)) ]]> <![CDATA[ &amp;"
    out = await call(tools, "create_page", title=unique("Inject"), body=body)
    storage = rest.storage(out["id"])
    assert "<ac:structured-macro" not in storage and "<script" not in storage
    title = unique("Inject script")
    message = await refused(tools, "create_page", title=title, body=body + "\n\n<script>alert(1)</script>")
    assert "`<script>`" in message and "Nothing was written" in message
    assert rest.titled("DEMO", title) == []


async def test_wiki_body_is_escaped(tools: Client, rest: Rest) -> None:
    out = await call(tools, "create_page", title=unique("WikiInject"), body=f"h1. {MACRO}\n<b>x</b>",
                     body_format="wiki")
    storage = rest.storage(out["id"])
    assert "<ac:structured-macro" not in storage and "<b>" not in storage


async def test_file_name_and_caption_are_escaped(tools: Client, rest: Rest) -> None:
    page = await call(tools, "create_page", title=unique("Files"), body="start")
    evil = 'pic"/><ac:structured-macro ac:name="html">.png'
    out = await call(tools, "add_file_to_page", page_id=page["id"], file_base64=base64.b64encode(PNG).decode(),
                     filename=evil, caption='<script>x</script>"]]>')
    assert out["version"] == 2
    storage = rest.storage(page["id"])
    assert storage.startswith("<p>start</p>")
    assert "<ac:image" in storage and "<ri:attachment ri:filename=" in storage
    assert '<ac:structured-macro ac:name="html">' not in storage and "<script>" not in storage
    names = [a["title"] for a in rest.http.get(f"/content/{page['id']}/child/attachment").json()["results"]]
    assert len(names) == 1 and not set(names[0]) & set('"<>/')  # stored under a sanitised name...
    assert f'ri:filename="{names[0]}"' in storage  # ...which the page refers to


async def test_non_image_attachment_is_linked_and_upload_dir_is_enforced(
        sandbox: RunningSandbox, rest: Rest, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path.parent / "outside.txt").write_text("secret")
    async with connect(sandbox, upload_dir=str(tmp_path)) as client:
        page = await call(client, "create_page", title=unique("Upload"), body="start")
        await call(client, "add_file_to_page", page_id=page["id"], file_path="notes.txt", position="prepend")
        storage = rest.storage(page["id"])
        assert storage.startswith("<p><ac:link><ri:attachment ri:filename=\"notes.txt\"/>")
        for path in ["../outside.txt", str(tmp_path.parent / "outside.txt")]:
            message = await refused(client, "add_file_to_page", page_id=page["id"], file_path=path)
            assert "outside the upload directory" in message
        quiet = await call(client, "add_file_to_page", page_id=page["id"], file_path="notes.txt",
                           show_on_page=False)
        assert quiet["version"] == 2 and "not changed" in quiet["note"]
    async with connect(sandbox) as client:
        message = await refused(client, "add_file_to_page", page_id=page["id"], file_path="notes.txt")
        assert "upload_dir" in message


async def test_markup_quoted_in_a_code_block_does_not_count_as_showing_the_file(tools: Client, rest: Rest) -> None:
    quoted = ('<ac:structured-macro ac:name="code"><ac:plain-text-body><![CDATA[<ac:image><ri:attachment '
              'ri:filename="plan.pdf"/></ac:image>]]></ac:plain-text-body></ac:structured-macro>')
    page = await call(tools, "create_page", title=unique("Quoted"), body=quoted, body_format="storage")
    data = base64.b64encode(b"%PDF-1.4").decode()
    added = await call(tools, "add_file_to_page", page_id=page["id"], file_base64=data, filename="plan.pdf")
    assert added["version"] == 2
    assert rest.storage(page["id"]).startswith(quoted) and rest.storage(page["id"]) != quoted


async def test_a_link_label_is_shown_as_written_and_a_file_is_embedded_once(tools: Client, rest: Rest) -> None:
    page = await call(tools, "create_page", title=unique("Q&A"), body="start")
    data = base64.b64encode(b"%PDF-1.4").decode()
    await call(tools, "add_file_to_page", page_id=page["id"], file_base64=data, filename="Q&A notes.pdf")
    await call(tools, "add_file_to_page", page_id=page["id"], file_base64=data, filename="r.pdf",
               caption="Q&A <draft> ]]> end")
    storage = rest.storage(page["id"])
    assert "<![CDATA[Q&A notes.pdf]]>" in storage and "&amp;A notes.pdf]]>" not in storage
    assert "<![CDATA[Q&A <draft> ]]]]><![CDATA[> end]]>" in storage
    read = await call(tools, "read_page_by_id", page_id=page["id"])
    assert "&amp;" not in read["markdown"] and "&lt;" not in read["markdown"]
    again = await call(tools, "add_file_to_page", page_id=page["id"], file_base64=data, filename="Q&A notes.pdf")
    assert again["version"] == 3 and "already shows it" in again["note"]
    assert rest.storage(page["id"]) == storage  # one embed, the file's new version behind it
    listed = rest.http.get(f"/content/{page['id']}/child/attachment", params={"expand": "version"}).json()
    assert {a["title"]: a["version"]["number"] for a in listed["results"]}["Q&A notes.pdf"] == 2
