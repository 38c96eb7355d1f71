"""Attachment bytes: downloads and uploads.

Cloud stopped serving the web UI's `/download/attachments/<pageId>/<file>` path (an attachment's
`_links.download`) to API tokens in 2026: it answers 401. There a file comes from the REST download endpoint
(`/content/{pageId}/child/attachment/{id}/download`), which redirects to the file on Atlassian's media host (the
redirect is followed without our credentials). Server/Data Center still serves the link.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import httpx

from confluence_mcp.confluence.http import response_json
from confluence_mcp.confluence.listings import attachment_container
from confluence_mcp.confluence.pagination import cursor_query
from confluence_mcp.confluence.urls import segment
from confluence_mcp.errors import BadRequest, ConfluenceError, NotFound, PolicyError

if TYPE_CHECKING:
    from confluence_mcp.confluence.client import ConfluenceClient

__all__ = ["Files"]

_NO_CHECK = {"X-Atlassian-Token": "no-check"}
_SERVLET = re.compile(r"/download/(?:attachments|thumbnails)/(\d+)/([^/]+)")  # a file as the web UI links it


class Files:
    def __init__(self, client: ConfluenceClient) -> None:
        self.client = client

    async def download(self, url_or_path: str) -> bytes:
        client = self.client
        link = client.urls.origin_relative(url_or_path)
        if link is None:
            raise PolicyError(f"Refusing to download {url_or_path!r}: only links on the Confluence site "
                              f"{client.urls.origin} are fetched with its credentials.")
        path = urlsplit(link).path
        servlet = _SERVLET.fullmatch(path.removeprefix(client.urls.site_path)) if path.startswith(
            client.urls.site_path + "/") else None
        if servlet and client.hosting == "cloud":  # Cloud refuses API tokens there: the listed file, through REST
            page_id, filename = servlet.group(1), unquote(servlet.group(2))
            found = await self._named(page_id, filename)
            if found is None:
                raise NotFound(f"No attachment {filename!r} on page {page_id}: check the link, or list the page's "
                               "attachments (get_page_attachments).")
            version = cursor_query(link).get("version", [None])[0]
            return await self.download_attachment({**found, "container": {"id": page_id}}, version=version)
        return (await client.fetch(link)).content

    async def download_attachment(self, attachment: dict[str, Any], *, version: str | None = None) -> bytes:
        client = self.client
        container, attachment_id = attachment_container(attachment), str(attachment.get("id") or "")
        if client.hosting == "cloud" and container and attachment_id:
            path = f"content/{segment(container)}/child/attachment/{segment(attachment_id)}/download"
            response = await client.fetch(client.urls.url(path), params={"version": version} if version else None)
            return response.content
        link = (attachment.get("_links") or {}).get("download")
        if not link:
            raise ConfluenceError(f"Attachment {attachment.get('title')!r} has no download link.")
        return await self.download(str(link))

    async def upload(self, page_id: str, filename: str, content: bytes, *, media_type: str,
                     comment: str | None) -> dict[str, Any]:
        """A new attachment, or a new version of the one with that file name (uploads stay on v1 everywhere)."""
        client = self.client
        match = await self._named(page_id, filename)
        base = f"content/{segment(page_id)}/child/attachment"
        form = {"minorEdit": "false", **({"comment": comment} if comment else {})}

        async def post(path: str) -> httpx.Response:
            return await client.request("POST", path, files={"file": (filename, content, media_type)}, data=form,
                                        headers=_NO_CHECK)

        if match:
            response = await post(f"{base}/{segment(str(match['id']))}/data")
        else:
            try:
                response = await post(base)
            except BadRequest:
                # Another upload of this name landed since the lookup (Confluence answers 400 to a duplicate
                # name): add a version to that file instead.
                match = await self._named(page_id, filename)
                if match is None:
                    raise
                response = await post(f"{base}/{segment(str(match['id']))}/data")
        body = response_json(response)
        if isinstance(body, dict) and isinstance(body.get("results"), list):
            return dict(body["results"][0]) if body["results"] else {}
        return dict(body)

    async def _named(self, page_id: str, filename: str) -> dict[str, Any] | None:
        """The page's attachment with exactly that file name, or None."""
        listed = await self.client.attachments(page_id, limit=5, filename=filename)
        return next((a for a in listed.results if a.get("title") == filename), None)
