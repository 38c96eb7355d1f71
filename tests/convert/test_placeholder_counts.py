"""Reading never needs more placeholders than before: per storage fixture, the storage fences and inline
`confluence-storage:` links it reads with stay at most these counts (all others read with none). Lower a count
when the reader learns a form; a rise means a piece that read as markdown no longer does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from confluence_mcp.confluence.convert import storage_to_markdown

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "storage"
ALL_FIXTURES = sorted(FIXTURES.rglob("*.xml"))
MOST_PLACEHOLDERS = {
    "02_inline_formatting.xml": 2,
    "03_strike_and_colour.xml": 3,
    "08_external_links.xml": 1,
    "13_toc.xml": 1,
    "14_jira.xml": 2,
    "16_anchor_links.xml": 2,
    "17_attachment_links.xml": 1,
    "19_images.xml": 1,
    "22_emoticon_time.xml": 3,
    "23_status_macro.xml": 2,
    "24_unknown_macros.xml": 4,
    "25_parameter_with_user.xml": 2,
    "29_comments_empty_paragraphs.xml": 1,
    "31_pre_and_noformat.xml": 2,
    "34_inline_comment_marker_placeholder.xml": 2,
    "39_cloud_layouts.xml": 4,
    "40_server_layouts.xml": 2,
    "44_cloud_local_ids.xml": 1,
    "45_server_auto_cursor.xml": 1,
    "46_cloud_extensions.xml": 14,
    "markdown/injection_bad_placeholders.xml": 3,
    "markdown/storage_placeholders.xml": 2,
    "tables/cloud_headerless.xml": 1,
    "tables/cloud_meeting_notes.xml": 1,
    "tables/cloud_page_properties.xml": 2,
    "tables/cloud_rich_cells.xml": 4,
    "tables/server_decision.xml": 2,
    "tables/server_page_properties.xml": 1,
    "tables/server_release_notes.xml": 7,
}
_FENCE = re.compile(r"^```+confluence-storage", re.MULTILINE)
_INLINE = re.compile(r"\]\(confluence-storage:")


def placeholders(storage: str) -> int:
    markdown = storage_to_markdown(storage)
    return len(_FENCE.findall(markdown)) + len(_INLINE.findall(markdown))


def test_the_counts_name_only_fixtures_that_exist() -> None:
    names = {path.relative_to(FIXTURES).as_posix() for path in ALL_FIXTURES}
    assert len(names) >= 60 and set(MOST_PLACEHOLDERS) <= names


@pytest.mark.parametrize("path", ALL_FIXTURES, ids=lambda path: path.relative_to(FIXTURES).as_posix())
def test_placeholders_do_not_grow(path: Path) -> None:
    name = path.relative_to(FIXTURES).as_posix()
    assert placeholders(path.read_text()) <= MOST_PLACEHOLDERS.get(name, 0)
