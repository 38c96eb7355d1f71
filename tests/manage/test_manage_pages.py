"""create / update / delete through the MCP tools, checked against what the sandbox stored."""

from __future__ import annotations

import pytest
from manage_helpers import Rest, call, connect, refused, unique
from mcp import Client

from confluence_mcp.sandbox.runner import RunningSandbox

pytestmark = pytest.mark.anyio

WRITE_TOOLS = {"create_page", "create_pages", "update_page_by_id", "update_page_by_title", "update_pages",
               "delete_page", "update_labels", "add_file_to_page"}


async def test_write_tools_are_listed_with_explicit_hints(tools: Client) -> None:
    listed = {t.name: t for t in (await tools.list_tools()).tools}
    assert set(listed) >= WRITE_TOOLS
    for name in WRITE_TOOLS:
        hints = listed[name].annotations
        assert hints is not None and not hints.read_only_hint
        assert hints.destructive_hint is (name == "delete_page")
    assert listed["update_labels"].annotations.idempotent_hint is True  # type: ignore[union-attr]
    assert listed["create_page"].annotations.idempotent_hint is False  # type: ignore[union-attr]


async def test_create_page_markdown_defaults(tools: Client, rest: Rest) -> None:
    title = unique("Create")
    out = await call(tools, "create_page", title=title, body="# Hello\n\nSome **bold** text.", labels=["Team-A"])
    assert set(out) >= {"id", "title", "space", "version", "url"}
    assert out["title"] == title and out["space"] == "DEMO" and out["version"] == 1
    assert out.get("body") is None  # never echoed unless asked
    page = rest.page(out["id"])
    storage = page["body"]["storage"]["value"]
    assert "<h1>Hello</h1>" in storage and "<strong>bold</strong>" in storage
    # default parent: the space homepage; labels: given plus the toolkit's
    home = rest.http.get("/space/DEMO", params={"expand": "homepage"}).json()["homepage"]["id"]
    assert page["ancestors"][-1]["id"] == str(home)
    assert rest.labels(out["id"]) == ["team-a", "via-mcp"]
    assert out["url"].startswith("http://127.0.0.1:")


async def test_create_under_parent_title_and_draft(tools: Client, rest: Rest) -> None:
    parent = await call(tools, "create_page", title=unique("Parent"), body="parent")
    child = await call(tools, "create_page", title=unique("Child"), body="child", parent_title=parent["title"])
    assert rest.page(child["id"])["ancestors"][-1]["id"] == parent["id"]
    by_id = await call(tools, "create_page", title=unique("Child2"), body="x", parent_id=parent["id"],
                       include_body=True)
    assert by_id["body"] == "<p>x</p>"
    draft = await call(tools, "create_page", title=unique("Draft"), body="wip", status="draft")
    assert draft["status"] == "draft"
    missing = await refused(tools, "create_page", title=unique("Orphan"), body="x", parent_title="No such page 123")
    assert "No such page 123" in missing and "DEMO" in missing


async def test_duplicate_title_is_refused_case_insensitively(tools: Client, rest: Rest) -> None:
    title = unique("Dup Title")
    first = await call(tools, "create_page", title=title, body="one")
    message = await refused(tools, "create_page", title=title.upper(), body="two")
    assert first["id"] in message and "already exists" in message and first["url"] in message
    assert len(rest.titled("DEMO", title)) == 1


async def test_body_formats_storage_and_wiki(tools: Client, rest: Rest) -> None:
    bad = await refused(tools, "create_page", title=unique("Bad"), body="<p><strong>x</p>", body_format="storage")
    assert "Error parsing xhtml" in bad
    good = await call(tools, "create_page", title=unique("Storage"), body='<p>ok <em>fine</em></p>',
                      body_format="storage")
    assert rest.storage(good["id"]) == "<p>ok <em>fine</em></p>"
    wiki_body = "h2. Plan\n* one\n* *two*\n\n{code:python}\nx = 1\n{code}"
    wiki = await call(tools, "create_page", title=unique("Wiki"), body=wiki_body, body_format="wiki")
    storage = rest.storage(wiki["id"])
    assert "<h2>Plan</h2>" in storage and "<li><strong>two</strong></li>" in storage
    assert 'ac:name="code"' in storage and "x = 1" in storage


async def test_update_body_title_only_and_noop(tools: Client, rest: Rest) -> None:
    page = await call(tools, "create_page", title=unique("Upd"), body="first")
    out = await call(tools, "update_page_by_id", page_id=page["id"], new_body="second", version_message="why")
    assert out["version"] == 2 and rest.storage(page["id"]) == "<p>second</p>"
    # storage sent by someone else must survive a title-only change byte for byte
    rest.edit(page["id"], '<p>hand  made\n <span style="color: red;">layout</span></p>')
    before = rest.storage(page["id"])
    renamed = await call(tools, "update_page_by_id", page_id=page["id"], new_title=page["title"] + " renamed")
    assert renamed["version"] == 4 and renamed["title"].endswith("renamed")
    assert rest.storage(page["id"]) == before
    same = await call(tools, "update_page_by_id", page_id=page["id"], new_title=renamed["title"])
    assert same["version"] == 4 and "No change" in (same["note"] or "")
    by_title = await call(tools, "update_page_by_title", page_title=renamed["title"], new_body="third")
    assert by_title["id"] == page["id"] and by_title["version"] == 5
    nothing = await refused(tools, "update_page_by_title", page_title="Absent " + unique(), new_body="x")
    assert "No page titled" in nothing


async def test_rename_onto_existing_title_refused(tools: Client) -> None:
    a = await call(tools, "create_page", title=unique("A"), body="a")
    b = await call(tools, "create_page", title=unique("B"), body="b")
    message = await refused(tools, "update_page_by_id", page_id=b["id"], new_title=a["title"].lower())
    assert a["id"] in message


async def test_expected_version_mismatch_names_version_and_editor(tools: Client, rest: Rest) -> None:
    page = await call(tools, "create_page", title=unique("Conflict"), body="mine")
    rest.edit(page["id"], "<p>theirs</p>")  # a concurrent editor saves version 2
    message = await refused(tools, "update_page_by_id", page_id=page["id"], new_body="overwrite",
                            expected_version=1)
    assert "version 2" in message and "expected_version=2" in message and "saved by" in message
    assert rest.storage(page["id"]) == "<p>theirs</p>" and rest.version(page["id"]) == 2
    ok = await call(tools, "update_page_by_id", page_id=page["id"], new_body="merged", expected_version=2)
    assert ok["version"] == 3


async def test_section_edit_touches_only_that_section(tools: Client, rest: Rest) -> None:
    storage = ('<h1>Intro</h1><p>keep   intro</p><ac:structured-macro ac:name="toc"/><h2>Steps</h2>'
               "<p>old step</p><h2>Other</h2><p>keep other</p>")
    page = await call(tools, "create_page", title=unique("Sections"), body=storage, body_format="storage")
    await call(tools, "update_page_by_id", page_id=page["id"], section="Steps", new_body="new **step**")
    after = rest.storage(page["id"])
    assert after.startswith('<h1>Intro</h1><p>keep   intro</p><ac:structured-macro ac:name="toc"/><h2>Steps</h2>')
    assert "new <strong>step</strong>" in after and "old step" not in after
    assert after.endswith("<h2>Other</h2><p>keep other</p>")
    missing = await refused(tools, "update_page_by_id", page_id=page["id"], section="Nope", new_body="x")
    assert "no heading 'Nope'" in missing and "'Intro', 'Steps', 'Other'" in missing


async def test_section_edit_reaches_headings_in_layouts(tools: Client, rest: Rest) -> None:
    storage = ('<ac:layout><ac:layout-section ac:type="two_equal"><ac:layout-cell><h2>Status</h2><p>old</p>'
               "<h2>Other</h2><p>keep</p></ac:layout-cell><ac:layout-cell><h2>Right</h2><p>r</p></ac:layout-cell>"
               "</ac:layout-section></ac:layout>")
    page = await call(tools, "create_page", title=unique("Layout"), body=storage, body_format="storage")
    await call(tools, "update_page_by_id", page_id=page["id"], section="Status", new_body="new status")
    assert rest.storage(page["id"]) == storage.replace("<p>old</p>", "<p>new status</p>")
    await call(tools, "update_page_by_id", page_id=page["id"], section="Right", new_body="r")  # unchanged
    assert rest.version(page["id"]) == 2


async def test_full_body_write_that_drops_macros_needs_consent(tools: Client, rest: Rest) -> None:
    storage = '<p>a</p><ac:structured-macro ac:name="jira"><ac:parameter ac:name="key">X-1</ac:parameter>' \
              "</ac:structured-macro>"
    page = await call(tools, "create_page", title=unique("Macro"), body=storage, body_format="storage")
    message = await refused(tools, "update_page_by_id", page_id=page["id"], new_body="just text")
    assert "jira" in message and rest.version(page["id"]) == 1
    await call(tools, "update_page_by_id", page_id=page["id"], new_body="just text", allow_macro_removal=True)
    assert rest.storage(page["id"]) == "<p>just text</p>"


async def test_delete_to_trash_and_purge(tools: Client, rest: Rest) -> None:
    page = await call(tools, "create_page", title=unique("Del"), body="bye")
    out = await call(tools, "delete_page", page_id=page["id"])
    assert out["status"] == "trashed" and rest.status(page["id"]) == 404
    assert rest.status(page["id"], status="trashed") == 200
    other = await call(tools, "create_page", title=unique("Purge"), body="bye")
    gone = await call(tools, "delete_page", page_title=other["title"], purge=True)
    assert gone["status"] == "purged"
    assert rest.status(other["id"], status="trashed") == 404
    missing = await refused(tools, "delete_page", page_id="999999999")
    assert "999999999" in missing and "not found" in missing


async def test_policy_read_only_and_allowed_spaces(sandbox: RunningSandbox, rest: Rest) -> None:
    existing = rest.create(unique("Policy"), "<p>x</p>")
    async with connect(sandbox, read_only=True) as client:
        listed = {t.name for t in (await client.list_tools()).tools}
        assert not listed & WRITE_TOOLS and "read_page_by_id" in listed
        await refused(client, "create_page", title=unique(), body="x")
    async with connect(sandbox, space="DEMO", allowed_spaces=["DEMO"]) as client:
        message = await refused(client, "create_page", title=unique(), body="x", space="OTHER")
        assert "outside" in message
    async with connect(sandbox, space="OTHER", allowed_spaces=["OTHER"]) as client:
        message = await refused(client, "update_page_by_id", page_id=existing["id"], new_body="x")
        assert "DEMO" in message and "outside" in message
        message = await refused(client, "delete_page", page_id=existing["id"])
        assert "outside" in message
    assert rest.version(existing["id"]) == 1
