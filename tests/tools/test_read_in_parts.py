"""A page longer than one read comes in parts cut where blocks end; the parts put together are the whole page."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from _mcp_fixtures import ToolFailed, call, make_settings, mcp_client

from confluence_mcp.confluence.convert.window import markdown_window
from confluence_mcp.sandbox.runner import SandboxOptions, start_sandbox

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def own_sandbox() -> Iterator[Any]:
    """A sandbox of its own: the pages made here would change what the shared one's tree tests see."""
    with start_sandbox(SandboxOptions(flavor="cloud")) as sandbox:
        yield sandbox


def _long_markdown() -> str:
    blocks = []
    for n in range(60):
        blocks.append(f"## Part {n}\n\nParagraph {n} " + "words " * 40)
        if n % 7 == 0:
            # blank lines inside a fence are not block ends
            blocks.append(f"```python\nx = {n}\n\n\ny = {n}\n```")
        if n % 11 == 0:
            blocks.append("| a | b |\n| --- | --- |\n" + "\n".join(f"| {i} | {n} |" for i in range(20)))
    return "\n\n".join(blocks)


async def test_parts_join_to_the_whole_page(own_sandbox: Any) -> None:
    async with mcp_client(make_settings(own_sandbox.base_url)) as client:
        created = await call(client, "create_page", {"title": f"Long {uuid.uuid4().hex[:8]}",
                                                     "body": _long_markdown()})
        whole = await call(client, "read_page_by_id", {"page_id": created["id"], "max_chars": 1_000_000})
        assert "next_offset" not in whole and "total_chars" not in whole and "note" not in whole
        parts, offset = [], 0
        while True:
            part = await call(client, "read_page_by_id", {"page_id": created["id"], "offset": offset,
                                                          "max_chars": 2000})
            assert len(part["markdown"]) <= 2000 and part["total_chars"] == len(whole["markdown"])
            assert part["markdown"].count("```") % 2 == 0  # never inside a fence
            parts.append(part["markdown"])
            if part.get("next_offset") is None:
                assert "last part" in part["note"]
                break
            assert f"offset={part['next_offset']}" in part["note"] and "section" in part["note"]
            offset = part["next_offset"]
        assert len(parts) > 5 and "".join(parts) == whole["markdown"]
        with pytest.raises(ToolFailed, match="past the end"):
            await call(client, "read_page_by_id", {"page_id": created["id"], "offset": len(whole["markdown"])})


async def test_short_pages_and_label_reads_are_whole_or_capped(own_sandbox: Any) -> None:
    label = f"long-{uuid.uuid4().hex[:6]}"
    async with mcp_client(make_settings(own_sandbox.base_url)) as client:
        short = await call(client, "create_page", {"title": f"Short {uuid.uuid4().hex[:8]}", "body": "hello",
                                                   "labels": [label]})
        read = await call(client, "read_page_by_id", {"page_id": short["id"], "offset": 0})
        assert read["markdown"] == "hello" and "note" not in read
        await call(client, "create_page", {"title": f"Huge {uuid.uuid4().hex[:8]}", "labels": [label],
                                           "body": _long_markdown() * 3})
        pages = (await call(client, "get_pages_with_label", {"label": label}))["pages"]
        huge = next(p for p in pages if p["title"].startswith("Huge"))
        assert len(huge["markdown"]) <= 20_000 and huge["next_offset"] and "read_page_by_id" in huge["note"]


def test_window_cuts() -> None:
    text = "aaa\n\nbbb\n\n```\nc\n\nc\n```\n\nddd"
    assert markdown_window(text, 0, 6) == ("aaa\n\n", 0, 5, len(text))
    # the fence is one block: a cut can only fall before it or after it
    window = markdown_window(text, 5, 12)
    assert window.text == "bbb\n\n"
    assert markdown_window(text, 10, 15).text == "```\nc\n\nc\n```\n\n"
    # one block longer than the window: cut at a line end, then mid-line for one long line
    assert markdown_window("line one\nline two\nline three", 0, 12).text == "line one\n"
    assert markdown_window("x" * 50, 0, 10).text == "x" * 10
    assert markdown_window(text, 0, 1000).end == len(text)


def test_a_code_span_at_a_line_start_opens_no_fence() -> None:
    # "``` a``b ```" is inline code (a backtick fence's info string holds no backtick); taken for an unclosed fence,
    # it hid every later block start and the cut fell mid-table.
    table = "| a |\n| --- |\n" + "| row |\n" * 20
    text = "``` a``b ``` is inline\n\nintro\n\n" + table
    window = markdown_window(text, 0, 60)
    assert window.text == "``` a``b ``` is inline\n\nintro\n\n"


_SECTIONED = ("<p>Intro</p><h1>Team A</h1><p>a text</p><h2>Notes</h2><p>a notes</p><h1>Team B</h1><p>b text</p>"
              "<h2>Notes</h2><p>b notes</p><ac:layout><ac:layout-section ac:type=\"two_equal\"><ac:layout-cell>"
              "<h2>Left</h2><p>left text</p></ac:layout-cell><ac:layout-cell><p>right text</p></ac:layout-cell>"
              "</ac:layout-section></ac:layout>")


async def test_one_section_is_read_alone(own_sandbox: Any) -> None:
    async with mcp_client(make_settings(own_sandbox.base_url)) as client:
        page = await call(client, "create_page", {"title": f"Sections {uuid.uuid4().hex[:8]}", "body": _SECTIONED,
                                                  "body_format": "storage"})

        async def section(name: str) -> str:
            return str((await call(client, "read_page_by_id", {"page_id": page["id"], "section": name}))["markdown"])

        assert await section("team a") == "# Team A\n\na text\n\n## Notes\n\na notes"
        assert await section("Team B / Notes") == "## Notes\n\nb notes"
        assert await section("Left") == "## Left\n\nleft text"  # inside a layout cell, ending with it
        # a top-level section ends where a layout starts
        assert "left text" not in await section("Team B")
        with pytest.raises(ToolFailed, match=r"2 headings 'Notes': 'Team A / Notes', 'Team B / Notes'"):
            await section("Notes")
        with pytest.raises(ToolFailed, match=r"no heading 'Nope' \(its headings: 'Team A', 'Notes', 'Team B'.*"
                                             r"omit `section` to read the whole page"):
            await section("Nope")
