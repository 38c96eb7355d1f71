"""What hangs under a page: child and descendant pages, comments and attachments, with their Cloud stand-ins.

Atlassian deprecated v1's `GET /content/{id}/child…` and `/descendant…` listings on Cloud. Once a site answers
one of them 410 Gone, that listing moves (and stays moved for the client's life):

- child pages, descendant pages and comments to CQL (`/content/search`, not deprecated, which answers with the
  same v1 Content objects and honours the same `expand`): `parent = id`, `ancestor = id`, `container = id`;
- a space's top-level pages (`GET /space/{key}/content/page?depth=root`) to v2 `GET /spaces/{id}/pages?depth=root`;
- attachments to v2 `GET /pages/{id}/attachments` (or the blog post's), mapped to the v1 fields our callers
  read. A cursor names the listing that issued it, so a v1 cursor is never silently restarted on v2.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from confluence_mcp.confluence import cql as cqlb
from confluence_mcp.confluence.pagination import cursor_query
from confluence_mcp.confluence.urls import segment
from confluence_mcp.confluence.v2_pages import page_or_blogpost, v2_to_v1_attachment, v2_to_v1_page
from confluence_mcp.errors import BadRequest, ConfluenceHTTPError

if TYPE_CHECKING:
    from confluence_mcp.confluence.client import ConfluenceClient, ResultPage

__all__ = ["ListingMoved", "Listings", "attachment_container"]

_ATTACHMENTS = "GET /content/{id}/child/attachment"
_ROOTS = "GET /space/{key}/content/page"
_PARENTS_PER_QUERY = 50  # ids per `parent IN (...)`: keeps the query URL short
_MOVED = ("The attachment listing moved to Confluence's REST v2 (v1 answered 410 Gone) after this cursor was "
          "issued: list again without a cursor.")


class ListingMoved(BadRequest):
    """A v1 cursor handed back after its listing moved to v2: the listing must start again."""


class Listings:
    def __init__(self, client: ConfluenceClient) -> None:
        self.client = client

    def children(self, page_id: str, *, expand: str | None, max_items: int | None) -> AsyncIterator[dict[str, Any]]:
        return self._v1_or_cql("GET /content/{id}/child/page", f"content/{segment(page_id)}/child/page",
                               {"expand": expand}, _by_age(cqlb.clause("parent", "=", page_id), "page"), max_items)

    def descendants(self, page_id: str, *, expand: str | None,
                    max_items: int | None) -> AsyncIterator[dict[str, Any]]:
        return self._v1_or_cql("GET /content/{id}/descendant/page", f"content/{segment(page_id)}/descendant/page",
                               {"expand": expand}, _by_age(cqlb.clause("ancestor", "=", page_id), "page"),
                               max_items)

    async def children_of(self, page_ids: Sequence[str], *, expand: str | None,
                          max_items: int | None) -> AsyncGenerator[dict[str, Any]]:
        """The child pages of all these pages: one CQL `parent IN (...)` per batch of ids, paginated."""
        found = 0
        for start in range(0, len(page_ids), _PARENTS_PER_QUERY):
            query = _by_age(cqlb.in_("parent", page_ids[start:start + _PARENTS_PER_QUERY]), "page")
            left = None if max_items is None else max_items - found
            if left is not None and left <= 0:
                return
            body = await self.client.get_json("content/search", params={
                "cql": query, "expand": expand, "limit": 100 if left is None else max(1, min(left, 100))})
            async for item in self.client.follow(body, max_items=left):
                found += 1
                yield item

    async def roots(self, space_key: str, v2: Callable[[], Awaitable[Any]], *,
                    max_items: int | None) -> AsyncGenerator[dict[str, Any]]:
        """A space's top-level pages: v1 `depth=root`, or `v2` (the v2 listing's first page) once that is gone."""
        client = self.client
        from_v2 = client.is_gone(_ROOTS)
        limit = 100 if max_items is None else max(1, min(max_items, 100))
        if not from_v2:
            try:
                body = await client.get_json(f"space/{segment(space_key)}/content/page",
                                             params={"depth": "root", "limit": limit})
            except ConfluenceHTTPError as exc:
                if not client.note_gone(_ROOTS, exc):
                    raise
                from_v2 = True
        if from_v2:
            body = await v2()
        async for item in client.follow(body, max_items=max_items):
            yield v2_to_v1_page(item) if from_v2 else item

    def comments(self, page_id: str, *, expand: str, max_items: int | None) -> AsyncIterator[dict[str, Any]]:
        return self._v1_or_cql("GET /content/{id}/child/comment", f"content/{segment(page_id)}/child/comment",
                               {"expand": expand, "depth": "all"},
                               _by_age(cqlb.clause("container", "=", page_id), "comment"), max_items)

    async def _v1_or_cql(self, operation: str, path: str, params: dict[str, Any], cql: str,
                         max_items: int | None) -> AsyncIterator[dict[str, Any]]:
        client = self.client
        if max_items is not None and max_items <= 0:
            return
        page_size = 50 if max_items is None else max(1, min(max_items, 100))
        body = await client.v1_unless_gone(
            operation, lambda: client.get_json(path, params={**params, "limit": page_size}),
            lambda: client.get_json("content/search", params={"cql": cql, "expand": params.get("expand"),
                                                              "limit": page_size}))
        async for item in client.follow(body, max_items=max_items):
            yield item

    async def attachments(self, page_id: str, *, limit: int, cursor: str | None, filename: str | None,
                          media_type: str | None) -> ResultPage:
        client = self.client
        v1_path = f"content/{segment(page_id)}/child/attachment"
        link = None
        if cursor:
            for kind in ("pages", "blogposts"):
                v2_link = client.cursor_link(cursor, f"{kind}/{segment(page_id)}/attachments", api="v2")
                if v2_link:
                    _same_filters(v2_link, filename, media_type)
                    return self._v2_page(await client.get_link(v2_link, limit=limit))
            link = client.decode_cursor(cursor, v1_path)
            _same_filters(link, filename, media_type)
            if client.is_gone(_ATTACHMENTS):
                raise ListingMoved(_MOVED)
        if not client.is_gone(_ATTACHMENTS):
            try:
                if link:
                    return client.result_page(await client.get_link(link, limit=limit))
                return client.result_page(await client.get_json(v1_path, params={
                    "limit": limit, "filename": filename, "mediaType": media_type, "expand": "version,container"}))
            except ConfluenceHTTPError as exc:
                if not client.note_gone(_ATTACHMENTS, exc):
                    raise
                if link:
                    raise ListingMoved(_MOVED) from None
        query = {"limit": limit, "filename": filename, "mediaType": media_type}
        *_, body = await page_or_blogpost(page_id, lambda path: client.get_json(f"{path}/attachments", params=query,
                                                                                api="v2"))
        return self._v2_page(body)

    async def every_attachment(self, page_id: str, *, max_items: int | None,
                               page_size: int = 100) -> list[dict[str, Any]]:
        """A page's attachments (all of them unless `max_items`), following the cursors; a listing that moves to
        v2 midway is simply listed again."""
        for _ in range(2):
            found: list[dict[str, Any]] = []
            cursor: str | None = None
            try:
                while max_items is None or len(found) < max_items:
                    size = page_size if max_items is None else max(1, min(max_items - len(found), page_size))
                    page = await self.attachments(page_id, limit=size, cursor=cursor, filename=None, media_type=None)
                    found += page.results
                    cursor = page.next
                    if not cursor or not page.results:
                        break
                return found if max_items is None else found[:max_items]
            except ListingMoved:
                continue
        raise ListingMoved(f"The attachment listing of page {page_id} kept moving between REST v1 and v2; "
                           "try again.")

    def _v2_page(self, body: Any) -> ResultPage:
        page = self.client.result_page(body)
        page.results = [v2_to_v1_attachment(item) for item in page.results]
        return page


def _same_filters(link: str, filename: str | None, media_type: str | None) -> None:
    """A cursor continues the listing it came from, filters included: a different filter given with it would be
    ignored silently, so it is refused."""
    query = cursor_query(link)
    for name, given in (("filename", filename), ("mediaType", media_type)):
        if given is not None and query.get(name, [None])[0] != given:
            raise BadRequest("This cursor belongs to a listing with other filters (filename, media_type): repeat "
                             "the filters the first call had, or list again without a cursor.")


def _by_age(query: str, content_type: str) -> str:
    """`query` for that content type, oldest first: mostly parents before their children, so a tree cut short
    keeps its top."""
    return cqlb.scoped(query, [], content_type=content_type, order_by="created")


def attachment_container(attachment: dict[str, Any]) -> str | None:
    """The id of the page (or blog post) an attachment is on: its `container`, else the `_expandable` link
    (".../content/<id>"), else the `/download/attachments/<id>/` segment of its download link."""
    container = attachment.get("container")
    if isinstance(container, dict) and container.get("id"):
        return str(container["id"])
    link = str((attachment.get("_expandable") or {}).get("container") or "")
    if link:
        return link.rstrip("/").rsplit("/", 1)[-1]
    found = re.search(r"/download/attachments/(\d+)/", str((attachment.get("_links") or {}).get("download") or ""))
    return found.group(1) if found else None
