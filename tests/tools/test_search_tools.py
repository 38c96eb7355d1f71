"""Search tools against the sandbox (cloud and server), in memory: hits, pagination, empty answers, scoping and
CQL-injection attempts that must never widen the allowed spaces."""

from __future__ import annotations

from typing import Any

import pytest
from _mcp_fixtures import ToolFailed, call, make_settings, mcp_client

pytestmark = pytest.mark.anyio

SEARCH_TOOLS = ["site_search", "search_pages", "search_by_title"]


@pytest.fixture
def settings(flavor_sandbox: Any) -> Any:
    return make_settings(flavor_sandbox.base_url)


@pytest.mark.parametrize("tool", SEARCH_TOOLS)
async def test_search_finds_pages_with_web_urls(settings: Any, tool: str) -> None:
    async with mcp_client(settings) as client:
        out = await call(client, tool, {"query": "Installation"})
    assert out["results"], out
    hit = next(h for h in out["results"] if h["title"] == "Installation Guide")
    assert hit["id"].isdigit() and hit["space"] == "DEMO"
    assert hit["url"].startswith("http://127.0.0.1:") and "/rest/" not in hit["url"]
    assert "@@@" not in hit["excerpt"]
    assert hit["last_modified"]


async def test_site_search_finds_blog_posts_too_and_marks_them(settings: Any) -> None:
    async with mcp_client(settings) as client:
        site = await call(client, "site_search", {"query": "Welcome to the sandbox"})
        pages = await call(client, "search_pages", {"query": "Welcome to the sandbox"})
        post = next(h for h in site["results"] if h["title"] == "Welcome to the sandbox")
        assert post["type"] == "blogpost" and "/rest/" not in post["url"]
        assert all("type" not in h for h in site["results"] if h["id"] != post["id"])
        assert post["id"] not in {h["id"] for h in pages["results"]}  # search_pages keeps to pages
        read = await call(client, "read_page_by_id", {"page_id": post["id"]})
        assert "type = blogpost" in read["markdown"]
        by_url = await call(client, "read_page_by_id", {"page_id": post["url"]})  # the URL the hit gave
        assert by_url["id"] == post["id"]


async def test_search_pages_paginates_with_cursor(settings: Any) -> None:
    seen: list[str] = []
    async with mcp_client(settings) as client:
        out = await call(client, "search_pages", {"query": "confluence", "limit": 2})
        assert len(out["results"]) <= 2 and out["next"]
        seen += [h["id"] for h in out["results"]]
        out = await call(client, "search_pages", {"query": "confluence", "limit": 2, "cursor": out["next"]})
        seen += [h["id"] for h in out["results"]]
    assert len(seen) == len(set(seen)) >= 3


async def test_limit_defaults_to_toolkit_and_is_capped_by_max_pages(flavor_sandbox: Any) -> None:
    async with mcp_client(make_settings(flavor_sandbox.base_url, limit=2, max_pages=3)) as client:
        default = await call(client, "search_pages", {"query": "confluence"})
        capped = await call(client, "search_pages", {"query": "confluence", "limit": 50})
    assert len(default["results"]) == 2 and "note" not in default
    assert len(capped["results"]) == 3
    assert "At most 3 results per call (this toolkit's max_pages)" in capped["note"] and capped["next"]


async def test_empty_search_says_what_was_searched(settings: Any) -> None:
    async with mcp_client(settings) as client:
        out = await call(client, "search_by_title", {"query": "zzqxj nothing matches"})
        pages = await call(client, "search_pages", {"query": "zzqxj nothing matches"})
    assert out["results"] == [] and "next" not in out
    assert "zzqxj" in out["note"] and "DEMO" in out["note"]
    assert "zzqxj" in pages["note"] and "search_pages" not in pages["note"]  # never sends it back to itself


INJECTIONS = [
    '" OR space = "DEMO',
    'x" OR space != "NOPE" OR title ~ "',
    "\\\" OR type = page OR \\\"",
    "Installation) OR (space = DEMO",
    "AND OR NOT ORDER BY title",
    'title ~ "*" OR space IN ("DEMO")',
]


@pytest.mark.parametrize("query", INJECTIONS)
@pytest.mark.parametrize("tool", SEARCH_TOOLS)
async def test_injection_cannot_escape_allowed_spaces(flavor_sandbox: Any, tool: str, query: str) -> None:
    # The toolkit may only see space DOCS (absent), so every DEMO hit would be an escape.
    settings = make_settings(flavor_sandbox.base_url, space="DOCS", allowed_spaces=["DOCS"])
    async with mcp_client(settings) as client:
        try:
            out = await call(client, tool, {"query": query})
        except ToolFailed as failure:  # a refused query is fine; an escape is not
            assert "DEMO" not in str(failure) or "Could not parse" in str(failure)
            return
    assert out["results"] == [], out


@pytest.mark.parametrize("query", INJECTIONS)
async def test_injection_is_searched_as_text_inside_the_space(settings: Any, query: str) -> None:
    async with mcp_client(settings) as client:
        result = await client.call_tool("search_pages", {"query": query})
    if not result.is_error:
        assert all(h["space"] == "DEMO" for h in result.structured_content["results"])


async def test_space_argument_outside_allowed_spaces_is_refused(settings: Any) -> None:
    async with mcp_client(settings) as client:
        with pytest.raises(ToolFailed, match="outside this toolkit's allowed spaces"):
            await call(client, "search_pages", {"query": "guide", "space": "HR"})


async def test_get_page_id_by_title(settings: Any) -> None:
    async with mcp_client(settings) as client:
        out = await call(client, "get_page_id_by_title", {"title": "Installation Guide"})
        assert out["id"] == "65539" and out["space"] == "DEMO" and out["url"]
        padded = await call(client, "get_page_id_by_title", {"title": "  Installation   Guide\n"})
        assert padded["id"] == "65539"  # whitespace trimmed and collapsed, as create_page stores titles
        with pytest.raises(ToolFailed, match="No page titled 'Installation'"):
            await call(client, "get_page_id_by_title", {"title": "Installation"})
        with pytest.raises(ToolFailed, match="outside"):
            await call(client, "get_page_id_by_title", {"title": "Installation Guide", "space": "OTHER"})


async def test_list_pages_with_label_has_no_bodies(settings: Any) -> None:
    async with mcp_client(settings) as client:
        out = await call(client, "list_pages_with_label", {"label": "onboarding"})
        empty = await call(client, "list_pages_with_label", {"label": "no-such-label"})
    assert {p["title"] for p in out["pages"]} == {"Getting Started", "Installation Guide"}
    assert all("markdown" not in p for p in out["pages"])
    assert empty["pages"] == [] and "no-such-label" in empty["note"]


async def test_get_pages_with_label_returns_bodies_capped(flavor_sandbox: Any) -> None:
    async with mcp_client(make_settings(flavor_sandbox.base_url, max_pages=1)) as client:
        capped = await call(client, "get_pages_with_label", {"label": "guide"})
    async with mcp_client(make_settings(flavor_sandbox.base_url)) as client:
        full = await call(client, "get_pages_with_label", {"label": "guide"})
    assert len(capped["pages"]) == 1 and capped["truncated"] is True and capped["note"]
    assert {p["title"] for p in full["pages"]} == {"Getting Started", "Configuration"}
    assert all(p["markdown"].strip() for p in full["pages"]) and full["truncated"] is False


@pytest.mark.parametrize(("tool", "args"), [
    ("search_pages", {"query": "word " * 20_000}),
    ("search_by_title", {"query": "x" * 100_000}),
    ("get_page_id_by_title", {"title": "t" * 100_000}),
])
async def test_an_argument_too_long_for_a_url_is_refused(settings: Any, tool: str, args: dict[str, Any]) -> None:
    """httpx refuses URLs over 64 KB; that surfaced as 'failed unexpectedly (InvalidURL). This is a bug'."""
    async with mcp_client(settings) as client:
        with pytest.raises(ToolFailed) as failure:
            await call(client, tool, args)
    assert "bug" not in str(failure.value) and "too long" in str(failure.value), str(failure.value)[:300]
