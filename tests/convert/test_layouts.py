"""Page layouts read as `:::layout` / `:::section` / `:::cell` / `:::` markers around each cell's markdown, write back
to the same storage, and refuse malformed markers with a message naming the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from confluence_mcp.confluence.convert import (
    LayoutSyntaxError,
    markdown_to_storage,
    storage_to_markdown,
    storage_to_outline_markdown,
    storage_to_text,
)
from confluence_mcp.confluence.convert.canonical import canonicalize
from confluence_mcp.index.chunking import chunk_markdown

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "storage"
CLOUD = (FIXTURES / "39_cloud_layouts.xml").read_text(encoding="utf-8")
SERVER = (FIXTURES / "40_server_layouts.xml").read_text(encoding="utf-8")


def layout(*sections: str) -> str:
    return f"<ac:layout>{''.join(sections)}</ac:layout>"


def section(kind: str, *cells: str, attributes: str = "") -> str:
    inner = "".join(f"<ac:layout-cell>{cell}</ac:layout-cell>" for cell in cells)
    return f'<ac:layout-section ac:type="{kind}"{attributes}>{inner}</ac:layout-section>'


def round_trip(storage: str) -> str:
    markdown = storage_to_markdown(storage)
    assert canonicalize(markdown_to_storage(markdown)) == canonicalize(storage), markdown
    return markdown


def test_a_layout_reads_as_markers_around_markdown() -> None:
    storage = (FIXTURES / "26_layouts.xml").read_text(encoding="utf-8")
    assert round_trip(storage) == (":::layout two_equal\n\nleft\n\n:::cell\n\nright\n\n:::section single\n\n"
                                   "## Below\n\n:::")


def test_cloud_layout_page_reads_as_markdown_cell_by_cell() -> None:
    markdown = round_trip(CLOUD)
    lines = markdown.splitlines()
    assert ":::layout fixed-width breakout-mode=default" in lines
    assert ":::section two_equal breakout-mode=wide breakout-width=1800" in lines
    assert ":::section three_with_sidebars breakout-mode=default" in lines
    assert lines.count(":::cell") == 3
    assert "\n\n:::\n\nLast reviewed [date: 2024-05-01](confluence-storage:" in markdown  # the layout ends there
    for expected in ("# Project Phoenix", "## Team", "| Lead | Ana |", "### Links", "> [!NOTE]",
                     "```yaml breakoutMode=wide", "[Runbook](confluence-page:OPS/Runbook)"):
        assert expected in lines
    # The jira macro is a placeholder of its own; the layout around it is markdown.
    assert "```confluence-storage macro=jira" in lines and "```confluence-storage ac:layout" not in lines
    # The empty first cell of the three-column section stays a cell.
    assert "\n\n".join([":::section three_with_sidebars breakout-mode=default", ":::cell", "> [!NOTE]"]) in markdown


def test_server_layout_page_reads_as_markdown_cell_by_cell() -> None:
    markdown = round_trip(SERVER)
    assert markdown.startswith("Intro before the layout.\n\n:::layout two_right_sidebar\n\n## Overview\n\n")
    assert "\n\n:::section three_equal\n\n### Step 1\n\n1. Open the console\n" in markdown
    assert "\\::: not a marker" in markdown  # text that looks like a marker reads escaped
    assert markdown.endswith("\n\n:::\n\n## After\n\nTrailing text.")


def test_a_block_that_does_not_round_trip_becomes_its_own_placeholder() -> None:
    storage = layout(section("two_equal", "<h2>Left</h2><p>a<br/></p><p>fine</p>", "<p>right</p>"))
    markdown = round_trip(storage)
    assert markdown == (":::layout two_equal\n\n## Left\n\n```confluence-storage p\n<p>a<br/></p>\n```\n\nfine\n\n"
                        ":::cell\n\nright\n\n:::")


def test_empty_cells_are_kept_and_written_with_an_empty_paragraph() -> None:
    storage = layout(section("three_equal", "", "<p/>", "<p>c</p>"))
    markdown = round_trip(storage)
    assert markdown == ":::layout three_equal\n\n:::cell\n\n:::cell\n\nc\n\n:::"
    written = markdown_to_storage(markdown)
    assert written == ('<ac:layout><ac:layout-section ac:type="three_equal"><ac:layout-cell><p/></ac:layout-cell>'
                       "<ac:layout-cell><p/></ac:layout-cell><ac:layout-cell><p>c</p></ac:layout-cell>"
                       "</ac:layout-section></ac:layout>")


def test_markers_need_no_blank_lines_and_colons_in_code_stay_code() -> None:
    markdown = "intro\n:::layout two_equal breakout-mode=wide\n- a\n- b\n:::cell\n```\n:::cell\n```\n:::\nafter"
    assert markdown_to_storage(markdown) == (
        '<p>intro</p><ac:layout><ac:layout-section ac:type="two_equal" ac:breakout-mode="wide"><ac:layout-cell>'
        "<ul><li>a</li><li>b</li></ul></ac:layout-cell><ac:layout-cell>"
        '<ac:structured-macro ac:name="code" ac:schema-version="1"><ac:plain-text-body><![CDATA[:::cell]]>'
        "</ac:plain-text-body></ac:structured-macro></ac:layout-cell></ac:layout-section></ac:layout><p>after</p>")


@pytest.mark.parametrize("storage", [
    layout(section("two_equal", "<p>only one cell</p>")),  # the cells do not fit the type
    layout(section("six_equal", *["<p>x</p>"] * 6)),  # a type we do not know
    layout(section("single", "<p>x</p>", attributes=' data-colour="red"')),  # an attribute without a marker form
    layout(section("single", "<p>x</p>", attributes=' ac:breakout-mode="it\'s"')),
    layout(section("single", "<p>x</p>")).replace("<ac:layout-cell>", '<ac:layout-cell ac:width="50">'),
    layout(section("single", "<p>x</p>")).replace("</ac:layout-section>", "</ac:layout-section>loose text"),
    layout(section("single", "<p>x</p>")).replace("<ac:layout>", '<ac:layout data-x="1">'),
], ids=["cell-count", "unknown-type", "foreign-attribute", "quote-in-value", "cell-attribute", "loose-text",
        "layout-attribute"])
def test_layouts_markers_cannot_express_stay_storage(storage: str) -> None:
    markdown = round_trip(storage)
    assert markdown.startswith("```confluence-storage ac:layout\n"), markdown


def test_section_attributes_with_spaces_are_quoted() -> None:
    storage = layout(section("single", "<p>x</p>", attributes=' ac:breakout-mode="a b"'))
    assert round_trip(storage).startswith(":::layout single breakout-mode='a b'\n")
    written = markdown_to_storage(':::layout single breakout-mode="wide"  breakout-width=\'1 2\'\n\nx\n\n:::')
    assert written.startswith('<ac:layout><ac:layout-section ac:type="single" ac:breakout-mode="wide" '
                              'ac:breakout-width="1 2"><ac:layout-cell><p>x</p>')


@pytest.mark.parametrize(("markdown", "message"), [
    ("text\n\n:::cell\n\nmore", "`:::cell` on line 3: it belongs in a layout, but no layout is open"),
    ("text\n\n:::", "`:::` on line 3: it closes a layout, but no layout is open"),
    (":::section single\n\nx", "no layout is open; start one with `:::layout <section type>`"),
    (":::layout two_equal\n\na\n\n:::cell\n\nb", "The layout opened on line 1 is not closed"),
    (":::layout single\n\n```\nx\n\n:::", "(the code fence opened on line 3 holds the `:::` line: close the fence)"),
    (":::layout two_wide\n\na\n\n:::", "unknown section type 'two_wide'; use one of single, fixed-width, two_equal"),
    (":::layout\n\na\n\n:::", "name the section type"),
    (":::layout two_equal\n\na\n\n:::", "The two_equal section opened on line 1 has 1 cell but takes 2"),
    (":::layout single\n\na\n\n:::cell\n\nb\n\n:::", "The single section opened on line 1 has 2 cells but takes 1"),
    (":::layout single\n\n:::layout single\n\n:::", "the layout opened on line 1 is still open"),
    (":::note\n\nx\n\n:::", "`:::note` on line 1: unknown marker"),
    (":::layout single colour=red\n\nx\n\n:::", "'colour=red' is not a section attribute"),
    (":::layout two_equal\n\na\n\n:::cell wide\n\nb\n\n:::", "`:::cell` takes no words"),
    ("> quote\n> :::cell", "layout markers stand at the top level, not inside a list or quote"),
    ("- item\n\n  :::layout single", "layout markers stand at the top level"),
], ids=["cell-outside", "close-outside", "section-outside", "unclosed", "unclosed-fence", "unknown-type", "no-type",
        "too-few-cells", "too-many-cells", "nested", "unknown-marker", "unknown-attribute", "cell-words", "in-quote",
        "in-list"])
def test_malformed_markers_are_refused_with_the_line_and_problem(markdown: str, message: str) -> None:
    with pytest.raises(LayoutSyntaxError) as refused:
        markdown_to_storage(markdown)
    assert message in str(refused.value)


def test_escaped_colons_are_text() -> None:
    assert markdown_to_storage("\\::: not a marker") == "<p>::: not a marker</p>"


def test_index_text_and_outline_of_a_layout_page() -> None:
    outline = storage_to_outline_markdown(CLOUD)
    for heading in ("# Project Phoenix", "## Goals", "## Team", "### Links"):
        assert heading in outline.splitlines()
    paths = {chunk.heading_path for chunk in chunk_markdown("Phoenix", outline, max_chars=200, min_chars=0)}
    assert ("Project Phoenix", "Team", "Links") in paths
    text = storage_to_text(SERVER).splitlines()
    assert "Step 1" in text and "Open the console" in text and "::: not a marker" in text
