"""Async Confluence REST client (Cloud v1/v2 and Server/Data Center v1).

The tools and the index code against the method names and signatures below. Every method raises the typed
errors of `confluence_mcp.errors`. Transport (pooling, auth, retries, error text) lives in `http.py`, URL
arithmetic in `urls.py`, cursors in `pagination.py`. Pages are read and written through v1 everywhere (v2 has no
CQL, labels or uploads, and one path keeps Cloud and Server behaviour identical); on a Cloud site that answers
410 Gone to one of the v1 page operations (deprecated there), that operation moves to v2 (`v2_pages.py`), and
a gone listing under a page to CQL or v2 (`listings.py`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import httpx

from confluence_mcp.config import Toolkit
from confluence_mcp.confluence.files import Files
from confluence_mcp.confluence.http import HttpCore, response_json
from confluence_mcp.confluence.listings import Listings
from confluence_mcp.confluence.pagination import CursorCodec, InvalidCursor, cursor_query
from confluence_mcp.confluence.response_cap import MAX_RESPONSE_BYTES
from confluence_mcp.confluence.urls import Api, SiteUrls, segment
from confluence_mcp.confluence.v2_pages import V2Pages
from confluence_mcp.errors import BadRequest, ConfluenceError, ConfluenceHTTPError, NotFound, PolicyError

__all__ = ["ConfluenceClient", "ResultPage"]

log = logging.getLogger(__name__)
_CURSOR_REFUSED = "cursor refused"  # our own cursor checks, never worth a retry elsewhere

_T = TypeVar("_T")


@dataclass
class ResultPage:
    """One page of a paginated listing; `next` is an opaque cursor for the following page, or None."""

    results: list[dict[str, Any]]
    next: str | None = None
    total: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class ConfluenceClient:
    """One pooled httpx.AsyncClient per credential, with retries, pagination and error translation.

    `site_url` is the web base: `https://x.atlassian.net/wiki` on Cloud, `http://host[/context]` on Server.
    v1 paths are relative to `{site_url}/rest/api`, v2 to `{site_url}/api/v2`, "site" to `site_url`.
    """

    def __init__(self, toolkit: Toolkit, *, transport: httpx.AsyncBaseTransport | None = None,
                 max_concurrency: int = 8, max_response_bytes: int = MAX_RESPONSE_BYTES) -> None:
        self.toolkit = toolkit
        self._core = HttpCore(toolkit, transport=transport, max_concurrency=max_concurrency,
                              max_response_bytes=max_response_bytes)
        self.urls: SiteUrls = self._core.urls
        self.site_url: str = self.urls.site_url
        self.hosting: Literal["cloud", "server"] = toolkit.hosting
        # Cursors survive restarts for the same credential, yet cannot be forged without its secret.
        seed = f"{self.site_url}\n{toolkit.credential.secret() or ''}".encode()
        key = hashlib.sha256(b"confluence-mcp cursor\n" + seed).digest() if toolkit.credential.secret() else None
        # Caches of what this account may see (user names) are kept per site and account, never shared.
        account = hashlib.sha256(b"confluence-mcp account\n" + seed).hexdigest()[:16]
        self.account_key = f"{self.site_url}#{account}"
        self._cursors = CursorCodec(self.urls.api_path_prefixes(), key)
        self._v2 = V2Pages(self)
        self._listings = Listings(self)
        self._files = Files(self)
        self._gone: set[str] = set()  # v1 page operations this (Cloud) site answered 410 Gone to

    async def __aenter__(self) -> ConfluenceClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._core.aclose()

    # -- transport --------------------------------------------------------------------------------
    async def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                      json: Any = None, files: Any = None, data: Any = None,
                      headers: dict[str, str] | None = None, api: Api = "v1",
                      follow_redirects: bool = False) -> httpx.Response:
        """Send with retries (429/502/503/504/connect/timeout only); raise typed errors for >= 400. Followed
        redirects leave the site without credentials."""
        return await self._core.send(method, self.urls.url(path, api), params=params, json=json,
                                     files=files, data=data, headers=headers, follow_redirects=follow_redirects)

    async def get_json(self, path: str, *, params: dict[str, Any] | None = None, api: Api = "v1") -> Any:
        return response_json(await self.request("GET", path, params=params, api=api))

    async def send_json(self, method: str, path: str, *, json: Any, params: dict[str, Any] | None = None,
                        api: Api = "v1") -> Any:
        return response_json(await self.request(method, path, params=params, json=json, api=api))

    async def v1_unless_gone(self, operation: str, v1: Callable[[], Awaitable[_T]],
                              v2: Callable[[], Awaitable[_T]]) -> _T:
        """Run the v1 call; once a Cloud site has answered it 410 Gone, the v2 stand-in instead (a 410 wrote
        nothing, so a write is never sent twice)."""
        if not self.is_gone(operation):
            try:
                return await v1()
            except ConfluenceHTTPError as exc:
                if not self.note_gone(operation, exc):
                    raise
        return await v2()

    def is_gone(self, operation: str) -> bool:
        """True once this site answered that v1 operation 410 Gone."""
        return operation in self._gone

    def note_gone(self, operation: str, exc: ConfluenceHTTPError) -> bool:
        """True, and remembered, when `exc` is a Cloud 410 Gone: the operation's stand-in serves from now on."""
        if exc.status != 410 or self.hosting != "cloud":
            return False
        log.warning("v1 %s is gone (410) on this site; using its REST v2 or CQL stand-in from now on", operation)
        self._gone.add(operation)
        return True

    async def paginate(self, path: str, *, params: dict[str, Any] | None = None, api: Api = "v1",
                       page_size: int = 25, max_items: int | None = None) -> AsyncIterator[dict[str, Any]]:
        """Yield every result, following `_links.next` (start/limit or cursor), up to max_items."""
        if max_items is not None and max_items <= 0:
            return
        body = await self.get_json(path, params={**(params or {}), "limit": page_size}, api=api)
        async for item in self.follow(body, max_items=max_items):
            yield item

    async def follow(self, body: Any, *, max_items: int | None = None) -> AsyncIterator[dict[str, Any]]:
        """The results of a listing's first page `body`, then of the pages its `_links.next` leads to."""
        seen: set[str] = set()
        count = 0
        while True:
            for item in body.get("results", []) if isinstance(body, dict) else []:
                yield item
                count += 1
                if max_items is not None and count >= max_items:
                    return
            link = self._next_link(body)
            if link is None or link in seen or not body.get("results"):
                return
            seen.add(link)
            body = await self.get_link(link)

    async def probe(self, url: str, *, params: dict[str, Any] | None = None) -> int | None:
        """HTTP status of a GET on a same-site URL (no exception for error statuses); None when unreachable."""
        link = self.urls.origin_relative(url)
        if link is None:
            raise PolicyError(f"Refusing to probe {url!r}: not on the Confluence site {self.urls.origin}.")
        try:
            response = await self._core.send("GET", self.urls.absolute(link), params=params)
        except ConfluenceHTTPError as exc:
            return exc.status
        except ConfluenceError:
            return None
        return response.status_code

    async def fetch(self, url: str, *, params: dict[str, Any] | None = None) -> httpx.Response:
        """GET a URL on the site, any content type, following redirects (off-site ones without credentials)."""
        link = self.urls.origin_relative(url)
        if link is None:
            raise PolicyError(f"Refusing to fetch {url!r}: only links on the Confluence site {self.urls.origin} "
                              "are fetched with its credentials.")
        return await self._core.send("GET", self.urls.absolute(link), params=params, follow_redirects=True,
                                     headers={"Accept": "*/*"})

    def web_url(self, webui: str | None) -> str | None:
        """Absolute web-UI URL from a `_links.webui` value (relative to site_url)."""
        return self.urls.web_url(webui)

    # -- reads ------------------------------------------------------------------------------------
    async def get_page(self, page_id: str, *, expand: str = "body.storage,version,space,ancestors,metadata.labels",
                       statuses: Sequence[str] = ()) -> dict[str, Any]:
        """GET /content/{id} (v1 Content object; pages and blog posts); `statuses` e.g. ("draft", "trashed")."""
        async def v1() -> dict[str, Any]:
            params = {"expand": expand, "status": list(statuses) or None}
            return dict(await self.get_json(f"content/{segment(page_id)}", params=params))
        return await self.v1_unless_gone("GET /content/{id}", v1, lambda: self._v2.get(page_id, expand, statuses))

    async def find_page_by_title(self, space: str, title: str, *,
                                 expand: str = "version,space") -> dict[str, Any] | None:
        """Exact title in a space (GET /content?spaceKey&title), or None."""
        async def v1() -> dict[str, Any] | None:
            body = await self.get_json("content", params={"spaceKey": space, "title": title, "type": "page",
                                                          "expand": expand, "limit": 5})
            return next((dict(item) for item in body.get("results", []) if item.get("title") == title), None)
        return await self.v1_unless_gone("GET /content", v1, lambda: self._v2.find_by_title(space, title, expand))

    async def search(self, cql: str, *, limit: int, cursor: str | None = None,
                     excerpt: str = "highlight") -> ResultPage:
        """GET /search (SearchResult wrappers with excerpt/url/lastModified); cursor from a previous page.

        Some Cloud tenants answer 400 on /search for CQL that /content/search accepts; there the same query is
        retried on /content/search (Content objects, no excerpts). Unparsable CQL is never retried."""
        fallback = {"expand": "space,version"}
        if cursor and self.cursor_link(cursor, "content/search"):  # continuing a search that fell back
            return await self._search_page("content/search", cql, limit, cursor, fallback)
        try:
            return await self._search_page("search", cql, limit, cursor, {"excerpt": excerpt})
        except ConfluenceHTTPError as exc:
            if (not isinstance(exc, BadRequest) or exc.detail == _CURSOR_REFUSED or self.hosting != "cloud"
                    or "could not parse" in str(exc).lower()):
                raise
            log.info("GET /search refused the query (%s); using /content/search", exc)
            return await self._search_page("content/search", cql, limit, None, fallback)

    async def content_search(self, cql: str, *, limit: int, cursor: str | None = None,
                             expand: str | None = None) -> ResultPage:
        """GET /content/search (Content objects)."""
        return await self._search_page("content/search", cql, limit, cursor, {"expand": expand})

    async def get_space(self, key: str, *, expand: str = "homepage") -> dict[str, Any]:
        """GET /space/{key} (id, key, name and, expanded, the homepage's id)."""
        async def v1() -> dict[str, Any]:
            result: dict[str, Any] = await self.get_json(f"space/{segment(key)}", params={"expand": expand})
            return result
        return await self.v1_unless_gone("GET /space/{key}", v1, lambda: self._v2.space(key))

    def child_pages(self, page_id: str, *, expand: str | None = None,
                    max_items: int | None = None) -> AsyncIterator[dict[str, Any]]:
        return self._listings.children(page_id, expand=expand, max_items=max_items)

    def descendant_pages(self, page_id: str, *, expand: str = "ancestors",
                         max_items: int | None = None) -> AsyncIterator[dict[str, Any]]:
        return self._listings.descendants(page_id, expand=expand, max_items=max_items)

    def children_of(self, page_ids: Sequence[str], *, expand: str | None = "ancestors",
                    max_items: int | None = None) -> AsyncGenerator[dict[str, Any]]:
        """The child pages of all these pages, in a few paginated CQL calls."""
        return self._listings.children_of(page_ids, expand=expand, max_items=max_items)

    def root_pages(self, space_key: str, *, max_items: int | None = None) -> AsyncGenerator[dict[str, Any]]:
        """A space's top-level pages (the homepage, and pages created outside it)."""
        return self._listings.roots(space_key, lambda: self._v2.roots(space_key), max_items=max_items)

    def comments(self, page_id: str, *, expand: str = "body.storage,history",
                 max_items: int | None = None) -> AsyncIterator[dict[str, Any]]:
        """Every comment on a page (or the first `max_items`), replies included."""
        return self._listings.comments(page_id, expand=expand, max_items=max_items)

    async def attachments(self, page_id: str, *, limit: int = 25, cursor: str | None = None,
                          filename: str | None = None, media_type: str | None = None) -> ResultPage:
        """One page of a page's attachments (v1 Content objects); `cursor` from a previous page."""
        return await self._listings.attachments(page_id, limit=limit, cursor=cursor, filename=filename,
                                                media_type=media_type)

    async def all_attachments(self, page_id: str, *, max_items: int | None = None,
                              page_size: int = 100) -> list[dict[str, Any]]:
        """Every attachment of a page (at most `max_items`), all listing pages followed."""
        return await self._listings.every_attachment(page_id, max_items=max_items, page_size=page_size)

    async def download(self, url_or_path: str) -> bytes:
        """Download an attachment by absolute URL (same site only) or a path relative to site_url."""
        return await self._files.download(url_or_path)

    async def download_attachment(self, attachment: dict[str, Any], *, version: str | None = None) -> bytes:
        """An attachment's bytes (its current version unless `version`), given its listing entry."""
        return await self._files.download_attachment(attachment, version=version)

    async def get_labels(self, page_id: str) -> list[str]:
        async def v1() -> list[str]:
            return [str(item.get("name")) async for item in
                    self.paginate(f"content/{segment(page_id)}/label", page_size=200)]
        return await self.v1_unless_gone("GET /content/{id}/label", v1, lambda: self._v2.labels(page_id))

    # -- writes -----------------------------------------------------------------------------------
    async def add_labels(self, page_id: str, names: Sequence[str]) -> list[str]:
        wanted = [{"prefix": "global", "name": name} for name in dict.fromkeys(n.strip() for n in names) if name]
        if not wanted:
            return await self.get_labels(page_id)
        body = await self.send_json("POST", f"content/{segment(page_id)}/label", json=wanted)
        return [str(item.get("name")) for item in body.get("results", [])]

    async def remove_label(self, page_id: str, name: str) -> None:
        # The query form also works for names containing "/", which the path form rejects.
        await self.request("DELETE", f"content/{segment(page_id)}/label", params={"name": name})

    async def create_page(self, space: str, title: str, storage: str, *, parent_id: str | None = None,
                          status: str = "current", labels: Sequence[str] = ()) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "type": "page", "title": title, "space": {"key": space}, "status": status,
            "body": {"storage": {"value": storage, "representation": "storage"}},
        }
        if parent_id:
            payload["ancestors"] = [{"id": str(parent_id)}]
        names = [name for name in dict.fromkeys(labels) if name]
        if names:
            payload["metadata"] = {"labels": [{"prefix": "global", "name": name} for name in names]}

        async def v1() -> dict[str, Any]:
            result: dict[str, Any] = await self.send_json("POST", "content", json=payload,
                                                          params={"expand": "version,space,ancestors"})
            return result
        return await self.v1_unless_gone("POST /content", v1, lambda: self._v2.create(
            space, title, storage, parent_id=parent_id, status=status, labels=names))

    async def update_page(self, page_id: str, *, title: str, storage: str | None, version: int,
                          status: str = "current", parent_id: str | None = None, message: str | None = None,
                          minor_edit: bool = False, content_type: str = "page") -> dict[str, Any]:
        """PUT /content/{id} with version.number = `version` (the new number). storage None keeps the body.
        `content_type` is "page" or "blogpost"."""
        if storage is None:
            # v1 needs a body on every page update: re-send the stored one so the body stays byte-identical.
            current = await self.get_page(page_id, expand="body.storage")
            storage = str(current.get("body", {}).get("storage", {}).get("value", ""))
            content_type = str(current.get("type") or "page")
        version_info: dict[str, Any] = {"number": version, "minorEdit": minor_edit}
        if message:
            version_info["message"] = message
        payload: dict[str, Any] = {
            "id": str(page_id), "type": content_type, "title": title, "status": status, "version": version_info,
            "body": {"storage": {"value": storage, "representation": "storage"}},
        }
        if parent_id:
            payload["ancestors"] = [{"id": str(parent_id)}]

        async def v1() -> dict[str, Any]:
            # No `expand`: the spec declares none here; the answer carries space and version by default.
            result: dict[str, Any] = await self.send_json("PUT", f"content/{segment(page_id)}", json=payload)
            return result
        return await self.v1_unless_gone("PUT /content/{id}", v1, lambda: self._v2.update(page_id, payload))

    async def delete_page(self, page_id: str, *, purge: bool = False) -> None:
        async def v1() -> None:
            path = f"content/{segment(page_id)}"
            try:
                await self.request("DELETE", path)
            except (NotFound, BadRequest):
                if not purge:
                    raise  # an already-trashed page answers 404/400 here, yet can still be purged below
            if purge:
                await self.request("DELETE", path, params={"status": "trashed"})
        await self.v1_unless_gone("DELETE /content/{id}", v1, lambda: self._v2.delete(page_id, purge=purge))

    async def upload_attachment(self, page_id: str, filename: str, content: bytes, *,
                                media_type: str = "application/octet-stream",
                                comment: str | None = None) -> dict[str, Any]:
        """Upload, or add a new version when the filename already exists on the page."""
        return await self._files.upload(page_id, filename, content, media_type=media_type, comment=comment)

    # -- helpers ----------------------------------------------------------------------------------
    async def _search_page(self, path: str, cql: str, limit: int, cursor: str | None,
                           extra: dict[str, Any]) -> ResultPage:
        if cursor:
            link = self.decode_cursor(cursor, path)
            issued_for = cursor_query(link).get("cql", [cql])[0]
            if " ".join(issued_for.split()) != " ".join(cql.split()):
                raise BadRequest("This cursor belongs to a different query; repeat the same query with it, "
                                 "or search again without a cursor.", detail=_CURSOR_REFUSED)
            body = await self.get_link(link, limit=limit)
        else:
            body = await self.get_json(path, params={"cql": cql, "limit": limit, **extra})
        page = self.result_page(body)
        for key in ("cqlQuery", "searchDuration", "start", "limit", "size"):
            if key in body:
                page.extra[key] = body[key]
        return page

    def result_page(self, body: dict[str, Any]) -> ResultPage:
        link = self._next_link(body)
        total = body.get("totalSize", body.get("totalCount"))
        return ResultPage(results=list(body.get("results", [])),
                          next=self._cursors.encode(link) if link else None,
                          total=total if isinstance(total, int) else None)

    def _next_link(self, body: Any) -> str | None:
        """`_links.next` as an origin-relative path under our API, or None (absent, foreign, outside the API)."""
        links = body.get("_links") if isinstance(body, dict) else None
        raw = links.get("next") if isinstance(links, dict) else None
        if not isinstance(raw, str):
            return None
        link = self.urls.origin_relative(raw)
        if link is None or not link.startswith(self.urls.api_path_prefixes()):
            return None
        return link

    def decode_cursor(self, cursor: str, listing_path: str, api: Api = "v1") -> str:
        """The link inside a cursor this client issued for that listing; BadRequest otherwise."""
        try:
            return self._cursors.decode(cursor, expected_path=self._listing_path(listing_path, api))
        except InvalidCursor as exc:
            raise BadRequest(f"Invalid cursor: {exc}.", detail=_CURSOR_REFUSED) from None

    def cursor_link(self, cursor: str, listing_path: str, api: Api = "v1") -> str | None:
        """The link inside `cursor` when it is a valid cursor of that listing, else None."""
        try:
            return self._cursors.decode(cursor, expected_path=self._listing_path(listing_path, api))
        except InvalidCursor:
            return None

    def _listing_path(self, listing_path: str, api: Api) -> str:
        return self.urls.site_path + ("/api/v2/" if api == "v2" else "/rest/api/") + listing_path

    async def get_link(self, link: str, *, limit: int | None = None) -> Any:
        params = {"limit": limit} if limit is not None else None
        return response_json(await self._core.send("GET", self.urls.absolute(link), params=params))

