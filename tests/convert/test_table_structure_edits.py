"""Rows and columns added or removed in the same edit as other changes: the stored rows still keep their bytes
(Server's empty lines, `th` header cells, `colspan`, Cloud's `<p>` wrappers) where their text is unchanged, an
edited row is paired with its stored row even when a row is added or removed beside it, and an edited cell keeps
Server's content wrapper."""

from __future__ import annotations

from pathlib import Path

import pytest

from confluence_mcp.confluence.convert import keep_unchanged_blocks, markdown_to_storage, storage_to_markdown
from confluence_mcp.confluence.convert.canonical import canonicalize

TABLES = Path(__file__).resolve().parent.parent / "fixtures" / "storage" / "tables"
SERVER = (TABLES / "server_blank_lines.xml").read_text()
CLOUD = (TABLES / "cloud_meeting_notes.xml").read_text()
RELEASE = (TABLES / "server_release_notes.xml").read_text()
KEYS = ('<table class="wrapped"><colgroup><col/><col/></colgroup><tbody><tr><th>Owner</th><td>Ada</td></tr>'
        '<tr><th colspan="1">Status</th><td colspan="1">Done</td></tr></tbody></table>')
BILLING = "| Billing | Check the payment queue.<br><br>Then page the owner. | Weekdays only. |"
MAIL = "| Mail | Restart postfix. | 24/7 |"
SERVER_MAIL = "<tr><td>Mail</td><td>Restart postfix.</td><td>24/7</td></tr>"


def write(stored: str, markdown: str) -> str:
    """`markdown` written over `stored`; what was written is what the markdown says."""
    written = markdown_to_storage(markdown)
    merged = keep_unchanged_blocks(stored, written)
    assert canonicalize(merged) == canonicalize(written)
    assert storage_to_markdown(merged) == storage_to_markdown(written)
    return merged


def with_column(markdown: str, header: str, position: int, cells: list[str] | None) -> str:
    """The table whose header line starts with `header` with a column inserted at `position` (`cells` top to
    bottom, the delimiter row skipped), or removed there when `cells` is None."""
    lines = markdown.splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith(header))
    values = iter(["---" if index == 1 else cell for index, cell in enumerate([cells[0], "", *cells[1:]])]) \
        if cells is not None else None
    for index in range(start, len(lines)):
        if not lines[index].startswith("|"):
            break
        row = lines[index][2:-2].split(" | ")
        if values is None:
            del row[position]
        else:
            row.insert(position, next(values))
        lines[index] = "| " + " | ".join(row) + " |"
    return "\n".join(lines) + ("\n" if markdown.endswith("\n") else "")


def test_a_column_and_a_row_added_keep_the_stored_rows() -> None:
    markdown = with_column(storage_to_markdown(SERVER), "| Service", 3, ["Owner", "Ann", "Bo", "Cy"])
    markdown = markdown.replace("| Auth |", "| Mail | Restart postfix. | 24/7 | Di |\n| Auth |")
    expected = SERVER.replace("<colgroup><col/><col/><col/></colgroup>", "") \
        .replace("Notes</th>", "Notes</th><th>Owner</th>")
    for owner, row in zip(["Ann", "Bo", "Cy"], expected.split("</td></tr>")[:3], strict=True):
        expected = expected.replace(row + "</td></tr>", row + f"</td><td>{owner}</td></tr>")
    mail = "<tr><td>Mail</td><td>Restart postfix.</td><td>24/7</td><td>Di</td></tr>"
    assert write(SERVER, markdown) == expected.replace('<tr><td colspan="1">Auth', mail + '<tr><td colspan="1">Auth')


def test_a_column_added_in_the_middle_with_a_row_and_an_edit() -> None:
    markdown = with_column(storage_to_markdown(SERVER), "| Service", 1, ["Owner", "Ann", "Bo", "Cy"])
    markdown = markdown.replace("Then page the owner.", "Then page the on-call owner.") \
        .replace("| Search |", "| Mail | Di | Restart postfix. | 24/7 |\n| Search |")
    merged = write(SERVER, markdown)
    # Every stored cell as stored (the edited one with its empty line), the new ones bare.
    assert '<th colspan="1">Service</th><th>Owner</th><th colspan="1">Steps</th>' in merged
    assert '<td colspan="1">Billing</td><td>Ann</td><td colspan="1"><p>Check the payment queue.</p><p><br/></p>' \
           "<p>Then page the on-call owner.</p></td>" in merged
    assert "</tr><tr><td>Mail</td><td>Di</td><td>Restart postfix.</td><td>24/7</td></tr>" in merged
    assert '<td colspan="1">Auth</td><td>Cy</td><td colspan="1"><ul><li>Rotate the keys</li></ul><p><br/></p>' \
           '<ul><li>Flush the sessions</li></ul></td><td colspan="1"><p><br/></p></td></tr>' in merged


def test_a_column_removed_and_a_row_added_keep_the_other_cells() -> None:
    markdown = with_column(storage_to_markdown(SERVER), "| Service", 2, None).replace(
        "| Auth |", "| Mail | Restart postfix. |\n| Auth |")
    stored_notes = ['<th colspan="1">Notes</th>', '<td colspan="1"><p>Weekdays only.</p><p><br/></p></td>',
                    '<td colspan="1"><p><br/></p><p>See the <a href="https://wiki.example.com/search">runbook</a>.'
                    "</p></td>", '<td colspan="1"><p><br/></p></td>']
    expected = SERVER.replace("<colgroup><col/><col/><col/></colgroup>", "")
    for cell in stored_notes:
        expected = expected.replace(cell, "")
    mail = "<tr><td>Mail</td><td>Restart postfix.</td></tr>"
    assert write(SERVER, markdown) == expected.replace('<tr><td colspan="1">Auth', mail + '<tr><td colspan="1">Auth')


def test_cloud_a_column_and_a_row_added_keep_the_stored_rows() -> None:
    # The new column's cells in the stored rows get Cloud's `<p>` as their neighbours have; the new row is as written.
    markdown = with_column(storage_to_markdown(CLOUD), "| **Time**", 2, ["**Owner**", "Ann", "Bo", "Cy"])
    markdown = markdown.replace("| 5 min |", "| 1 min | Wrap-up | Di | Thanks. |\n| 5 min |")
    merged = write(CLOUD, markdown)
    table = CLOUD[CLOUD.index('<table data-table-width="760" data-layout="default" ac:local-id="0d6c0f7e-2222">'):]
    table = table[: table.index("</table>") + len("</table>")]
    expected = table.replace('<colgroup><col style="width: 80.0px;"/><col style="width: 180.0px;"/>'
                             '<col style="width: 500.0px;"/></colgroup>', "") \
        .replace("<strong>Item</strong></p></th>",
                 "<strong>Item</strong></p></th><th><p><strong>Owner</strong></p></th>") \
        .replace("<p>Roadmap</p></td>", "<p>Roadmap</p></td><td><p>Ann</p></td>") \
        .replace("<p>Incidents</p></td>", "<p>Incidents</p></td><td><p>Bo</p></td>") \
        .replace("<p>AOB</p></td>", "<p>AOB</p></td><td><p>Cy</p></td>") \
        .replace("<tr><td><p>5 min</p>",
                 "<tr><td>1 min</td><td>Wrap-up</td><td>Di</td><td>Thanks.</td></tr><tr><td><p>5 min</p>")
    assert merged == CLOUD.replace(table, expected)


def test_a_new_row_in_a_table_with_a_new_column_takes_the_header_column_kind() -> None:
    markdown = with_column(storage_to_markdown(KEYS), "|  |", 2, ["", "May", "June"])
    markdown = markdown.replace("| Status |", "| Due | Friday | July |\n| Status |")
    assert keep_unchanged_blocks(KEYS, markdown_to_storage(markdown)) == \
        '<table class="wrapped"><tbody><tr><th>Owner</th><td>Ada</td><td>May</td></tr>' \
        "<tr><th>Due</th><td>Friday</td><td>July</td></tr>" \
        '<tr><th colspan="1">Status</th><td colspan="1">Done</td><td>June</td></tr></tbody></table>'


@pytest.mark.parametrize(("old", "new", "after"), [("Weekdays only.", "Weekends too.", True),
                                                   ("the owner.", "the on-call owner.", False)])
def test_an_edited_row_with_a_row_added_beside_it_keeps_its_unchanged_cells(old: str, new: str, after: bool) -> None:
    markdown = storage_to_markdown(SERVER)
    edited = BILLING.replace(old, new)
    merged = write(SERVER, markdown.replace(BILLING, edited + "\n" + MAIL if after else MAIL + "\n" + edited))
    expected = SERVER.replace(old, new)
    row = '<tr><td colspan="1">Search' if after else '<tr><td colspan="1">Billing'
    assert merged == expected.replace(row, SERVER_MAIL + row)


def test_an_edited_row_with_the_row_beside_it_removed_keeps_its_unchanged_cells() -> None:
    markdown = storage_to_markdown(SERVER)
    search = next(line for line in markdown.splitlines() if line.startswith("| Search |"))
    merged = write(SERVER, markdown.replace(BILLING, BILLING.replace("Weekdays only.", "Weekends too."))
                   .replace(search + "\n", ""))
    start = SERVER.index('<tr><td colspan="1">Search')
    expected = SERVER[:start] + SERVER[SERVER.index("</tr>", start) + len("</tr>"):]
    assert merged == expected.replace("<p>Weekdays only.</p>", "<p>Weekends too.</p>")


def test_cloud_an_edited_row_with_a_row_added_after_it_keeps_its_cells() -> None:
    markdown = storage_to_markdown(CLOUD)
    merged = write(CLOUD, markdown.replace("| 10 min | Roadmap |", "| 10 min | Roadmap (moved) |")
                   .replace("| 15 min |", "| 12 min | Hiring | Two open roles. |\n| 15 min |"))
    assert merged == CLOUD.replace("<p>Roadmap</p>", "<p>Roadmap (moved)</p>").replace(
        "<tr><td><p>15 min</p>", "<tr><td>12 min</td><td>Hiring</td><td>Two open roles.</td></tr>"
        "<tr><td><p>15 min</p>")


def test_an_edited_cell_keeps_the_content_wrapper() -> None:
    merged = write(RELEASE, storage_to_markdown(RELEASE).replace("New retry setting:", "New retry settings:"))
    assert merged == RELEASE.replace("New retry setting:", "New retry settings:")


def test_an_edited_cell_keeps_the_empty_lines_in_its_content_wrapper() -> None:
    stored = ('<table class="wrapped"><tbody><tr><th>Step</th><th>Notes</th></tr><tr><td colspan="1">Deploy</td>'
              '<td colspan="1"><div class="content-wrapper"><p>One.</p><p><br/></p><p>Two.</p><p><br/></p></div>'
              "</td></tr></tbody></table>")
    merged = write(stored, storage_to_markdown(stored).replace("Two.", "Two, then three."))
    assert merged == stored.replace("Two.", "Two, then three.")


def test_moved_columns_and_rows_keep_their_stored_cells() -> None:
    # The columns reversed and the last row moved first: every cell as stored, the column widths too (moved along).
    markdown = storage_to_markdown(SERVER)
    lines = markdown.splitlines()
    table = ["| " + " | ".join(reversed(line[2:-2].split(" | "))) + " |" for line in lines[2:7]]
    table[2:5] = [table[4], table[2], table[3]]  # the last row first
    merged = write(SERVER, "\n".join(lines[:2] + table + lines[7:]) + "\n")
    body = SERVER[SERVER.index("<tbody>") + len("<tbody>") : SERVER.index("</tbody>")]
    rows = body.split("</tr>")[:-1]
    cells = [row.removeprefix("<tr>").replace("</td><td", "</td>\x00<td").replace("</th><th", "</th>\x00<th")
             .split("\x00") for row in rows]
    expected = "".join("<tr>" + "".join(reversed(row)) + "</tr>" for row in [cells[0], cells[3], cells[1], cells[2]])
    assert merged == SERVER.replace(body, expected)


def test_cloud_moved_columns_take_their_widths_along() -> None:
    markdown = storage_to_markdown(CLOUD)
    lines = markdown.splitlines()
    start = lines.index("| **Team** | **People** |")
    lines[start : start + 4] = ["| " + " | ".join(reversed(line[2:-2].split(" | "))) + " |"
                                for line in lines[start : start + 4]]
    merged = write(CLOUD, "\n".join(lines) + "\n")
    assert '<colgroup><col style="width: 570.0px;"/><col style="width: 190.0px;"/></colgroup>' in merged
    assert "<tr><th><p><strong>People</strong></p></th><th><p><strong>Team</strong></p></th></tr>" in merged
    assert "<tr><td><p /></td><td><p>Design</p></td></tr>" in merged


def test_a_long_table_with_a_column_and_a_row_added_keeps_its_stored_rows() -> None:
    # Too many rows to weigh every pair: rows pair by the texts only they hold, and every stored row still stays.
    def row(index: int, extra: str = "") -> str:
        return f'<tr><td colspan="1"><p>Step {index}</p><p><br/></p></td><td colspan="1"><p><br/></p></td>{extra}</tr>'

    stored = ('<table class="wrapped"><tbody><tr><th>Step</th><th>Notes</th></tr>'
              + "".join(row(index) for index in range(700)) + "</tbody></table>")
    lines = storage_to_markdown(stored).splitlines()
    lines = [lines[0] + " Owner |", lines[1] + " --- |"] + [line + " Ann |" for line in lines[2:]]
    lines.insert(352, "| Step 350a | Check | Bo |")
    merged = write(stored, "\n".join(lines))
    rows = [row(index, "<td><p>Ann</p></td>") for index in range(700)]  # in a <p> as the cells beside it
    rows.insert(350, "<tr><td>Step 350a</td><td>Check</td><td>Bo</td></tr>")
    assert merged == ('<table class="wrapped"><tbody><tr><th>Step</th><th>Notes</th><th>Owner</th></tr>'
                      + "".join(rows) + "</tbody></table>")
