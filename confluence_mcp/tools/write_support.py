"""Helpers shared by the `manage*` tool modules: body conversion, result models, safe create and update, bulk runs.

Everything here talks to Confluence only through `ConfluenceClient` and raises `confluence_mcp.errors` types with
text that says which page, which space and what to check.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal, TypeVar

import anyio
from pydantic import BaseModel, Field

from confluence_mcp.confluence import convert, cql
from confluence_mcp.confluence.client import ConfluenceClient
from confluence_mcp.confluence.convert import LinkContext, StorageParseError, validate_storage
from confluence_mcp.confluence.weblinks import site_link_context
from confluence_mcp.errors import (
    BadRequest,
    ConfluenceConnectionError,
    ConfluenceError,
    ConfluenceMCPError,
    NotFound,
    ServerError,
    VersionConflict,
)
from confluence_mcp.tools.context import KitRuntime
from confluence_mcp.tools.manage_wiki import wiki_to_storage

__all__ = [
    "BodyFormat",
    "LabelMode",
    "PageWrite",
    "apply_labels",
    "body_to_storage",
    "check_labels",
    "create_once",
    "delete_checked",
    "find_title_ci",
    "idempotent",
    "kit_labels",
    "labels_after_write",
    "link_context",
    "load_page",
    "page_write",
    "raise_conflict",
    "same_storage",
    "update_checked",
]

log = logging.getLogger(__name__)

BodyFormat = Literal["markdown", "storage", "wiki"]
LabelMode = Literal["add", "remove", "replace"]
# Characters Confluence refuses in labels; refusing them here also stops markup sneaking in through a label.
_BAD_LABEL = re.compile(r"[\s!#&()*,.:;<>?@\[\]^\"'/\\|{}=+$%`~]")
_T = TypeVar("_T")


class PageWrite(BaseModel):
    """What every write tool returns: enough to find the page again, never the body unless asked."""

    id: str
    title: str
    space: str
    version: int | None = Field(None, description="Version number after the write")
    url: str | None = None
    status: str = "current"
    labels: list[str] | None = None
    body: str | None = Field(None, description="Storage body, only with include_body=true")
    note: str | None = Field(None, description="What happened when it was not a plain write (e.g. no change)")


def page_write(client: ConfluenceClient, content: dict[str, Any], *, include_body: bool = False,
               labels: list[str] | None = None, note: str | None = None) -> PageWrite:
    """The `PageWrite` for a v1 Content object."""
    space = (content.get("space") or {}).get("key") or ""
    links = content.get("_links") or {}
    body = ((content.get("body") or {}).get("storage") or {}).get("value") if include_body else None
    return PageWrite(id=str(content.get("id")), title=content.get("title") or "", space=space,
                     version=(content.get("version") or {}).get("number"), url=client.web_url(links.get("webui")),
                     status=content.get("status") or "current", labels=labels, body=body, note=note)


# -- body formats ------------------------------------------------------------------------------------------

def link_context(client: ConfluenceClient, space: str | None) -> LinkContext:
    """Links between pages as web URLs of this site (the same mapping the reader uses)."""
    return site_link_context(client.site_url, space=space)


async def body_to_storage(client: ConfluenceClient, body: str, body_format: BodyFormat, space: str | None) -> str:
    """Convert a tool's body argument to storage XHTML, refusing anything that is not well-formed. The work runs
    in a worker thread: a large body takes seconds, and the event loop serves every other call meanwhile."""
    links = link_context(client, space)
    return await anyio.to_thread.run_sync(lambda: _body_to_storage(body, body_format, links))


def _body_to_storage(body: str, body_format: BodyFormat, links: LinkContext) -> str:
    try:
        body.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate from a broken client encoding; no converter can take it
        raise BadRequest(f"The body holds U+{ord(body[exc.start]):04X} at character {exc.start}, half of a "
                         "surrogate pair and not valid text; remove it. Nothing was written.") from exc
    if body_format == "markdown":
        # Through the package: the markdown parser loads on the first write, not at server start.
        try:
            storage = convert.markdown_to_storage(body, links=links, strict_html=True)
        except (convert.LayoutSyntaxError, convert.RawHtmlError) as exc:
            raise BadRequest(f"{exc} Nothing was written.") from exc
    elif body_format == "wiki":
        storage = wiki_to_storage(body)
    else:
        storage = body
    try:
        validate_storage(storage)
    except StorageParseError as exc:
        hint = "" if body_format == "storage" else f" (converted from {body_format}; please report this)"
        raise BadRequest(f"The body is not valid Confluence storage format: {exc}{hint}. "
                         "Close every tag, self-close void elements (<br/>) and escape & < > in text.") from exc
    return storage


_BETWEEN_TAGS = re.compile(r">\s+<")


def same_storage(left: str | None, right: str | None) -> bool:
    """Equal up to whitespace between tags (Confluence may re-indent what it stores)."""
    if left is None or right is None:
        return left is right
    return _BETWEEN_TAGS.sub("><", left.strip()) == _BETWEEN_TAGS.sub("><", right.strip())


def check_labels(labels: Sequence[str]) -> list[str]:
    """Lower-cased, de-duplicated labels; refuse ones Confluence would reject (spaces, punctuation, markup)."""
    out: dict[str, None] = {}  # a dict, not a list: 100,000 labels must not take quadratic time on the event loop
    for raw in labels:
        name = raw.strip().lower()
        if not name or _BAD_LABEL.search(name) or len(name) > 255:
            raise BadRequest(f"Label {raw!r} is not allowed: labels are single words without spaces or any of "
                             "! # & ( ) * , . : ; < > ? @ [ ] ^ \" ' / \\ | { } = + $ % ` ~ (use - or _ instead).")
        out[name] = None
    return list(out)


# -- lookups -----------------------------------------------------------------------------------------------

async def find_title_ci(client: ConfluenceClient, space: str, title: str, *,
                        expand: str = "version,space") -> dict[str, Any] | None:
    """The page titled `title` in `space`, compared case-insensitively as Confluence does for uniqueness."""
    exact = await client.find_page_by_title(space, title, expand=expand)
    if exact is not None:
        return exact
    query = cql.and_(cql.clause("space", "=", space), cql.clause("type", "=", "page"),
                     cql.text_clause("title", title))
    try:
        found = await client.content_search(query, limit=50, expand=expand)
    except BadRequest:
        return None  # a title with no searchable words: the exact lookup above was all we could do
    wanted = title.strip().casefold()
    for item in found.results:
        if (item.get("title") or "").strip().casefold() == wanted:
            return item
    return None


async def load_page(client: ConfluenceClient, page_id: str, *, expand: str, drafts: bool = False) -> dict[str, Any]:
    """GET a page, with a "not found" that says what to check: in the trash, an unpublished draft (returned
    when `drafts`, for reads), or missing."""
    if not page_id.strip().isdigit():
        raise BadRequest(f"Page id {page_id!r} is not a number: use the digits from the page URL or a search result.")
    page_id = page_id.strip()
    try:
        return await client.get_page(page_id, expand=expand)
    except NotFound as exc:
        try:  # GET /content/{id} finds published pages only unless asked for other statuses
            page = await client.get_page(page_id, expand="version", statuses=("draft", "trashed"))
        except ConfluenceMCPError:  # the probe only refines the message: its own failure keeps the plain one
            page = {}
        status = page.get("status")
        if status == "draft" and drafts:
            return await client.get_page(page_id, expand=expand, statuses=("draft",))
        if status == "trashed":
            message = (f"Page {page_id} is in the trash: a space administrator can restore it, after which it can "
                       "be read and edited again.")
        elif status == "draft":
            message = (f"Page {page_id} is an unpublished draft: read_page_by_id can read it, but it must be "
                       "published in Confluence before it can be changed here.")
        else:
            message = (f"Page {page_id} was not found or this account cannot see it: check the id, or whether it "
                       "was deleted or restricted.")
        raise NotFound(message, detail=exc.detail) from exc


async def apply_labels(client: ConfluenceClient, page_id: str, names: Sequence[str], mode: LabelMode) -> list[str]:
    """Change labels through the label endpoints only, so no page version is created; returns the labels now."""
    wanted = check_labels(names)
    current = [name.lower() for name in await client.get_labels(page_id)]
    if mode == "add":
        missing = [n for n in wanted if n not in current]
        if missing:
            await idempotent(lambda: client.add_labels(page_id, missing))
        return sorted([*current, *missing])
    remove = [n for n in current if n in wanted] if mode == "remove" else [n for n in current if n not in wanted]
    for name in remove:
        await _remove_label(client, page_id, name)
    kept = [n for n in current if n not in remove]
    if mode == "replace":
        missing = [n for n in wanted if n not in kept]
        if missing:
            await idempotent(lambda: client.add_labels(page_id, missing))
        kept += missing
    return sorted(kept)


async def _remove_label(client: ConfluenceClient, page_id: str, name: str) -> None:
    for attempt in range(3):
        try:
            await client.remove_label(page_id, name)
            return
        except NotFound:
            if attempt == 0:
                raise
            return  # an earlier attempt that reported a 5xx did remove it
        except _RETRYABLE:
            if attempt == 2:
                raise


async def raise_conflict(client: ConfluenceClient, page_id: str, *, sent_from: int,
                         cause: Exception | None = None) -> None:
    """Refuse with the page's current version and who saved it, so the caller can re-read and merge."""
    page = await client.get_page(page_id, expand="version,space")
    version = page.get("version") or {}
    current = version.get("number")
    by = (version.get("by") or {}).get("displayName") or "someone"
    when = version.get("when") or "recently"
    raise VersionConflict(
        f"Page {page_id} ('{page.get('title')}') is at version {current}, saved by {by} ({when}), but this "
        f"edit was based on version {sent_from}. Nothing was written: re-read the page, merge your change and "
        f"retry with expected_version={current}.",
        current_version=current, changed_by=by,
    ) from cause


# -- safe create and update --------------------------------------------------------------------------------

_RETRYABLE = (ServerError, ConfluenceConnectionError)


async def create_once(client: ConfluenceClient, space: str, title: str, storage: str, *,
                      parent_id: str | None, status: str, labels: Sequence[str], attempts: int = 3) -> dict[str, Any]:
    """POST a page so that a retry after a timeout or 5xx never creates a second one.

    Before every re-post (and on a "title already exists" answer to our own retry) the title is looked up: when a
    page with that title and our body exists, the earlier attempt landed and its page is the result.
    """
    last: Exception | None = None
    for attempt in range(attempts):
        try:
            return await client.create_page(space, title, storage, parent_id=parent_id, status=status,
                                            labels=labels)
        except BadRequest as exc:
            if attempt == 0 or "already exist" not in str(exc).lower():
                raise
            last = exc
        except _RETRYABLE as exc:
            last = exc
        landed = await find_title_ci(client, space, title, expand="version,space,body.storage")
        if landed is not None:
            body = ((landed.get("body") or {}).get("storage") or {}).get("value")
            if same_storage(body, storage):
                return landed
            if isinstance(last, BadRequest):
                break
    assert last is not None
    raise last


async def update_checked(client: ConfluenceClient, page: dict[str, Any], *, title: str, storage: str | None,
                         message: str | None, minor_edit: bool, attempts: int = 3) -> dict[str, Any]:
    """PUT read-version + 1, so a newer version is never overwritten.

    After a 409, a 5xx or a lost connection the page is re-read: holding exactly what we sent at read-version + 1
    means our write landed (success); still at read-version means it did not (safe to send again, the version
    number guards against applying it twice); anything else is someone else's edit (refused with details).
    """
    page_id = str(page["id"])
    read_version = int(page["version"]["number"])
    ours = storage if storage is not None else ((page.get("body") or {}).get("storage") or {}).get("value")
    last: Exception | None = None
    for _ in range(attempts):
        try:
            return await client.update_page(page_id, title=title, storage=storage, version=read_version + 1,
                                            message=message, minor_edit=minor_edit,
                                            content_type=str(page.get("type") or "page"))
        except (VersionConflict, *_RETRYABLE) as exc:
            last = exc
        now = await client.get_page(page_id, expand="body.storage,version,space")
        now_version = (now.get("version") or {}).get("number")
        now_body = ((now.get("body") or {}).get("storage") or {}).get("value")
        if now_version == read_version + 1 and now.get("title") == title and \
                (ours is None or same_storage(now_body, ours)):
            return now
        if now_version != read_version or isinstance(last, VersionConflict):
            await raise_conflict(client, page_id, sent_from=read_version, cause=last)
    assert last is not None
    raise last


async def delete_checked(client: ConfluenceClient, page_id: str, *, purge: bool, attempts: int = 3) -> None:
    """DELETE (to trash, or purge); a 5xx whose delete did land is not reported as a failure."""
    for attempt in range(attempts):
        try:
            await client.delete_page(page_id, purge=purge)
            return
        except NotFound:
            if attempt == 0:
                raise
            return  # the earlier attempt that answered 5xx had already done it
        except _RETRYABLE:
            if attempt == attempts - 1:
                raise


async def idempotent(action: Callable[[], Awaitable[_T]], attempts: int = 3) -> _T:
    """Repeat an idempotent write (label add/remove) after a 5xx or lost connection."""
    for attempt in range(attempts):
        try:
            return await action()
        except _RETRYABLE:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


async def labels_after_write(client: ConfluenceClient, page_id: str, names: Sequence[str]) -> tuple[
        list[str] | None, str | None]:
    """Add `names` to a page a tool has just written (adding is idempotent, so it is retried). The write has
    landed, so a failure here must not hide it: (the page's labels, None), or (None, why) for the caller's note."""
    try:
        return await idempotent(lambda: apply_labels(client, page_id, names, "add")), None
    except ConfluenceError as exc:
        return None, str(exc)


def kit_labels(kit: KitRuntime, extra: Sequence[str] = ()) -> list[str]:
    """Labels for a new page: the caller's plus the toolkit's configured ones."""
    return check_labels([*extra, *kit.toolkit.settings.labels])


