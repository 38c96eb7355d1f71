"""Search tools: CQL built only with `confluence_mcp.confluence.cql`, allowed spaces ANDed outside the query.

Results are compact hits (id, title, space, web URL, excerpt, last modified) plus an opaque `next` cursor; no page
bodies are fetched behind the caller's back except by `get_pages_with_label`, which says so and is capped.
"""

from __future__ import annotations

import asyncio
import html
from typing import Annotated, Any, TypeVar

from mcp.server.mcpserver import Context
from pydantic import Field

from confluence_mcp.confluence import cql
from confluence_mcp.confluence.weblinks import space_key_of
from confluence_mcp.errors import BadRequest, NotFound
from confluence_mcp.tools.content import page_body
from confluence_mcp.tools.context import KitRuntime, current_kit
from confluence_mcp.tools.models import (
    PageBodies,
    PageId,
    PageRef,
    PageRefList,
    SearchHit,
    SearchResults,
    SiteHit,
    SiteResults,
    clean_excerpt,
    strip_highlight,
)
from confluence_mcp.tools.registry import tool
from confluence_mcp.tools.write_support import find_title_ci

__all__ = [
    "get_page_id_by_title",
    "get_pages_with_label",
    "list_pages_with_label",
    "search_by_title",
    "search_pages",
    "site_search",
]

Query = Annotated[str, Field(min_length=1, description="Plain words, not CQL.")]
Limit = Annotated[int | None, Field(ge=1, le=250, description="Results per page (default: toolkit limit).")]
Cursor = Annotated[str | None, Field(description="`next` of a previous result.")]
Space = Annotated[str | None, Field(description="Space key (must be allowed).")]
Label = Annotated[str, Field(min_length=1, description="Label, e.g. meeting-notes.")]

# Bodies are read one request per page; keep the fan-out polite.
_BODY_CONCURRENCY = 4
_LABEL_PAGE_CHARS = 20_000  # markdown per page here: up to max_pages bodies share one answer


def page_size(kit: KitRuntime, limit: int | None) -> int:
    """The caller's limit, else the toolkit's; never above the toolkit's max_pages."""
    settings = kit.toolkit.settings
    return max(1, min(limit or settings.limit, settings.max_pages))


def capped_note(kit: KitRuntime, limit: int | None, more: str | None) -> str | None:
    """Says so when a caller's limit was cut to the toolkit's max_pages and more results follow."""
    cap = kit.toolkit.settings.max_pages
    if limit is None or limit <= cap or not more:
        return None
    return f"At most {cap} results per call (this toolkit's max_pages); pass `next` as cursor for more."


_Results = TypeVar("_Results", bound=SearchResults)


def search_scope(kit: KitRuntime, space: str | None) -> tuple[str, ...]:
    """The spaces a search may touch: the one asked for (policy-checked) or the toolkit's allowed spaces."""
    if space:
        return (kit.default_space(space),)
    if kit.toolkit.allowed_spaces:
        return kit.toolkit.allowed_spaces
    return (kit.toolkit.space.upper(),) if kit.toolkit.space else ()


def shown(text: str, limit: int = 80) -> str:
    """`text` quoted for a message, cut to `limit` characters so a pasted document is not echoed back whole."""
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def words_of(query: str) -> str:
    """The query, or BadRequest when nothing searchable is left once CQL/Lucene syntax characters are dropped."""
    if cql.text_value(query) == '""':
        raise BadRequest(f"The query {shown(query)} has no words to search for: operators and punctuation such as "
                         '* ? " ( ) are ignored. Give plain words, e.g. a title or a phrase from the page.')
    return query


def _where(spaces: tuple[str, ...]) -> str:
    return f"space(s) {', '.join(spaces)}" if spaces else "all spaces the account can read"


async def run_search(kit: KitRuntime, query_cql: str, spaces: tuple[str, ...], *, limit: int | None,
                     cursor: str | None, what: str, hint: str = "Try other words, or search_pages for body text.",
                     answer: type[_Results] = SearchResults) -> _Results:  # type: ignore[assignment]  # mypy#3737
    """Run a scoped CQL search and shape the hits as `answer`: pages, or pages and blog posts for SiteResults; an
    empty answer says what was searched."""
    site = answer is SiteResults
    full = cql.scoped(query_cql, spaces, content_type=("page", "blogpost") if site else "page")
    page = await kit.client.search(full, limit=page_size(kit, limit), cursor=cursor)
    hits = [hit for item in page.results if (hit := _hit(kit, item, site)) is not None]
    note = None
    if not hits:
        note = f"No {'pages or blog posts' if site else 'pages'} found for {what} in {_where(spaces)}. {hint}"
    return answer(results=hits, next=page.next, note=note or capped_note(kit, limit, page.next))


def _hit(kit: KitRuntime, item: dict[str, Any], typed: bool) -> SearchHit | None:
    """A hit; `typed` (site search) marks blog posts with type=blogpost."""
    content = item.get("content") or item
    if not content.get("id"):
        return None
    webui = item.get("url") or (content.get("_links") or {}).get("webui")
    container = (item.get("resultGlobalContainer") or {}).get("displayUrl")
    extra = {"type": "blogpost"} if typed and content.get("type") == "blogpost" else {}
    return (SiteHit if typed else SearchHit)(
        id=str(content["id"]),
        # The content's own title is exact; the wrapper's may carry highlight markers (and HTML encoding).
        title=content.get("title") or html.unescape(strip_highlight(item.get("title") or "")),
        space=space_key_of(content, container, webui),
        url=kit.client.web_url(webui),
        excerpt=clean_excerpt(item.get("excerpt")),
        # Content objects (the /content/search fallback) carry the date in their version.
        last_modified=item.get("lastModified") or (content.get("version") or {}).get("when"),
        **extra,
    )


@tool("search", "Site search", read_only=True)
async def site_search(query: Query, ctx: Context, limit: Limit = None, cursor: Cursor = None) -> SiteResults:
    """Relevance-ranked search of pages and blog posts in the allowed spaces: ids, titles, excerpts and URLs."""
    kit = current_kit(ctx)
    # siteSearch is Cloud's UI ranking; Server/Data Center has no such field, so match title or text there.
    if kit.toolkit.hosting == "cloud":
        where = cql.text_clause("siteSearch", words_of(query))
    else:
        where = cql.or_(cql.text_clause("title", words_of(query)), cql.text_clause("text", query))
    return await run_search(kit, where, search_scope(kit, None), limit=limit, cursor=cursor, what=shown(query),
                            answer=SiteResults)


@tool("search", "Search pages", read_only=True)
async def search_pages(query: Query, ctx: Context, limit: Limit = None, cursor: Cursor = None,
                       space: Space = None) -> SearchResults:
    """Search page titles and text in the toolkit's space(s): ids, titles, excerpts and URLs, no bodies."""
    kit = current_kit(ctx)
    where = cql.or_(cql.text_clause("title", words_of(query)), cql.text_clause("text", query))
    return await run_search(kit, where, search_scope(kit, space), limit=limit, cursor=cursor,
                            what=f"title or text {shown(query)}", hint="Try fewer or other words, or another space.")


@tool("search", "Search by title", read_only=True)
async def search_by_title(query: Query, ctx: Context, limit: Limit = None, cursor: Cursor = None,
                          space: Space = None) -> SearchResults:
    """Find pages whose title contains the words, in the toolkit's space(s)."""
    kit = current_kit(ctx)
    return await run_search(kit, cql.text_clause("title", words_of(query)), search_scope(kit, space), limit=limit,
                            cursor=cursor, what=f"title {shown(query)}")


@tool("search", "Get page id by title", read_only=True)
async def get_page_id_by_title(
    title: Annotated[str, Field(min_length=1, description="Full page title (case does not matter).")],
    ctx: Context,
    space: Annotated[str | None, Field(description="Space key (default: toolkit space).")] = None,
) -> PageId:
    """A page's id from its full title in a space (case-insensitive)."""
    kit = current_kit(ctx)
    key = kit.default_space(space)
    exact = title.strip()
    if not exact:
        raise BadRequest("The title is empty: give the exact title of the page.")
    # Case-insensitive, as Confluence keeps titles unique (and as the update-by-title tools resolve them).
    found = await find_title_ci(kit.client, key, exact)
    collapsed = " ".join(exact.split())  # as create_page stores titles; pages made elsewhere may keep runs
    if not found and collapsed != exact:
        found = await find_title_ci(kit.client, key, collapsed)
    if not found:
        raise NotFound(f"No page titled {shown(title)} in space {key}. Titles must match in full (case aside); "
                       "use search_by_title to find similar titles.")
    return PageId(id=str(found["id"]), title=found.get("title") or title, space=key,
                  url=kit.client.web_url((found.get("_links") or {}).get("webui")))


def _label_cql(label: str) -> str:
    if not label.strip():
        raise BadRequest("The label is empty: give one label, e.g. meeting-notes.")
    return cql.clause("label", "=", label.strip())


def _no_label_note(label: str, spaces: tuple[str, ...]) -> str:
    hint = " Labels contain no spaces: pass one label at a time." if len(label.split()) > 1 else ""
    return f"No pages labelled {shown(label.strip())} in {_where(spaces)}.{hint}"


@tool("search", "List pages with label", read_only=True)
async def list_pages_with_label(label: Label, ctx: Context, limit: Limit = None, cursor: Cursor = None,
                                space: Space = None) -> PageRefList:
    """Ids and titles (no bodies) of pages with a label, in the toolkit's space(s)."""
    kit = current_kit(ctx)
    spaces = search_scope(kit, space)
    page = await kit.client.content_search(cql.scoped(_label_cql(label), spaces), limit=page_size(kit, limit),
                                           cursor=cursor, expand="space")
    refs = [_ref(kit, c) for c in page.results]
    note = None if refs else _no_label_note(label, spaces)
    return PageRefList(pages=refs, next=page.next, note=note or capped_note(kit, limit, page.next))


@tool("search", "Get pages with label", read_only=True)
async def get_pages_with_label(
    label: Label, ctx: Context, space: Space = None,
    max_pages: Annotated[int | None, Field(ge=1, le=100, description="Pages to return (cap: toolkit max_pages).")
                         ] = None,
) -> PageBodies:
    """Pages with a label, with their markdown bodies (capped); list_pages_with_label is cheaper."""
    kit = current_kit(ctx)
    spaces = search_scope(kit, space)
    cap = min(max_pages or kit.toolkit.settings.max_pages, kit.toolkit.settings.max_pages)
    page = await kit.client.content_search(cql.scoped(_label_cql(label), spaces), limit=cap + 1)
    ids = [str(c["id"]) for c in page.results if c.get("id")]
    truncated = len(ids) > cap or page.next is not None
    ids = ids[:cap]
    gate = asyncio.Semaphore(_BODY_CONCURRENCY)

    async def read(page_id: str) -> Any:
        async with gate:
            return await page_body(kit, page_id, max_chars=_LABEL_PAGE_CHARS)

    bodies = await asyncio.gather(*(read(i) for i in ids))
    note = None if bodies else _no_label_note(label, spaces)
    if truncated:
        note = f"Showing the first {cap} pages; more carry this label (see list_pages_with_label)."
    return PageBodies(pages=list(bodies), truncated=truncated, note=note)


def _ref(kit: KitRuntime, content: dict[str, Any]) -> PageRef:
    webui = (content.get("_links") or {}).get("webui")
    return PageRef(id=str(content["id"]), title=content.get("title") or "", space=space_key_of(content, webui),
                   url=kit.client.web_url(webui))
