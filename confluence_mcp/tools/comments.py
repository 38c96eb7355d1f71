"""A page's comments for read_page_by_id: footer comments and their replies, oldest first, as markdown.

They come from the client's comment listing (v1 `child/comment?depth=all`, or CQL `container = id` once that
is gone), which on Cloud also lists inline comments: v1 marks those `extensions.location = "inline"` and, expanded,
carries the highlighted text (`extensions.inlineProperties.originalSelection`) and the thread's state
(`extensions.resolution.status`). Bodies are converted like a page's, mentions read `@Display Name`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import anyio

from confluence_mcp.confluence.convert.window import markdown_window
from confluence_mcp.confluence.users import UserNames, person_names, user_names_by_page
from confluence_mcp.confluence.weblinks import storage_of
from confluence_mcp.tools.content import CONVERT_IN_THREAD, storage_markdown
from confluence_mcp.tools.context import KitRuntime
from confluence_mcp.tools.models import PageComment

__all__ = ["COMMENT_CHARS", "MAX_COMMENTS", "comment_entry", "page_comments"]

MAX_COMMENTS = 100  # comments per read: a busy page's discussion must not flood the model's context
COMMENT_CHARS = 4_000  # markdown characters per comment
_EXPAND = "body.storage,history,ancestors,extensions.inlineProperties,extensions.resolution"
_RESOLVED = {"resolved": True, "open": False, "reopened": False}


async def page_comments(kit: KitRuntime, page_id: str, space: str | None) -> tuple[list[PageComment], str | None]:
    """The oldest `MAX_COMMENTS` comments on the page, replies included, each at most `COMMENT_CHARS` of
    markdown; and a note when some were left out."""
    client = kit.client
    listed = oldest_first([c async for c in client.comments(page_id, expand=_EXPAND, max_items=MAX_COMMENTS + 1)])
    kept = listed[:MAX_COMMENTS]
    storages = [storage_of(comment) for comment in kept]
    users = await user_names_by_page(client, storages)  # one lookup of every mentioned user, as for a page
    authors = await person_names(client, *[(c.get("history") or {}).get("createdBy") for c in kept])
    arguments = (storages, users, client.site_url, space, page_id)
    if sum(map(len, storages)) > CONVERT_IN_THREAD:  # all comments together
        markdowns = await anyio.to_thread.run_sync(_convert_all, *arguments)
    else:
        markdowns = _convert_all(*arguments)
    comments = [comment_entry(c, page_id, author, markdown)
                for c, author, markdown in zip(kept, authors, markdowns, strict=True)]
    more = len(listed) > len(kept)  # listing one past the cap says so without fetching the rest's bodies
    return comments, (f"Only the oldest {MAX_COMMENTS} comments are included; newer ones were left out."
                      if more else None)


def oldest_first(comments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sorted by creation time when every comment says when it was created; else in the listing's order (v1 and
    CQL both list oldest first, but v1 with `depth=all` does not promise it)."""
    moments = [_created_at(comment) for comment in comments]
    dated = [(moment, comment) for moment, comment in zip(moments, comments, strict=True) if moment is not None]
    if len(dated) < len(comments):
        return comments
    return [comment for _, comment in sorted(dated, key=lambda pair: pair[0])]  # stable: ties keep listing order


def comment_entry(comment: dict[str, Any], page_id: str, author: str | None, markdown: str) -> PageComment:
    """One listed comment (a v1 Content object) as the read returns it; an inline comment's markdown starts with
    the text it highlights, quoted."""
    extensions: dict[str, Any] = comment.get("extensions") or {}
    location = extensions.get("location")
    selection = (extensions.get("inlineProperties") or {}).get("originalSelection")
    if location == "inline" and isinstance(selection, str) and selection.strip():
        markdown = "\n".join("> " + line for line in selection.strip().splitlines()) + "\n\n" + markdown
    status = (extensions.get("resolution") or {}).get("status")
    return PageComment(
        id=str(comment["id"]), author=author, created=(comment.get("history") or {}).get("createdDate"),
        markdown=markdown.rstrip(), reply_to=_reply_to(comment, page_id),
        location=str(location) if location and location != "footer" else None,
        resolved=_RESOLVED.get(str(status)) if status else None)


def _reply_to(comment: dict[str, Any], page_id: str) -> str | None:
    """The comment this one answers: a reply's v1 `ancestors` are the comments above it, the nearest last (the
    page is its container, not an ancestor; skipped all the same should a site list it)."""
    parents = [a for a in comment.get("ancestors") or [] if isinstance(a, dict) and a.get("id")
               and a.get("type", "comment") == "comment" and str(a["id"]) != page_id]
    return str(parents[-1]["id"]) if parents else None



def _created_at(comment: dict[str, Any]) -> datetime | None:
    raw = (comment.get("history") or {}).get("createdDate")
    try:
        moment = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None  # naive and aware times cannot be compared


def _convert_all(storages: list[str], users: list[UserNames], site_url: str, space: str | None,
                 page_id: str) -> list[str]:
    return [_converted(storage, site_url, space, page_id, names) if storage else ""
            for storage, names in zip(storages, users, strict=True)]


def _converted(storage: str, site_url: str, space: str | None, page_id: str, users: UserNames) -> str:
    from confluence_mcp.confluence.convert import StorageParseError

    try:
        # The page's id resolves a comment's relative links (an attachment named without a page is the page's).
        return _bounded(storage_markdown(storage, site_url, space, page_id, users))
    except StorageParseError as exc:  # one broken comment must not hide the page and the other comments
        return f"[This comment's stored body is not well-formed XML ({exc}); it is not shown.]"


def _bounded(markdown: str) -> str:
    """At most `COMMENT_CHARS` of a comment, cut where a block ends, saying so."""
    if len(markdown) <= COMMENT_CHARS:
        return markdown
    part = markdown_window(markdown, 0, COMMENT_CHARS)
    return f"{part.text.rstrip()}\n\n[Comment cut: {part.end:,} of {part.total:,} characters shown.]"
