"""Writing a layout page back: unchanged layouts keep their bytes, an edit to one cell leaves the other cells' stored
bytes (ids, whitespace, Server formatting) alone, and section edits never swallow a layout."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from confluence_mcp.confluence.convert import (
    LayoutSyntaxError,
    keep_unchanged_blocks,
    markdown_to_storage,
    replace_section,
    storage_to_markdown,
)
from confluence_mcp.confluence.convert.canonical import canonicalize

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "storage"
CLOUD = (FIXTURES / "39_cloud_layouts.xml").read_text(encoding="utf-8")
SERVER = (FIXTURES / "40_server_layouts.xml").read_text(encoding="utf-8")
BETWEEN_TAGS = re.compile(r">\s+<")
CELL = re.compile(r"<ac:layout-cell\b.*?</ac:layout-cell>|<ac:layout-cell\b[^>]*/>", re.DOTALL)


def write_back(stored: str, edit: tuple[str, str] | None = None) -> str:
    markdown = storage_to_markdown(stored)
    if edit is not None:
        assert edit[0] in markdown
        markdown = markdown.replace(*edit)
    written = markdown_to_storage(markdown)
    merged = keep_unchanged_blocks(stored, written)
    assert canonicalize(merged) == canonicalize(written)  # what was written is what the markdown says
    return merged


@pytest.mark.parametrize("stored", [CLOUD, SERVER], ids=["cloud", "server"])
def test_unchanged_layout_pages_keep_their_bytes(stored: str) -> None:
    assert write_back(stored) == stored


@pytest.mark.parametrize(("stored", "edit", "edited_cell"), [
    (CLOUD, ("## Team", "## Our team"), 2),
    (CLOUD, ("### Links", "### Useful links"), 5),
    (SERVER, ("### Step 1", "### Step one"), 2),
    (SERVER, ("\\::: not a marker", "now a plain line"), 5),
], ids=["cloud-heading", "cloud-last-cell", "server-heading", "server-last-cell"])
def test_an_edit_to_one_cell_keeps_the_other_cells_bytes(stored: str, edit: tuple[str, str], edited_cell: int) -> None:
    merged = write_back(stored, edit)
    before, after = CELL.findall(stored), CELL.findall(merged)
    assert len(before) == len(after)
    for index, (old_cell, new_cell) in enumerate(zip(before, after, strict=True)):
        if index != edited_cell:
            assert new_cell == old_cell
    assert before[edited_cell] != after[edited_cell]
    assert after[edited_cell].startswith(before[edited_cell][: before[edited_cell].index(">") + 1])  # its ids
    # The rest of the page (section tags with their ids and widths included) is as stored, up to the whitespace
    # between the top-level blocks around the edited layout.
    assert BETWEEN_TAGS.sub("><", CELL.sub("", merged)) == BETWEEN_TAGS.sub("><", CELL.sub("", stored))


def test_editing_a_block_keeps_the_unchanged_blocks_of_the_same_cell() -> None:
    merged = write_back(CLOUD, ("Ship the **beta** by June", "Ship the **beta** by July"))
    assert '<h2 local-id="h2-1">Goals</h2>' in merged and '<ac:task-list ac:task-list-id="tl-1">' in merged
    # The edited item keeps its ids, the other item its bytes.
    assert '<ul local-id="ul-1"><li><p local-id="li-1">Ship the <strong>beta</strong> by July</p></li><li><p ' \
           'local-id="li-2">Cut p95 latency to 200&nbsp;ms</p></li></ul>' in merged


def test_changing_a_section_type_rewrites_that_section_only() -> None:
    merged = write_back(CLOUD, (":::section three_with_sidebars breakout-mode=default\n\n:::cell",
                                ":::section two_equal breakout-mode=default"))
    assert '<ac:layout-section ac:type="two_equal" ac:breakout-mode="default"><ac:layout-cell>' in merged
    assert 'ac:type="three_with_sidebars"' not in merged
    # The sections before it keep their stored bytes.
    assert '<ac:layout-section ac:type="two_equal" ac:breakout-mode="wide" ac:breakout-width="1800" ' \
           'ac:local-id="9836864461c1">' in merged


def test_changing_a_section_width_keeps_its_cells() -> None:
    merged = write_back(CLOUD, ("breakout-mode=wide breakout-width=1800", "breakout-mode=full-width"))
    assert '<ac:layout-section ac:type="two_equal" ac:breakout-mode="full-width">' in merged
    assert '<ac:layout-cell ac:local-id="10eba1ac6339"><h2 local-id="h2-1">Goals</h2>' in merged


def test_adding_a_section_writes_the_new_layout() -> None:
    merged = write_back(CLOUD, ("\n\n:::\n\nLast reviewed", "\n\n:::section single\n\nNew row\n\n:::\n\nLast reviewed"))
    assert merged.count("<ac:layout-section") == 4 and "<p>New row</p>" in merged
    assert merged.startswith('<ac:structured-macro ac:name="toc" ac:schema-version="1" data-layout="default"')


def test_edits_around_a_layout_leave_it_as_stored() -> None:
    merged = write_back(SERVER, ("Trailing text.", "Trailing text, edited.\n\nAnd a new paragraph."))
    start, end = SERVER.index("<ac:layout>"), SERVER.index("</ac:layout>") + len("</ac:layout>")
    assert SERVER[start:end] in merged


LAYOUT_PAGE = ('<h1>Top</h1><p>intro</p><ac:layout><ac:layout-section ac:type="two_equal"><ac:layout-cell>'
               "<h2>Left</h2><p>l</p></ac:layout-cell><ac:layout-cell><p>r</p></ac:layout-cell></ac:layout-section>"
               "</ac:layout><h2>Tail</h2><p>t</p>")


def test_a_top_level_section_ends_where_a_layout_begins() -> None:
    replaced = replace_section(LAYOUT_PAGE, "Top", "<p>new intro</p>")
    assert replaced == LAYOUT_PAGE.replace("<p>intro</p>", "<p>new intro</p>")
    # A heading after the layout and one inside it are sections of their own.
    assert replace_section(LAYOUT_PAGE, "Tail", "<p>x</p>") == LAYOUT_PAGE.replace("<p>t</p>", "<p>x</p>")
    assert replace_section(LAYOUT_PAGE, "Left", "<p>x</p>") == LAYOUT_PAGE.replace("<p>l</p>", "<p>x</p>")


def test_a_section_edit_inside_a_cell_keeps_the_cells_other_bytes() -> None:
    stored = CLOUD
    new = markdown_to_storage("Ship it.")
    replaced = replace_section(stored, "Goals", new, keep_unchanged_blocks)
    assert '<h2 local-id="h2-1">Goals</h2><p>Ship it.</p></ac:layout-cell>' in replaced
    assert replaced.count("</ac:layout-cell>") == stored.count("</ac:layout-cell>")


def test_a_section_in_a_layout_cell_takes_no_layout() -> None:
    storage = ('<ac:layout><ac:layout-section ac:type="single"><ac:layout-cell><h2>Plan</h2><p>old</p>'
               "</ac:layout-cell></ac:layout-section></ac:layout><h2>After</h2><p>tail</p>")
    nested = markdown_to_storage(":::layout single\n\nnested\n\n:::\n")
    with pytest.raises(LayoutSyntaxError, match="layouts do not nest"):
        replace_section(storage, "Plan", nested)
    # At the top level a section may hold a layout.
    assert replace_section(storage, "After", nested).endswith("<h2>After</h2>" + nested)
