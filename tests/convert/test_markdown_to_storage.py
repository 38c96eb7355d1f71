"""Markdown → storage: expected output per fixture pair, page links by URL, and injection attempts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sandbox_helpers import shared_dir

from confluence_mcp.confluence.convert import LinkContext, markdown_to_storage, validate_storage
from confluence_mcp.confluence.convert.canonical import canonicalize
from confluence_mcp.confluence.convert.xhtml import parse_fragment

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "storage" / "markdown"
HANDBOOK = shared_dir() / "corpora" / "handbook.jsonl"


@pytest.mark.parametrize("fixture", sorted(FIXTURES.glob("*.md")), ids=lambda path: path.stem)
def test_markdown_fixture_gives_expected_storage(fixture: Path) -> None:
    expected = fixture.with_suffix(".xml").read_text()
    assert canonicalize(markdown_to_storage(fixture.read_text())) == canonicalize(expected)


def test_page_urls_become_page_links_and_other_urls_stay_links() -> None:
    def page_from_url(url: str) -> tuple[str, str | None] | None:
        return ("Team Page", "TEAM") if url == "http://127.0.0.1:9/wiki/x/AbCd" else None

    links = LinkContext(space_key="DEMO", page_from_url=page_from_url)
    storage = markdown_to_storage("[Team Page](http://127.0.0.1:9/wiki/x/AbCd) [o](http://127.0.0.1:9/other)",
                                  links=links)
    assert canonicalize(storage) == canonicalize(
        '<p><ac:link><ri:page ri:content-title="Team Page" ri:space-key="TEAM"/></ac:link> '
        '<a href="http://127.0.0.1:9/other">o</a></p>')


def test_page_reference_keeps_its_space_as_written() -> None:
    links = LinkContext(space_key="DEMO")
    assert 'ri:space-key="DEMO"' in markdown_to_storage("[label](confluence-page:DEMO/Home)", links=links)
    assert "ri:space-key" not in markdown_to_storage("[label](confluence-page:Home)", links=links)


def test_headings_get_no_injected_anchors() -> None:
    assert markdown_to_storage("## Setup steps") == "<h2>Setup steps</h2>"


@pytest.mark.parametrize("attack", [
    '<ac:structured-macro ac:name="html"><ac:plain-text-body><![CDATA[<b>x</b>]]></ac:plain-text-body>',
    "]]><script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    '" onmouseover="alert(1)',
    "<ri:page ri:content-title='x'/>",
    "&lt;ac:link&gt; &nbsp; &#60;script&#62;",
    "<!-- comment --> <![CDATA[ x ]]>",
])
@pytest.mark.parametrize("where", ["{}", "# {}", "| h |\n|---|\n| {} |", "- [ ] {}", "> [!NOTE] {}\n> {}",
                                   "[{}](https://e.com)", "![{}](a.png)", "`{}`"])
def test_injection_attempts_stay_text(attack: str, where: str) -> None:
    storage = markdown_to_storage(where.format(attack, attack))
    validate_storage(storage)
    root = parse_fragment(storage)
    tags = {element.tag for element in root.iter() if isinstance(element.tag, str)}
    allowed = {"storage-root", "p", "h1", "table", "tbody", "tr", "th", "td", "ac:task-list", "ac:task",
               "ac:task-id", "ac:task-status", "ac:task-body", "ac:structured-macro", "ac:parameter",
               "ac:rich-text-body", "a", "ac:image", "ri:attachment", "code"}
    assert tags <= allowed, storage
    macros = {element.get("ac:name") for element in root.iter("ac:structured-macro")}
    assert macros <= {"info"}
    assert all(not name.startswith("on") for element in root.iter() for name in element.attrib)


@pytest.mark.skipif(not HANDBOOK.is_file(),
                    reason=f"handbook corpus not found at {HANDBOOK} (set CONFLUENCE_MCP_SHARED)")
def test_handbook_pages_convert_to_well_formed_storage() -> None:
    pages = [json.loads(line) for line in HANDBOOK.read_text().splitlines()[:200]]
    for page in pages:
        validate_storage(markdown_to_storage(page["markdown"]))
