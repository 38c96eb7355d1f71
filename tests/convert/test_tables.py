"""Tables as the Server and Cloud editors store them read as GFM tables (header-less ones, cells with paragraphs,
lists and line breaks), come back canonically equal, and unchanged markdown writes back the stored bytes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from confluence_mcp.confluence.convert import keep_unchanged_blocks, markdown_to_storage, storage_to_markdown
from confluence_mcp.confluence.convert.canonical import canonicalize
from confluence_mcp.confluence.convert.links import decode_inline_storage

from .test_round_trip import CONTEXTS

TABLE_PAGES = Path(__file__).resolve().parent.parent / "fixtures" / "storage" / "tables"
PAGES = sorted(TABLE_PAGES.glob("*.xml"))
# Tables that have no markdown form and stay storage fences, per page: a wide layout with a coloured header and a
# merged cell, a resized Server table (relative-table style). Header columns (server_decision's options,
# cloud_headerless' key/value table) read as markdown, and so do the Page Properties (details) macros' tables.
FENCED_TABLES = {"cloud_headerless": 0, "cloud_key_value": 0, "cloud_meeting_notes": 0, "cloud_page_properties": 0,
                 "cloud_rich_cells": 1, "server_decision": 0, "server_blank_lines": 0, "server_page_properties": 0,
                 "server_release_notes": 1, "server_runbook": 0, "server_team_directory": 0}


def read(name: str) -> str:
    return (TABLE_PAGES / f"{name}.xml").read_text()


def table(rows: str) -> str:
    return f"<table><tbody>{rows}</tbody></table>"


def md_lines(storage: str) -> list[str]:
    return storage_to_markdown(storage).splitlines()


@pytest.mark.parametrize("context_name", sorted(CONTEXTS))
@pytest.mark.parametrize("page", PAGES, ids=lambda path: path.stem)
def test_table_pages_round_trip_and_write_back_unchanged(page: Path, context_name: str) -> None:
    links, storage = CONTEXTS[context_name], page.read_text()
    markdown = storage_to_markdown(storage, links=links)
    written = markdown_to_storage(markdown, links=links)
    assert keep_unchanged_blocks(storage, written) == storage, markdown  # no new version for an unchanged page
    assert storage_to_markdown(written, links=links) == markdown  # a second edit cycle changes nothing


def test_every_table_page_is_covered_by_the_fence_counts() -> None:
    assert sorted(FENCED_TABLES) == [page.stem for page in PAGES]


@pytest.mark.parametrize("page", PAGES, ids=lambda path: path.stem)
def test_only_tables_without_a_markdown_form_stay_storage_fences(page: Path) -> None:
    markdown = storage_to_markdown(page.read_text())
    assert len(re.findall(r"^```+confluence-storage table$", markdown, re.MULTILINE)) == FENCED_TABLES[page.stem]
    assert "[cell" not in markdown  # no cell of these pages needs its own placeholder


def test_header_less_tables_read_with_an_empty_header_row() -> None:
    lines = md_lines(read("server_runbook"))
    assert lines[2:6] == ["|  |  |", "| --- | --- |", "| HTTP | 8080 |", "| Admin | 8081 (internal only) |"]
    assert markdown_to_storage("|  |  |\n| --- | --- |\n| HTTP | 8080 |") == \
        table("<tr><td>HTTP</td><td>8080</td></tr>")


def test_an_empty_header_row_reads_as_nbsp_cells_and_stays_a_header_row() -> None:
    storage = table("<tr><th><p /></th><th><p /></th></tr><tr><td><p>Owner</p></td><td><p>Ann</p></td></tr>")
    markdown = storage_to_markdown(storage)
    assert markdown.splitlines()[:3] == ["| &nbsp; | &nbsp; |", "| --- | --- |", "| Owner | Ann |"]
    assert canonicalize(markdown_to_storage(markdown)) == canonicalize(storage)


def test_multi_paragraph_cells_join_paragraphs_with_two_breaks() -> None:
    assert "| Rotate keys | Run the rotation job.<br><br>**Never** rotate during a deploy.<br><br>Ask " \
           "[@8a7f808a6e1b2c3d](confluence-userkey:8a7f808a6e1b2c3d) first. |" in md_lines(read("server_runbook"))


def test_line_breaks_and_empty_cells() -> None:
    lines = md_lines(read("server_team_directory"))
    assert "| Billing | [@8a7f808a6e1b2c3d](confluence-userkey:8a7f808a6e1b2c3d) | Mon–Fri<br>09:00–17:00 CET |" \
        in lines
    # Server's empty cell (<td><br/></td>) and Cloud's (<td><p /></td>) read empty.
    assert "| Search | [search-team@example.com](mailto:search-team@example.com) |  |" in lines
    assert "| Design |  |" in md_lines(read("cloud_meeting_notes"))


def test_lists_in_cells_read_as_inline_list_tags() -> None:
    lines = md_lines(read("cloud_meeting_notes"))
    assert "| 10 min | Roadmap | <ul><li>Q3 themes agreed</li><li>Search rewrite moves to Q4</li></ul> |" in lines
    incidents = "| 15 min | Incidents | Two incidents last sprint:<ol><li>Login outage "
    assert any(line.startswith(incidents) for line in lines)
    nested = next(line for line in md_lines(read("cloud_rich_cells")) if line.startswith("| `GET /users`"))
    assert "Lists users.<ul><li>Paged by `cursor`<ul><li>max 100 per page</li></ul></li><li>Sorted by name</li></ul>" \
        in nested


def test_an_ordered_list_keeps_its_start() -> None:
    storage = table('<tr><td><ol start="3"><li>c</li><li>d</li></ol></td></tr>')
    assert md_lines(storage)[2] == '| <ol start="3"><li>c</li><li>d</li></ol> |'
    assert canonicalize(markdown_to_storage(storage_to_markdown(storage))) == canonicalize(storage)


def test_pipes_in_text_code_and_labels_are_escaped() -> None:
    assert "| Tail the logs | `journalctl -u app \\| grep ERROR` |" in md_lines(read("server_runbook"))
    assert any(line.startswith("| Auth \\| SSO |") for line in md_lines(read("server_team_directory")))
    assert "Creates a user. Fields: `name\\|email`." in storage_to_markdown(read("cloud_rich_cells"))


def test_markdown_lookalike_text_in_cells_stays_text() -> None:
    storage = table("<tr><td>&lt;br&gt; and &lt;ul&gt;&lt;li&gt;x&lt;/li&gt;&lt;/ul&gt;</td><td>- not a list</td></tr>")
    markdown = storage_to_markdown(storage)
    assert "\\<br\\> and \\<ul\\>" in markdown
    assert canonicalize(markdown_to_storage(markdown)) == canonicalize(storage)


def test_inline_macros_stay_inline_and_block_macros_are_placeholders_of_their_own() -> None:
    markdown = storage_to_markdown(read("server_release_notes"))
    assert "| Checkout supports Apple Pay.<br><br>Behind the flag `checkout.applepay`. | [status: DONE](" in markdown
    code_cell = re.search(r"New retry setting:<br><br>\[macro code: retry: attempts: 3\]\(([^)]*)\)", markdown)
    assert code_cell is not None
    assert (decode_inline_storage(code_cell.group(1)) or "").startswith('<ac:structured-macro ac:name="code"')


def test_a_cell_without_a_markdown_form_is_its_own_placeholder() -> None:
    # Text loose beside a paragraph has no markdown form; the rest of the table still reads as markdown.
    storage = table("<tr><th>Key</th><th>Value</th></tr><tr><td>a</td><td>loose<p>para</p></td></tr>")
    markdown = storage_to_markdown(storage)
    assert markdown.splitlines()[:2] == ["| Key | Value |", "| --- | --- |"]
    placeholder = re.search(r"^\| a \| \[cell: loosepara\]\(([^)]*)\) \|$", markdown, re.MULTILINE)
    assert placeholder is not None and decode_inline_storage(placeholder.group(1)) == "loose<p>para</p>"
    assert markdown_to_storage(markdown) == storage


@pytest.mark.parametrize("storage", [
    table('<tr><td colspan="2">merged</td></tr><tr><td>a</td><td>b</td></tr>'),
    table('<tr><th>a</th></tr><tr><td style="text-align: center;">b</td></tr>'),
    table("<tr><th>a</th><th>b</th></tr><tr><td>only one</td></tr>"),
    table("<tr><td>a</td></tr><tr><th>b</th></tr>"),
    "<table><thead><tr><th>a</th></tr><tr><th>b</th></tr></thead><tbody><tr><td>c</td></tr></tbody></table>",
    '<table data-layout="full-width"><tbody><tr><td>a</td></tr></tbody></table>',
], ids=["colspan", "aligned-cell", "ragged-rows", "header-row-last", "two-row-thead", "full-width"])
def test_tables_markdown_cannot_show_stay_storage(storage: str) -> None:
    assert storage_to_markdown(storage) == f"```confluence-storage table\n{storage}\n```"


def test_pretty_printed_server_storage_reads_as_markdown() -> None:
    storage = ('<table class="wrapped">\n<colgroup><col/><col/></colgroup>\n<tbody>\n<tr>\n<th colspan="1">A</th>\n'
               '<th colspan="1">B</th></tr>\n<tr>\n<td colspan="1">\n<div class="content-wrapper">\n<p>one</p>\n'
               "<p>two</p></div></td>\n<td>x</td></tr></tbody></table>")
    markdown = storage_to_markdown(storage)
    assert markdown == "| A | B |\n| --- | --- |\n| one<br><br>two | x |"
    assert keep_unchanged_blocks(storage, markdown_to_storage(markdown)) == storage


def test_an_edited_cell_rewrites_only_its_own_content() -> None:
    storage = read("cloud_meeting_notes")
    markdown = storage_to_markdown(storage).replace("Nothing else.", "Nothing else, really.")
    written = keep_unchanged_blocks(storage, markdown_to_storage(markdown))
    # the table's ids and column widths, the other cells' `<p>` wrappers and the page's last newline: as stored
    assert written == storage.replace("Nothing else.", "Nothing else, really.")
    assert storage_to_markdown(written) == markdown


def test_an_edit_inside_a_cell_list_is_written() -> None:
    storage = read("server_team_directory")
    markdown = storage_to_markdown(storage).replace("<li>Create a ticket</li>", "<li>Create a P1 ticket</li>")
    written = keep_unchanged_blocks(storage, markdown_to_storage(markdown))
    assert "<td><ul><li>Create a P1 ticket</li><li>Notify the team lead</li></ul></td>" in written
    assert written.startswith(storage[: storage.index("<h2>Escalation</h2>") + len("<h2>Escalation</h2>")])
