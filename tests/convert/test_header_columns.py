"""Tables with a header column (key/value tables: a `th` first in every row) read as GFM tables, their keys as plain
cells; unchanged markdown writes back the stored bytes, an edited cell keeps its kind, a new row takes each column's
kind from the stored rows, and a table markdown cannot show exactly still stays storage."""

from __future__ import annotations

from pathlib import Path

import pytest

from confluence_mcp.confluence.convert import keep_unchanged_blocks, markdown_to_storage, storage_to_markdown
from confluence_mcp.confluence.convert.outline import storage_to_outline_markdown

TABLES = Path(__file__).resolve().parent.parent / "fixtures" / "storage" / "tables"
# As the Server editor stores them: bare cells, colspan="1" on cells edited later, a wrapped table.
SERVER = ('<table class="wrapped"><colgroup><col/><col/></colgroup><tbody><tr><th>Owner</th><td>Ada</td></tr>'
          '<tr><th colspan="1">Status</th><td colspan="1">Done</td></tr></tbody></table>')
SERVER_HEADED = ('<table class="wrapped"><colgroup><col/><col/></colgroup><tbody><tr><th>Key</th><th>Value</th></tr>'
                 "<tr><th>Owner</th><td>Ada</td></tr><tr><th>Status</th><td>Done</td></tr></tbody></table>")
# As the Cloud editor stores them: every cell's text in a `<p>`, the keys bold, ids and column widths.
CLOUD = ('<table data-table-width="760" data-layout="default" ac:local-id="a1"><colgroup><col style="width: 380.0px;"/>'
         '<col style="width: 380.0px;"/></colgroup><tbody><tr><th><p><strong>Owner</strong></p></th><td><p>Ada</p></td>'
         "</tr><tr><th><p><strong>Status</strong></p></th><td><p>Done</p></td></tr></tbody></table>")
SHAPES = {"server": SERVER, "server-headed": SERVER_HEADED, "cloud": CLOUD}
READ = {
    "server": ["|  |  |", "| --- | --- |", "| Owner | Ada |", "| Status | Done |"],
    "server-headed": ["| Key | Value |", "| --- | --- |", "| Owner | Ada |", "| Status | Done |"],
    "cloud": ["|  |  |", "| --- | --- |", "| **Owner** | Ada |", "| **Status** | Done |"],
}


def edit(stored: str, old: str, new: str) -> str:
    markdown = storage_to_markdown(stored)
    assert old in markdown
    return keep_unchanged_blocks(stored, markdown_to_storage(markdown.replace(old, new)))


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_header_columns_read_as_plain_cells(shape: str) -> None:
    assert storage_to_markdown(SHAPES[shape]).splitlines() == READ[shape]


@pytest.mark.parametrize("page", ["{}", "<p>Before</p>{}\n", "<p>Before</p>{}<p>After</p>\n", "{}<p>After</p>"])
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_unchanged_markdown_writes_back_the_stored_bytes(shape: str, page: str) -> None:
    # First or last on the page too, where the bytes beside the table (Server's trailing newline) must stay.
    stored = page.format(SHAPES[shape])
    markdown = storage_to_markdown(stored)
    assert "confluence-storage" not in markdown
    assert keep_unchanged_blocks(stored, markdown_to_storage(markdown)) == stored


@pytest.mark.parametrize(("shape", "old", "new", "stored_old", "stored_new"), [
    ("server", "| Ada |", "| Bob |", ">Ada<", ">Bob<"),
    ("server", "| Status |", "| State |", ">Status<", ">State<"),
    ("server-headed", "| Status |", "| State |", ">Status<", ">State<"),
    ("cloud", "| Ada |", "| Bob |", "<p>Ada</p>", "<p>Bob</p>"),
    ("cloud", "| **Owner** |", "| **Lead** |", "<strong>Owner</strong>", "<strong>Lead</strong>"),
    ("cloud", "| **Owner** |", "| Lead |", "<strong>Owner</strong>", "Lead"),
], ids=["server-value", "server-key", "server-headed-key", "cloud-value", "cloud-key", "cloud-key-unbolded"])
def test_an_edited_cell_keeps_its_kind_and_the_rest_its_bytes(shape: str, old: str, new: str, stored_old: str,
                                                               stored_new: str) -> None:
    assert edit(SHAPES[shape], old, new) == SHAPES[shape].replace(stored_old, stored_new)


@pytest.mark.parametrize(("shape", "after", "stored_after"), [
    ("server", "| Owner | Ada |", "<tr><th>Owner</th><td>Ada</td></tr>"),
    ("server-headed", "| Owner | Ada |", "<tr><th>Owner</th><td>Ada</td></tr>"),
    ("cloud", "| **Owner** | Ada |", "<tr><th><p><strong>Owner</strong></p></th><td><p>Ada</p></td></tr>"),
])
def test_a_new_row_takes_the_kind_of_each_column(shape: str, after: str, stored_after: str) -> None:
    new_row = "<tr><th>Due</th><td>Friday</td></tr>"
    assert edit(SHAPES[shape], after, f"{after}\n| Due | Friday |") == \
        SHAPES[shape].replace(stored_after, stored_after + new_row)


def test_a_removed_row_leaves_the_others_alone() -> None:
    assert edit(SERVER, "| Owner | Ada |\n", "") == SERVER.replace("<tr><th>Owner</th><td>Ada</td></tr>", "")


def test_the_header_row_can_be_added_or_removed() -> None:
    headed = edit(SERVER, "|  |  |", "| Key | Value |")
    assert headed == SERVER.replace("<tbody>", "<tbody><tr><th>Key</th><th>Value</th></tr>")
    # Removed, the former header row is a body row and takes the body's kinds.
    assert edit(SERVER_HEADED, "| Key | Value |\n| --- | --- |", "|  |  |\n| --- | --- |\n| Key | Value |") == \
        SERVER_HEADED.replace("<th>Value</th>", "<td>Value</td>")


def test_a_new_table_is_written_as_markdown_says_and_leaves_the_stored_one_alone() -> None:
    new_table = "| Name | Role |\n| --- | --- |\n| Ann | Lead |"
    written = edit(SERVER + "<p>End</p>", "End", f"End\n\n{new_table}")
    assert written == SERVER + "<p>End</p><table><tbody><tr><th>Name</th><th>Role</th></tr>" \
        "<tr><td>Ann</td><td>Lead</td></tr></tbody></table>"
    assert markdown_to_storage(f"|  |  |\n| --- | --- |\n| Owner | Ada |\n\n{new_table}") == \
        "<table><tbody><tr><td>Owner</td><td>Ada</td></tr></tbody></table><table><tbody><tr><th>Name</th>" \
        "<th>Role</th></tr><tr><td>Ann</td><td>Lead</td></tr></tbody></table>"


@pytest.mark.parametrize("header", ["| City | Population |", "|  |  |"])
def test_a_table_rewritten_with_none_of_its_keys_takes_no_header_column(header: str) -> None:
    # A whole-body rewrite putting another table of the same width where the key/value table was: its first column
    # holds no stored key, so it is written as markdown says, not with the stored table's `th` keys.
    stored = f"<p>Intro</p>{SERVER}"
    written = keep_unchanged_blocks(stored, markdown_to_storage(
        f"New intro\n\n{header}\n| --- | --- |\n| Paris | 2M |\n| Rome | 3M |"))
    assert "<th>Paris</th>" not in written and "<th>Rome" not in written and "<th colspan=\"1\">Rome" not in written
    assert "<td>Paris</td><td>2M</td>" in written
    # A cell kept, the header column stays, for the new keys too: a renamed key in a one-row table keeps its `th`.
    kept = edit(SERVER, "| Status | Done |", "| Due | Friday |")
    assert kept == SERVER.replace(">Status<", ">Due<").replace(">Done<", ">Friday<")
    one_row = "<table><tbody><tr><th>Reviewed</th><td>No</td></tr></tbody></table>"
    assert edit(one_row, "| Reviewed |", "| Approved |") == one_row.replace("Reviewed", "Approved")


def test_a_second_key_value_table_on_the_page_keeps_its_header_column_when_one_is_added_before_it() -> None:
    second = SERVER.replace("Ada", "Bo")
    stored = f"{SERVER}<p>And:</p>{second}"
    written = edit(stored, "And:", "And:\n\n|  |\n| --- |\n| new |\n\nThen:")
    assert written == f"{SERVER}<p>And:</p><table><tbody><tr><td>new</td></tr></tbody></table><p>Then:</p>{second}"


def test_the_server_decision_fixture_reads_and_edits() -> None:
    stored = (TABLES / "server_decision.xml").read_text()
    markdown = storage_to_markdown(stored)
    assert "| Estimated cost | Large | Medium |" in markdown and "|  | Kafka | RabbitMQ |" in markdown
    written = edit(stored, "| Estimated cost | Large |", "| Estimated cost | Very large |")
    assert written == stored.replace("<td>Large</td>", "<td>Very large</td>")
    row = "| Estimated cost | Large | Medium |"
    written = edit(stored, row, f"{row}\n| Owner | Data | Platform |")
    assert "<tr><th>Owner</th><td>Data</td><td>Platform</td></tr>" in written


@pytest.mark.parametrize("storage", [
    "<table><tbody><tr><th>a</th><td>b</td></tr><tr><td>c</td><td>d</td></tr></tbody></table>",
    "<table><tbody><tr><th>a</th><td>b</td></tr><tr><th>c</th><th>d</th></tr></tbody></table>",
    '<table><tbody><tr><th>a</th><td>b</td></tr><tr><th colspan="2">c</th></tr></tbody></table>',
    "<table><tbody><tr><th>a</th><td>b</td></tr><tr><th>c</th></tr></tbody></table>",
    '<table><tbody><tr><th style="background: red;">a</th><td>b</td></tr></tbody></table>',
], ids=["stray-td", "stray-th", "merged", "ragged", "styled"])
def test_tables_with_header_cells_markdown_cannot_show_stay_storage(storage: str) -> None:
    assert storage_to_markdown(storage) == f"```confluence-storage table\n{storage}\n```"


def test_the_index_outline_is_unchanged() -> None:
    assert storage_to_outline_markdown(SERVER_HEADED) == \
        "| Key | Value |\n| Owner | Ada |\n| Status | Done |"


KEY_VALUE = (TABLES / "cloud_key_value.xml").read_text().rstrip("\n")  # as Cloud returns it


@pytest.mark.parametrize(("old", "new", "stored_old", "stored_new"), [
    ("| EU |", "| Europe |", "<p>EU</p>", "<p>Europe</p>"),
    ("| **Endpoint** |", "| **URL** |", "<strong>Endpoint</strong>", "<strong>URL</strong>"),
    ("| US | [us.example.com](https://us.example.com) |",
     "| US | [us.example.com](https://us.example.com) |\n| Asia | Soon |",
     "us.example.com</a></p></td></tr>", "us.example.com</a></p></td></tr><tr><th>Asia</th><td>Soon</td></tr>"),
    ("| **Region** | **Endpoint** |\n| --- | --- |", "|  |  |\n| --- | --- |\n| **Region** | **Endpoint** |",
     "<thead><tr><th><p><strong>Region</strong></p></th><th><p><strong>Endpoint</strong></p></th></tr></thead><tbody>",
     "<tbody><tr><th><strong>Region</strong></th><td><strong>Endpoint</strong></td></tr>"),
], ids=["body-cell", "head-cell", "new-row", "header-row-removed"])
def test_a_header_row_in_a_thead_stays_there(old: str, new: str, stored_old: str, stored_new: str) -> None:
    # Removed, the header row is a body row like the others (its key a `th`) and the `thead` goes.
    assert edit(KEY_VALUE, old, new) == KEY_VALUE.replace(stored_old, stored_new)


def test_a_paragraph_ending_in_a_line_break_reads_as_three_breaks() -> None:
    assert "| **Runbook** | Restart the pods<br><br><br>Then check the dashboard. |" in storage_to_markdown(KEY_VALUE)
    written = edit(KEY_VALUE, "the dashboard.", "the status page.")
    assert written == KEY_VALUE.replace("the dashboard.", "the status page.")
    # Written fresh: the paragraph keeps its line break; more breaks, more line breaks.
    assert markdown_to_storage("| a<br><br><br>b | a<br><br><br><br>b |\n| --- | --- |") == \
        "<table><tbody><tr><th><p>a<br/></p><p>b</p></th><th><p>a<br/><br/></p><p>b</p></th></tr></tbody></table>"
    assert markdown_to_storage("| a<br><br>b | <br><br><br>b |\n| --- | --- |") == \
        "<table><tbody><tr><th><p>a</p><p>b</p></th><th><br/>b</th></tr></tbody></table>"
