"""Result models shared by the tools: compact, typed, with web-UI URLs (never REST links).

The tools return these pydantic models so clients get `structuredContent` plus an `outputSchema`; the JSON text
the SDK derives from them carries no `_links`/`_expandable` noise because the models only hold what an agent needs.
"""

from __future__ import annotations

import html
import re
from typing import Any

from pydantic import BaseModel, Field

__all__ = [
    "AttachmentInfo",
    "AttachmentList",
    "GenericResponse",
    "PageBodies",
    "PageBody",
    "PageComment",
    "PageId",
    "PageRead",
    "PageRef",
    "PageRefList",
    "PageTree",
    "SearchHit",
    "SearchResults",
    "TreeNode",
    "clean_excerpt",
    "strip_highlight",
]


class SearchHit(BaseModel):
    id: str
    title: str
    space: str | None = None
    url: str | None = None
    excerpt: str = ""
    last_modified: str | None = None


class SearchResults(BaseModel):
    results: list[SearchHit]
    next: str | None = None
    note: str | None = None


class SiteHit(SearchHit):
    type: str | None = None  # "blogpost" for a blog post; left out for pages


class SiteResults(SearchResults):
    results: list[SiteHit]  # type: ignore[assignment]  # pages and blog posts


class PageId(BaseModel):
    id: str
    title: str
    space: str
    url: str | None = None


class PageComment(BaseModel):
    id: str
    author: str | None = None  # display name
    created: str | None = None
    markdown: str  # an inline comment's starts with the highlighted text, quoted
    reply_to: str | None = None  # the comment this one answers
    location: str | None = None  # "inline" for a comment on highlighted text; footer comments leave it out
    resolved: bool | None = None  # inline comments: whether the thread was resolved


class PageBody(BaseModel):
    id: str
    title: str
    space: str | None = None
    version: int | None = None
    url: str | None = None
    labels: list[str] = Field(default_factory=list)
    parent_id: str | None = None
    status: str | None = None  # "draft" for an unpublished page; left out when published
    created: str | None = None  # when the page was created (ISO 8601), and by whom (display name)
    author: str | None = None
    last_modified: str | None = None  # when this version was saved, and by whom
    last_modified_by: str | None = None
    markdown: str
    total_chars: int | None = None  # set when markdown is only a part of the page
    next_offset: int | None = None  # where the next part starts; None on the last one
    note: str | None = None


class PageRead(PageBody):
    comments: list[PageComment] | None = None  # only when asked for (include_comments); label reads have none


class PageRef(BaseModel):
    id: str
    title: str
    space: str | None = None
    url: str | None = None


class PageRefList(BaseModel):
    pages: list[PageRef]
    next: str | None = None
    note: str | None = None


class PageBodies(BaseModel):
    pages: list[PageBody]
    truncated: bool = False
    note: str | None = None


class TreeNode(BaseModel):
    id: str
    title: str
    parent_id: str | None = None
    depth: int


class PageTree(BaseModel):
    root_id: str | None = None
    space: str | None = None
    pages: list[TreeNode]
    truncated: bool = False
    note: str | None = None


class AttachmentInfo(BaseModel):
    id: str
    title: str
    media_type: str | None = None
    file_size: int | None = None
    version: int | None = None
    download_url: str | None = None


class AttachmentList(BaseModel):
    page_id: str
    attachments: list[AttachmentInfo]
    next: str | None = None
    note: str | None = None  # set when nothing matched: what was looked for


JsonScalar = str | int | float | bool
# Any JSON value, each part typed (clients check tool schemas for values that accept anything); arrays of
# arrays have no place here and travel as JSON text.
JsonValue = dict[str, Any] | list[dict[str, Any] | JsonScalar | None] | JsonScalar


class GenericResponse(BaseModel):
    status: int
    method: str
    url: str
    body: JsonValue | None = None  # whatever JSON the site sent
    truncated: bool = False
    note: str | None = None


_HIGHLIGHT = re.compile(r"@@@hl@@@(.*?)@@@endhl@@@", re.DOTALL)


def clean_excerpt(raw: str | None, *, max_chars: int = 300) -> str:
    """Confluence highlight markers become **bold**; stray markers and whitespace runs are removed, and the HTML
    encoding of `highlight` excerpts (`&amp;`, `&quot;`, `&#39;`, ...) is undone."""
    text = _HIGHLIGHT.sub(r"**\1**", raw or "")
    text = html.unescape(strip_highlight(text))
    text = " ".join(text.split())
    return text if len(text) <= max_chars else text[: max_chars - 1].rstrip() + "…"



def strip_highlight(text: str) -> str:
    """`text` without Confluence's highlight markers, otherwise untouched (titles must stay exact)."""
    return text.replace("@@@hl@@@", "").replace("@@@endhl@@@", "")
