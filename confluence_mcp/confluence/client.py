"""Async Confluence REST client (Cloud v1/v2 and Server/Data Center v1). CONTRACT STUB: being implemented.

The method names and signatures below are the contract the tools and the index code against; the bodies are
filled in by the client work. Every method raises the typed errors of `confluence_mcp.errors`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from confluence_mcp.config import Toolkit

__all__ = ["ConfluenceClient", "ResultPage"]

Api = Literal["v1", "v2", "site"]


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
                 max_concurrency: int = 8) -> None:
        raise NotImplementedError

    site_url: str
    hosting: Literal["cloud", "server"]

    async def __aenter__(self) -> ConfluenceClient: ...
    async def __aexit__(self, *exc: object) -> None: ...
    async def aclose(self) -> None: ...

    # -- transport --------------------------------------------------------------------------------
    async def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                      json: Any = None, files: Any = None, data: Any = None,
                      headers: dict[str, str] | None = None, api: Api = "v1") -> httpx.Response:
        """Send with retries (429/502/503/504/connect/timeout only); raise typed errors for >= 400."""
        raise NotImplementedError

    async def get_json(self, path: str, *, params: dict[str, Any] | None = None, api: Api = "v1") -> Any:
        raise NotImplementedError

    async def paginate(self, path: str, *, params: dict[str, Any] | None = None, api: Api = "v1",
                       page_size: int = 25, max_items: int | None = None) -> AsyncIterator[dict[str, Any]]:
        """Yield every result, following `_links.next` (start/limit or cursor), up to max_items."""
        raise NotImplementedError
        yield {}

    def web_url(self, webui: str | None) -> str | None:
        """Absolute web-UI URL from a `_links.webui` value (relative to site_url)."""
        raise NotImplementedError

    # -- reads ------------------------------------------------------------------------------------
    async def get_page(self, page_id: str, *,
                       expand: str = "body.storage,version,space,ancestors,metadata.labels") -> dict[str, Any]:
        """GET /content/{id} (v1 Content object)."""
        raise NotImplementedError

    async def find_page_by_title(self, space: str, title: str, *,
                                 expand: str = "version,space") -> dict[str, Any] | None:
        """Exact title in a space (GET /content?spaceKey&title), or None."""
        raise NotImplementedError

    async def search(self, cql: str, *, limit: int, cursor: str | None = None,
                     excerpt: str = "highlight") -> ResultPage:
        """GET /search (SearchResult wrappers with excerpt/url/lastModified); cursor from a previous page."""
        raise NotImplementedError

    async def content_search(self, cql: str, *, limit: int, cursor: str | None = None,
                             expand: str | None = None) -> ResultPage:
        """GET /content/search (Content objects)."""
        raise NotImplementedError

    async def get_space(self, key: str, *, expand: str = "homepage") -> dict[str, Any]:
        raise NotImplementedError

    async def child_pages(self, page_id: str, *, expand: str | None = None,
                          max_items: int | None = None) -> AsyncIterator[dict[str, Any]]:
        raise NotImplementedError
        yield {}

    async def descendant_pages(self, page_id: str, *, expand: str = "ancestors",
                               max_items: int | None = None) -> AsyncIterator[dict[str, Any]]:
        raise NotImplementedError
        yield {}

    async def attachments(self, page_id: str, *, limit: int = 25, cursor: str | None = None,
                          filename: str | None = None, media_type: str | None = None) -> ResultPage:
        raise NotImplementedError

    async def download(self, url_or_path: str) -> bytes:
        """Download an attachment by absolute URL (same site only) or a path relative to site_url."""
        raise NotImplementedError

    async def get_labels(self, page_id: str) -> list[str]:
        raise NotImplementedError

    # -- writes -----------------------------------------------------------------------------------
    async def add_labels(self, page_id: str, names: Sequence[str]) -> list[str]:
        raise NotImplementedError

    async def remove_label(self, page_id: str, name: str) -> None:
        raise NotImplementedError

    async def create_page(self, space: str, title: str, storage: str, *, parent_id: str | None = None,
                          status: str = "current", labels: Sequence[str] = ()) -> dict[str, Any]:
        raise NotImplementedError

    async def update_page(self, page_id: str, *, title: str, storage: str | None, version: int,
                          status: str = "current", parent_id: str | None = None,
                          message: str | None = None, minor_edit: bool = False) -> dict[str, Any]:
        """PUT /content/{id} with version.number = `version` (the new number). storage None keeps the body."""
        raise NotImplementedError

    async def delete_page(self, page_id: str, *, purge: bool = False) -> None:
        raise NotImplementedError

    async def upload_attachment(self, page_id: str, filename: str, content: bytes, *,
                                media_type: str = "application/octet-stream",
                                comment: str | None = None) -> dict[str, Any]:
        """Upload, or add a new version when the filename already exists on the page."""
        raise NotImplementedError
