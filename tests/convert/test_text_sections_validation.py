"""Plain text for search, section replacement and storage validation."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sandbox_helpers import shared_dir

from confluence_mcp.confluence.convert import (
    AmbiguousSection,
    SectionNotFound,
    StorageParseError,
    markdown_to_storage,
    replace_section,
    storage_to_text,
    validate_storage,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "storage"
HANDBOOK = shared_dir() / "corpora" / "handbook.jsonl"


def test_text_keeps_words_and_drops_markup_and_parameters() -> None:
    text = storage_to_text((FIXTURES / "09_code_macro.xml").read_text()
                           + (FIXTURES / "11_admonitions.xml").read_text()
                           + (FIXTURES / "15_page_links.xml").read_text())
    assert 'return "]]>" if a < b' in text
    assert "Info title" in text and "The info body with bold." in text
    assert "python" not in text.split()  # the language parameter is not page text
    assert "the guide" in text and "Same Space Page" in text
    assert "<" not in text.replace("a < b", "")


def test_text_of_entities_and_blocks() -> None:
    assert storage_to_text("<h1>T</h1><p>a&nbsp;b &amp; c</p><ul><li>x</li><li>y</li></ul>") == "T\na b & c\nx\ny"


def test_text_never_fails_on_malformed_storage() -> None:
    assert storage_to_text("<p>unclosed <b>bold") == "unclosed bold"


SECTIONED = ('<h1>Guide</h1><p>intro</p>\n<h2>Setup  Steps</h2><p>old &nbsp;step</p><h3>Detail</h3><p>d</p>'
             '<h2>Usage</h2><p>use</p><h1>Appendix</h1><p>z</p>')


def test_replace_section_changes_only_that_section() -> None:
    result = replace_section(SECTIONED, "  setup steps ", "<p>new</p>")
    assert result == ('<h1>Guide</h1><p>intro</p>\n<h2>Setup  Steps</h2><p>new</p>'
                      '<h2>Usage</h2><p>use</p><h1>Appendix</h1><p>z</p>')


def test_replace_section_of_a_top_heading_runs_to_the_next_same_level_heading() -> None:
    result = replace_section(SECTIONED, "GUIDE", "<p>x</p>")
    assert result == "<h1>Guide</h1><p>x</p><h1>Appendix</h1><p>z</p>"
    assert replace_section(SECTIONED, "Appendix", "") == SECTIONED.removesuffix("<p>z</p>")


def test_replace_section_missing_heading_lists_available_ones() -> None:
    with pytest.raises(SectionNotFound) as raised:
        replace_section(SECTIONED, "Install", "<p/>")
    assert "'Setup Steps'" in str(raised.value) and "'Appendix'" in str(raised.value)
    assert isinstance(raised.value, ValueError)


DUPLICATED = "<h1>Team A</h1><h2>Notes</h2><p>A notes</p><h1>Team B</h1><h2>Notes</h2><p>B notes</p>"


def test_a_repeated_heading_is_refused_with_the_paths_that_tell_them_apart() -> None:
    with pytest.raises(AmbiguousSection) as raised:
        replace_section(DUPLICATED, "Notes", "<p>x</p>")
    assert raised.value.paths == ["Team A / Notes", "Team B / Notes"]
    assert replace_section(DUPLICATED, "team b/notes", "<p>x</p>") == DUPLICATED.replace("B notes", "x")
    assert replace_section(DUPLICATED, "Team A / Notes", "<p>x</p>") == DUPLICATED.replace("A notes", "x")


def test_a_path_may_start_below_the_top_and_markdown_hashes_are_ignored() -> None:
    result = replace_section(SECTIONED, "Setup Steps / Detail", "<p>e</p>")
    assert result == SECTIONED.replace("<p>d</p>", "<p>e</p>")
    assert replace_section(SECTIONED, "## Usage", "<p>u</p>") == SECTIONED.replace("<p>use</p>", "<p>u</p>")
    with pytest.raises(SectionNotFound):
        replace_section(SECTIONED, "Usage / Detail", "<p>e</p>")


def test_the_sections_own_heading_at_the_start_of_the_new_body_is_not_repeated() -> None:
    result = replace_section(SECTIONED, "Usage", "<h2>usage</h2><p>new use</p>")
    assert result == SECTIONED.replace("<p>use</p>", "<p>new use</p>")
    other = replace_section(SECTIONED, "Usage", "<h3>Examples</h3><p>e</p>")  # another heading is content
    assert other == SECTIONED.replace("<p>use</p>", "<h3>Examples</h3><p>e</p>")


def test_replace_section_refuses_malformed_replacement() -> None:
    with pytest.raises(StorageParseError):
        replace_section(SECTIONED, "Usage", "<p>broken")


@pytest.mark.parametrize(("storage", "reason"), [
    ("<p>a<b></p>", "mismatched tag"),
    ("<p>unclosed", "unexpected end of content, element <p> is not closed"),
    ("<p>&bogus;</p>", "undefined entity"),
    ("<p>a & b</p>", "not well-formed"),
])
def test_validate_storage_reports_confluence_style_errors(storage: str, reason: str) -> None:
    with pytest.raises(StorageParseError) as raised:
        validate_storage(storage)
    message = str(raised.value)
    assert message.startswith(f"Error parsing xhtml: {reason}")
    assert "at [row,col]: [1," in message


def test_validate_storage_reports_the_row_of_the_error() -> None:
    with pytest.raises(StorageParseError, match=r"at \[row,col\]: \[3,\d+\]"):
        validate_storage("<p>ok</p>\n<p>ok</p>\n<p>bad</x>")


def test_validate_storage_accepts_html_entities_and_all_fixtures() -> None:
    validate_storage("<p>&nbsp;&mdash;&eacute;&copy;&hellip;</p>")
    for path in FIXTURES.glob("*.xml"):
        validate_storage(path.read_text())


@pytest.mark.skipif(not HANDBOOK.is_file(),
                    reason=f"handbook corpus not found at {HANDBOOK} (set CONFLUENCE_MCP_SHARED)")
def test_handbook_conversion_speed() -> None:
    """Issue 2 converts the whole handbook at sandbox start; CPU time is measured, not wall time."""
    pages = [json.loads(line)["markdown"] for line in HANDBOOK.read_text().splitlines()]
    started = time.process_time()
    storages = [markdown_to_storage(markdown) for markdown in pages]
    markdown_seconds = time.process_time() - started
    started = time.process_time()
    texts = [storage_to_text(storage) for storage in storages]
    text_seconds = time.process_time() - started
    assert len(texts) == 882 and all(texts[:10])
    print(f"markdown_to_storage: {markdown_seconds:.2f}s, storage_to_text: {text_seconds:.2f}s (882 pages)")
    assert text_seconds < 2.0
    assert markdown_seconds < 15.0  # markdown-it-py parsing alone takes most of this budget
