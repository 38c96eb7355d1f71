"""Editing a table in markdown rewrites only what changed: the other cells keep their stored bytes (Server's empty
lines, colspan, Cloud's `<p>` wrappers and ids), an edited cell keeps the empty lines beside its paragraphs, rows
and columns added or removed leave the others alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from confluence_mcp.confluence.convert import keep_unchanged_blocks, markdown_to_storage, storage_to_markdown
from confluence_mcp.confluence.convert.canonical import canonicalize

TABLES = Path(__file__).resolve().parent.parent / "fixtures" / "storage" / "tables"
SERVER = (TABLES / "server_blank_lines.xml").read_text()
CLOUD = (TABLES / "cloud_meeting_notes.xml").read_text()


def write_back(stored: str, edit: tuple[str, str]) -> str:
    markdown = storage_to_markdown(stored)
    assert edit[0] in markdown
    written = markdown_to_storage(markdown.replace(*edit))
    merged = keep_unchanged_blocks(stored, written)
    assert canonicalize(merged) == canonicalize(written)  # what was written is what the markdown says
    assert storage_to_markdown(merged) == markdown.replace(*edit)
    return merged


@pytest.mark.parametrize(("edit", "stored_edit"), [
    (("| Billing |", "| Payments |"), (">Billing<", ">Payments<")),
    (("the owner.", "the on-call owner."), ("the owner.", "the on-call owner.")),
    (("Weekdays only. |", "Weekdays only, 9 to 5. |"), ("Weekdays only.", "Weekdays only, 9 to 5.")),
    (("Restart in this order:", "Restart in order:"), ("Restart in this order:", "Restart in order:")),
    (("<li>Flush the sessions</li>", "<li>Flush the sessions</li><li>Tell support</li>"),
     ("<li>Flush the sessions</li>", "<li>Flush the sessions</li><li>Tell support</li>")),
], ids=["other-cell", "paragraph-after-empty-line", "paragraph-before-empty-line", "bare-paragraph-before-list",
        "list-after-empty-line"])
def test_server_empty_lines_in_cells_survive_an_edit(edit: tuple[str, str], stored_edit: tuple[str, str]) -> None:
    # Only the edited text changes: the empty lines of every cell, the edited one's too, colspan and the column
    # widths stay, and so does the newline after the page's last block, which was not edited.
    assert write_back(SERVER, edit) == SERVER.replace(*stored_edit)


def test_server_empty_lines_in_cells_read_as_nothing() -> None:
    lines = storage_to_markdown(SERVER).splitlines()
    assert lines[4:7] == [
        "| Billing | Check the payment queue.<br><br>Then page the owner. | Weekdays only. |",
        "| Search | Restart in this order:<ol><li>indexer</li><li>frontend</li></ol> | See the "
        "[runbook](https://wiki.example.com/search). |",
        "| Auth | <ul><li>Rotate the keys</li></ul><ul><li>Flush the sessions</li></ul> |  |"]


def test_an_added_row_leaves_the_stored_rows_and_widths_alone() -> None:
    merged = write_back(SERVER, ("| Auth |", "| Mail | Restart postfix. | 24/7 |\n| Auth |"))
    row = '<tr><td>Mail</td><td>Restart postfix.</td><td>24/7</td></tr><tr><td colspan="1">Auth'
    assert merged == SERVER.replace('<tr><td colspan="1">Auth', row)


def test_an_added_column_keeps_the_stored_cells_but_not_the_widths() -> None:
    markdown = storage_to_markdown(SERVER)
    lines = markdown.splitlines()
    table = [line + (" Owner |" if index == 2 else " --- |" if index == 3 else " Ann |") for index, line in
             enumerate(lines) if 2 <= index < 7]
    merged = keep_unchanged_blocks(SERVER, markdown_to_storage("\n".join(lines[:2] + table + lines[7:])))
    assert "<colgroup>" not in merged and merged.count("<td>Ann</td>") == 3 and "<th>Owner</th>" in merged
    assert merged == SERVER.replace("<colgroup><col/><col/><col/></colgroup>", "") \
        .replace('Notes</th>', 'Notes</th><th>Owner</th>').replace("</td></tr>", "</td><td>Ann</td></tr>")


def test_a_removed_row_leaves_the_others_alone() -> None:
    merged = write_back(CLOUD, ("| 10 min | Roadmap |", "| 10 min | Roadmap (moved) |"))
    assert merged == CLOUD.replace("<p>Roadmap</p>", "<p>Roadmap (moved)</p>")
    markdown = storage_to_markdown(CLOUD)
    row = next(line for line in markdown.splitlines() if line.startswith("| 15 min |"))
    merged = keep_unchanged_blocks(CLOUD, markdown_to_storage(markdown.replace(row + "\n", "")))
    start = CLOUD.index("<tr><td><p>15 min</p>")
    assert merged == CLOUD[:start] + CLOUD[CLOUD.index("</tr>", start) + len("</tr>") :]
