"""Web links between pages of one site, shared by the reader and the writers so markdown round-trips.

Pages are linked as `{site}/display/{SPACE}/{Title}` (spaces as `+`, a literal `+` as `%2B`, so titles map back
unambiguously); `/spaces/{SPACE}/pages/{id}/{Title}` links are understood too. `space_key_of` finds a content's
space key, from its JSON or from such links.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, quote_plus, unquote_plus, urlsplit

from confluence_mcp.confluence.convert import LinkContext

__all__ = ["site_link_context", "space_key_of", "storage_of"]

_SPACE_IN_WEB_URL = re.compile(r"/(?:spaces|display)/(~?[A-Za-z0-9_]+)")


def site_link_context(site_url: str, *, space: str | None, page_id: str | None = None,
                      user_names: Mapping[str, str] | None = None) -> LinkContext:
    """A LinkContext for pages of `site_url`; `space` is the page's own space, `page_id` enables attachment URLs,
    `user_names` labels mentions (account id or user key → display name)."""
    site = site_url.rstrip("/")

    def page_url(title: str, space_key: str | None) -> str | None:
        key = space_key or space
        return f"{site}/display/{key}/{quote_plus(title)}" if key else None

    def page_from_url(url: str) -> tuple[str, str | None] | None:
        if not url.startswith(site + "/"):
            return None
        parts = [p for p in urlsplit(url[len(site):]).path.split("/") if p]
        if len(parts) == 3 and parts[0] == "display":
            return unquote_plus(parts[2]), parts[1]
        if len(parts) == 5 and parts[0] == "spaces" and parts[2] == "pages":
            return unquote_plus(parts[4]), parts[1]
        return None

    def attachment_url(filename: str) -> str | None:
        return f"{site}/download/attachments/{page_id}/{quote(filename)}" if page_id else None

    # space_key stays None: a link that names its space keeps naming it, and same-space links come out as plain
    # web URLs, so storage read as markdown and written back is unchanged.
    return LinkContext(space_key=None, page_url=page_url, page_from_url=page_from_url, attachment_url=attachment_url,
                       user_name=user_names.get if user_names else None)


def storage_of(content: dict[str, Any]) -> str:
    """The storage body of a v1 Content object ("" when it was not expanded or is empty)."""
    return str(((content.get("body") or {}).get("storage") or {}).get("value") or "")


def space_key_of(content: dict[str, Any], *fallback_urls: str | None) -> str | None:
    """The space key of a v1 content JSON, else None.

    Tried in turn: the expanded `space`; the `_expandable.space` link (`/rest/api/space/<key>`, there when `space`
    was not expanded); `/spaces/<key>` or `/display/<key>` in `fallback_urls`, then in `_links.webui`.
    """
    space = content.get("space")
    if isinstance(space, dict) and space.get("key"):
        return str(space["key"])
    link = str((content.get("_expandable") or {}).get("space") or "")
    if key := (link.rsplit("/space/", 1)[-1] if "/space/" in link else ""):
        return key
    for url in (*fallback_urls, (content.get("_links") or {}).get("webui")):
        if match := _SPACE_IN_WEB_URL.search(url or ""):
            return match.group(1)
    return None
