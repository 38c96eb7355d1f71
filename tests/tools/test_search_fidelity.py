"""What search and read tools hand an assistant must be usable as given: a hit's title is the page's real title (so
get_page_id_by_title finds it), excerpts read as text (Confluence HTML-escapes highlight excerpts), queries with
nothing to search for are refused with a reason, notes stay short, and empty listings say what was looked at.

Runs on a private sandbox per flavour (pages with awkward titles and bodies are added to it), in memory."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from _mcp_fixtures import ToolFailed, call, make_settings, mcp_client

from confluence_mcp.sandbox.runner import RunningSandbox, SandboxOptions, start_sandbox

pytestmark = pytest.mark.anyio

TITLES = ["Markdown **bold** title", "Power ** two", "Title with  double  spaces"]


@pytest.fixture(scope="module", params=["cloud", "server"])
def sandbox(request: pytest.FixtureRequest) -> Iterator[RunningSandbox]:
    with start_sandbox(SandboxOptions(flavor=request.param)) as running:
        store = running.store
        assert store is not None
        for title in TITLES:
            store.create(space_key="DEMO", title=title, body="<p>zebra crossing</p>", check=False)
        body = "<p>The Q&amp;A says &quot;use &lt;br/&gt;&quot; &mdash; it&#39;s okapi time, Stra\u00dfe.</p>"
        store.create(space_key="DEMO", title="Entities", body=body, check=False)
        yield running


@pytest.fixture
def settings(sandbox: RunningSandbox) -> Any:
    return make_settings(sandbox.base_url)


@pytest.mark.parametrize("tool", ["search_by_title", "search_pages", "site_search"])
async def test_hit_titles_are_the_pages_real_titles(settings: Any, tool: str) -> None:
    async with mcp_client(settings) as client:
        out = await call(client, tool, {"query": "title" if tool == "search_by_title" else "zebra"})
        found = {h["title"] for h in out["results"]}
        wanted = {t for t in TITLES if tool != "search_by_title" or "title" in t.lower()}
        assert wanted <= found, found
        for hit in out["results"]:  # the title a hit shows is one get_page_id_by_title resolves
            exact = await call(client, "get_page_id_by_title", {"title": hit["title"]})
            assert exact["id"] == hit["id"]


@pytest.mark.parametrize("tool", ["search_pages", "site_search"])
async def test_excerpts_are_plain_text_not_html_escaped(settings: Any, tool: str) -> None:
    async with mcp_client(settings) as client:
        out = await call(client, tool, {"query": "okapi"})
    excerpt = next(h["excerpt"] for h in out["results"] if h["title"] == "Entities")
    assert 'Q&A says "use <br/>"' in excerpt and "it's **okapi**" in excerpt and "Stra\u00dfe" in excerpt, excerpt
    assert "&amp;" not in excerpt and "&quot;" not in excerpt and "&#" not in excerpt


@pytest.mark.parametrize("query", ["   ", "*", '"?" ()', "\\\\ -- !!"])
@pytest.mark.parametrize("tool", ["search_by_title", "search_pages", "site_search"])
async def test_query_without_words_is_refused_with_a_reason(settings: Any, tool: str, query: str) -> None:
    async with mcp_client(settings) as client:
        with pytest.raises(ToolFailed, match="no words to search for"):
            await call(client, tool, {"query": query})


@pytest.mark.parametrize("tool", ["list_pages_with_label", "get_pages_with_label"])
async def test_blank_label_is_refused(settings: Any, tool: str) -> None:
    async with mcp_client(settings) as client:
        with pytest.raises(ToolFailed, match="label is empty"):
            await call(client, tool, {"label": "  "})


async def test_empty_search_note_does_not_echo_a_huge_query(settings: Any) -> None:
    query = "quokka " * 700  # ~5k characters
    async with mcp_client(settings) as client:
        out = await call(client, "search_pages", {"query": query})
    assert out["results"] == [] and "quokka" in out["note"] and len(out["note"]) < 400, len(out["note"])


async def test_empty_attachment_listing_says_what_was_looked_at(settings: Any) -> None:
    async with mcp_client(settings) as client:
        named = await call(client, "get_page_attachments", {"page_id": "65539", "filename": "nope.txt"})
        typed = await call(client, "get_page_attachments", {"page_id": "65539", "media_type": "image/gif"})
        bare = await call(client, "get_page_attachments", {"page_id": "65540"})
        full = await call(client, "get_page_attachments", {"page_id": "65539"})
    assert named["attachments"] == [] and "nope.txt" in named["note"] and "65539" in named["note"]
    assert typed["attachments"] == [] and "image/gif" in typed["note"]
    assert bare["attachments"] == [] and "65540" in bare["note"] and "no attachments" in bare["note"]
    assert full["attachments"] and "note" not in full


async def test_unparsable_stored_body_gets_an_actionable_error(sandbox: RunningSandbox, settings: Any) -> None:
    # Confluence validates storage on save, but old or imported pages can hold a body no XML parser accepts.
    store = sandbox.store
    assert store is not None
    page = store.create(space_key="DEMO", title="Broken body", body="<p>Q&A: 1 < 2</p>", check=False)
    async with mcp_client(settings) as client:
        for tool in ("read_page_by_id", "get_page_with_image_descriptions"):
            with pytest.raises(ToolFailed) as failure:
                await call(client, tool, {"page_id": page.id})
            message = str(failure.value)
            assert "bug" not in message and page.id in message and "not well-formed" in message, message
            assert f"/rest/api/content/{page.id}?expand=body.storage" in message


async def test_page_id_by_title_matches_case_insensitively_like_the_title_tools(settings: Any) -> None:
    # Confluence keeps titles unique per space case-insensitively, and update_page_by_title resolves them so.
    async with mcp_client(settings) as client:
        lower = await call(client, "get_page_id_by_title", {"title": "installation guide"})
        with pytest.raises(ToolFailed, match="No page titled 'installation'"):
            await call(client, "get_page_id_by_title", {"title": "installation"})
    assert lower["id"] == "65539" and lower["title"] == "Installation Guide"
