"""The Page Properties macro (`details`) reads as a `> [!DETAILS] id=x hidden=true` blockquote around its body's
markdown, and writes back to the same macro: unchanged markdown keeps the stored bytes, an edited cell only that.

Fixture shapes (tests/fixtures/storage/tables/): `server_page_properties` is the macro as Server/DC's product
requirements and decision blueprints store it (as in `server_decision`: a `wrapped` table with a `th` key column,
`colspan="1"` on cells added later, `<br/>` in empty cells), with the `id` and `hidden` parameters the macro browser
writes; `cloud_page_properties` as the Cloud editor stores its decision template's (`data-layout` and `ac:local-id`
on the macro, `<p><strong>` keys, `<p />` for an empty cell).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from confluence_mcp.confluence.convert import (
    LayoutSyntaxError,
    keep_unchanged_blocks,
    markdown_to_storage,
    storage_to_markdown,
)
from confluence_mcp.confluence.convert.canonical import canonicalize
from confluence_mcp.confluence.convert.details import DetailsSyntaxError, merge_macro
from confluence_mcp.confluence.convert.outline import storage_to_outline_markdown
from confluence_mcp.confluence.convert.text import storage_to_text

TABLES = Path(__file__).resolve().parent.parent / "fixtures" / "storage" / "tables"
SERVER = (TABLES / "server_page_properties.xml").read_text()
CLOUD = (TABLES / "cloud_page_properties.xml").read_text()
OPEN = '<ac:structured-macro ac:name="details" ac:schema-version="1" ac:macro-id="m1">'
KEY_VALUE = "<table><tbody><tr><th>Owner</th><td>Ada</td></tr><tr><th>Status</th><td>Done</td></tr></tbody></table>"


def details(parameters: str = "", body: str = KEY_VALUE) -> str:
    return f"{OPEN}{parameters}<ac:rich-text-body>{body}</ac:rich-text-body></ac:structured-macro>"


def parameter(name: str, value: str) -> str:
    return f'<ac:parameter ac:name="{name}">{value}</ac:parameter>'


def write(stored: str, markdown: str) -> str:
    return keep_unchanged_blocks(stored, markdown_to_storage(markdown))


@pytest.mark.parametrize("stored", [SERVER, CLOUD], ids=["server", "cloud"])
def test_page_properties_read_as_blockquotes_and_write_back_unchanged(stored: str) -> None:
    markdown = storage_to_markdown(stored)
    assert "confluence-storage macro=details" not in markdown
    assert markdown.count("> [!DETAILS]") == 2 and "> [!DETAILS] hidden=true id=" in markdown
    assert write(stored, markdown) == stored  # macro ids, schema version, th keys, empty lines: all as stored
    assert storage_to_markdown(markdown_to_storage(markdown)) == markdown


def test_the_marker_line_carries_the_parameters() -> None:
    markdown = storage_to_markdown(details(parameter("id", "decision") + parameter("hidden", "true")))
    assert markdown.splitlines() == ["> [!DETAILS] id=decision hidden=true", ">", "> |  |  |", "> | --- | --- |",
                                     "> | Owner | Ada |", "> | Status | Done |"]
    spaced = storage_to_markdown(details(parameter("id", "release plan")))
    assert spaced.startswith("> [!DETAILS] id='release plan'\n")
    written = markdown_to_storage(spaced)
    assert '<ac:parameter ac:name="id">release plan</ac:parameter>' in written
    assert storage_to_markdown(details()).startswith("> [!DETAILS]\n>\n> |")


def test_written_markdown_is_the_details_macro() -> None:
    written = markdown_to_storage('> [!DETAILS] id="a b" hidden=false\n>\n> | Key | Value |\n> | --- | --- |\n'
                                  "> | Owner | Ada |\n\nafter")
    assert written == ('<ac:structured-macro ac:name="details" ac:schema-version="1">'
                       + parameter("id", "a b") + parameter("hidden", "false") + "<ac:rich-text-body><table><tbody>"
                       "<tr><th>Key</th><th>Value</th></tr><tr><td>Owner</td><td>Ada</td></tr></tbody></table>"
                       "</ac:rich-text-body></ac:structured-macro><p>after</p>")


@pytest.mark.parametrize("line", ["> [!DETAILS] Project facts", "> [!DETAILS] label=x", "> [!DETAILS] id=a b"])
def test_marker_words_that_are_not_parameters_are_refused(line: str) -> None:
    with pytest.raises(DetailsSyntaxError, match=r"line 1: .* is not one of its parameters") as caught:
        markdown_to_storage(f"{line}\n>\n> text")
    assert isinstance(caught.value, LayoutSyntaxError)  # the write tools report it and write nothing


@pytest.mark.parametrize("stored", [
    details(parameter("id", "x") + parameter("label", "meeting")),  # a parameter the marker line does not carry
    details(parameter("id", 'say "hi"')),  # a value it cannot quote
    details(parameter("id", "<ac:link><ri:user ri:userkey=\"u1\"/></ac:link>")),  # markup in a parameter
    OPEN + parameter("id", "x") + "</ac:structured-macro>",  # no body
], ids=["unknown-parameter", "quotes", "markup", "no-body"])
def test_what_the_marker_cannot_express_keeps_the_whole_macro_a_placeholder(stored: str) -> None:
    markdown = storage_to_markdown(stored)
    assert markdown.startswith("```confluence-storage macro=details\n") and "[!DETAILS]" not in markdown
    assert write(stored, markdown) == stored


@pytest.mark.parametrize("stored", [SERVER, CLOUD], ids=["server", "cloud"])
def test_an_edited_cell_changes_only_that_cell(stored: str) -> None:
    markdown = storage_to_markdown(stored)
    if stored is SERVER:
        edited, old, new = markdown.replace("| QA | Priya |", "| QA | Sam |"), "<p>Priya</p>", "<p>Sam</p>"
    else:
        edited, old, new = markdown.replace("| **Budget** | 40k |", "| **Budget** | 50k |"), "<p>40k</p>", "<p>50k</p>"
    assert edited != markdown
    assert write(stored, edited) == stored.replace(old, new)


def test_a_new_row_takes_the_key_column_and_the_rest_stays() -> None:
    stored = details(parameter("id", "x"))
    edited = storage_to_markdown(stored) + "\n> | Due | Friday |"
    assert write(stored, edited) == stored.replace("</tr></tbody>", "</tr><tr><th>Due</th><td>Friday</td></tr></tbody>")


def test_edited_parameters_keep_the_macro_tag_and_body() -> None:
    stored = details(parameter("id", "x") + parameter("hidden", "true"))
    edited = storage_to_markdown(stored).replace("hidden=true", "hidden=false")
    assert write(stored, edited) == stored.replace(">true<", ">false<")
    dropped = write(stored, storage_to_markdown(stored).replace(" hidden=true", ""))
    assert dropped == details(parameter("id", "x"))


def test_text_around_the_table_is_merged_too() -> None:
    stored = details(body="<p>Facts</p><p><br/></p>" + KEY_VALUE)
    edited = storage_to_markdown(stored).replace("> Facts", "> Key facts").replace("| Ada |", "| Bob |")
    assert write(stored, edited) == stored.replace("Facts", "Key facts").replace(">Ada<", ">Bob<")


def test_merge_macro_writes_other_shapes_as_new() -> None:
    code = '<ac:structured-macro ac:name="code" ac:schema-version="1" ac:macro-id="c1"><ac:plain-text-body>' \
           "<![CDATA[a]]></ac:plain-text-body></ac:structured-macro>"
    new_code = code.replace(' ac:macro-id="c1"', "").replace("[a]", "[b]")
    # A code macro keeps its start tag (the macro id) with the new text as written.
    assert merge_macro(code, new_code, keep_unchanged_blocks) == code.replace("[a]", "[b]")
    other = new_code.replace('"code"', '"noformat"')
    assert merge_macro(code, other, keep_unchanged_blocks) == other  # another macro
    info = details().replace('"details"', '"info"')
    assert merge_macro(details(), info, keep_unchanged_blocks) == info  # another macro


def test_details_in_a_layout_cell_reads_as_markdown_and_merges() -> None:
    stored = ('<ac:layout><ac:layout-section ac:type="two_equal"><ac:layout-cell><p>a</p></ac:layout-cell>'
              f"<ac:layout-cell>{details(parameter('id', 'p'))}</ac:layout-cell></ac:layout-section></ac:layout>")
    markdown = storage_to_markdown(stored)
    assert ":::cell\n\n> [!DETAILS] id=p\n>\n> |  |  |" in markdown
    assert write(stored, markdown) == stored
    assert write(stored, markdown.replace("| Ada |", "| Bob |")) == stored.replace(">Ada<", ">Bob<")


def test_details_in_a_table_cell_is_a_placeholder_as_other_block_macros() -> None:
    def page(name: str) -> str:
        macro = details(body="<p>hi</p>").replace('"details"', f'"{name}"')
        return f"<table><tbody><tr><th>A</th><th>B</th></tr><tr><td>x</td><td>{macro}</td></tr></tbody></table>"

    markdown = storage_to_markdown(page("details"))
    assert "| x | [macro details: hi](confluence-storage:" in markdown
    assert markdown.replace("details", "info").split("(")[0] == storage_to_markdown(page("info")).split("(")[0]
    assert write(page("details"), markdown) == page("details")


def test_a_key_value_table_in_an_expand_or_panel_reads_as_markdown_too() -> None:
    for name, marker in (("expand", "> [!EXPAND] More"), ("info", "> [!NOTE] More")):
        stored = details(parameter("title", "More")).replace('"details"', f'"{name}"')
        markdown = storage_to_markdown(stored)
        assert markdown.startswith(f"{marker}\n>\n> |  |  |") and write(stored, markdown) == stored
        assert write(stored, markdown.replace("| Ada |", "| Bob |")) == stored.replace(">Ada<", ">Bob<")


def test_index_text_shows_the_properties() -> None:
    outline = storage_to_outline_markdown(SERVER)
    assert "| Target release | 2.4 |" in outline and "| QA | Priya |" in outline and "| Reviewed | No |" in outline
    assert "requirements" not in outline and "hidden" not in outline  # parameters are not text
    cloud = storage_to_outline_markdown(CLOUD)
    assert "| Budget | 40k |" in cloud and "| Outcome | |" in cloud
    assert re.search(r"Target release\s+2\.4", storage_to_text(SERVER))


def test_whole_page_round_trip_is_canonical_after_the_merge() -> None:
    for stored in (SERVER, CLOUD):
        written = write(stored, storage_to_markdown(stored))
        assert canonicalize(written) == canonicalize(stored)


def test_the_decision_blueprint_reads_its_properties() -> None:
    stored = (TABLES / "server_decision.xml").read_text()
    markdown = storage_to_markdown(stored)
    assert markdown.startswith("> [!DETAILS]\n>\n> |  |  |\n> | --- | --- |\n> | Status | [status: IN PROGRESS](")
    assert write(stored, markdown) == stored
    assert write(stored, markdown.replace("| Outcome |  |", "| Outcome | Kafka |")) == \
        stored.replace("<th>Outcome</th><td><br/></td>", "<th>Outcome</th><td>Kafka</td>")
