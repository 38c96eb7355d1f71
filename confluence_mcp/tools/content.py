"""Read tools: a page as markdown (by id, URL or tiny link), a page tree, a page's attachments.

Every read checks the page's space against the toolkit's allowed spaces before anything is returned.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Annotated, Any
from urllib.parse import parse_qs, unquote_plus, urlsplit

import anyio
from mcp.server.mcpserver import Context
from pydantic import Field

from confluence_mcp.confluence.convert.window import MarkdownWindow, markdown_window
from confluence_mcp.confluence.users import UserNames, mentioned_user_names, person_names
from confluence_mcp.confluence.weblinks import space_key_of, storage_of
from confluence_mcp.errors import BadRequest, ConfluenceError, ConfluenceMCPError, NotFound, PolicyError
from confluence_mcp.tools.context import KitRuntime, current_kit
from confluence_mcp.tools.markdown_cache import MarkdownCache
from confluence_mcp.tools.models import (
    AttachmentInfo,
    AttachmentList,
    PageBody,
    PageComment,
    PageRead,
    PageTree,
    TreeNode,
)
from confluence_mcp.tools.registry import tool
from confluence_mcp.tools.write_support import load_page

__all__ = [
    "CONVERT_IN_THREAD",
    "MARKDOWN_CACHE",
    "get_page_attachments",
    "get_page_tree",
    "page_body",
    "page_markdown",
    "read_page_by_id",
    "resolve_page_ref",
    "storage_markdown",
    "tiny_code_to_id",
]

PageRefArg = Annotated[str, Field(min_length=1, description="Page id, page URL or tiny link.")]
_PAGE_EXPAND = "body.storage,version,space,ancestors,metadata.labels,history"
_TREE_CAP = 500  # nodes per tree answer; a tree cut short by it is flagged as truncated
CONVERT_IN_THREAD = 50_000  # characters of storage above which conversion leaves the event loop
# Markdown per read: a longer page comes in parts, cut where blocks end, instead of flooding the model's context
# (Claude Code, for one, refuses tool results over 25k tokens).
READ_CHARS = 60_000


def page_markdown(storage: str, site_url: str, space: str | None, page_id: str, users: UserNames = ()) -> str:
    """A page's storage as markdown with the site's links and mentioned users' names, remembered in
    MARKDOWN_CACHE; a body that is not well-formed XML is a ConfluenceError naming the page."""
    from confluence_mcp.confluence.convert import StorageParseError

    try:
        return MARKDOWN_CACHE.markdown(storage_markdown, storage, site_url, space, page_id, users)
    except StorageParseError as exc:  # Confluence validates on save; old or imported bodies may still be broken
        raise ConfluenceError(
            f"Page {page_id}'s stored body is not well-formed XML ({exc}), so it cannot be shown as markdown. Read "
            f"the raw storage with execute_generic_confluence: GET /rest/api/content/{page_id}?expand=body.storage."
        ) from exc


# One per process: a page version read again (read, edit, read back; the parts of a long page) is converted once.
MARKDOWN_CACHE = MarkdownCache()


def storage_markdown(storage: str, site_url: str, space: str | None, page_id: str, users: UserNames = ()) -> str:
    """`page_markdown` without the cache (for many small bodies, such as comments, that would only crowd it)."""
    from confluence_mcp.confluence.convert import storage_to_markdown
    from confluence_mcp.confluence.weblinks import site_link_context

    links = site_link_context(site_url, space=space, page_id=page_id, user_names=dict(users))
    return storage_to_markdown(storage, links=links)


def tiny_code_to_id(code: str) -> str:
    """Decode a Confluence tiny-link code: URL-safe-ish base64 of the page id, little-endian, trailing A's cut."""
    text = code.strip().replace("-", "/").replace("_", "+")
    if not text or not re.fullmatch(r"[A-Za-z0-9+/]+", text):
        raise BadRequest(f"{code!r} is not a Confluence tiny-link code")
    text += "A" * (-len(text) % 4)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest(f"{code!r} is not a Confluence tiny-link code") from exc
    value = int.from_bytes(raw, "little")
    if value <= 0:
        raise BadRequest(f"{code!r} is not a Confluence tiny-link code")
    return str(value)


async def resolve_page_ref(kit: KitRuntime, ref: str) -> str:
    """A page id from a numeric id, a page URL (any Cloud or Server form) or a tiny link."""
    ref = ref.strip()
    if ref.isdigit():
        return ref
    parts = urlsplit(ref)
    if parts.scheme and parts.scheme not in ("http", "https"):
        raise BadRequest(f"Unsupported page reference {ref!r}: give a page id, a page URL or a tiny link.")
    if parts.netloc:
        site = urlsplit(kit.client.site_url)
        if parts.netloc.lower() != site.netloc.lower():
            raise PolicyError(f"{ref} is not on the configured Confluence site ({site.netloc}).")
    path = parts.path.rstrip("/")
    if match := re.search(r"/pages/(?:edit-v2/|edit/)?(\d+)(?:/|$)", path):  # view, or Cloud's editor URL
        return match.group(1)
    if match := re.search(r"/blog/\d{4}/\d{2}/\d{2}/(\d+)(?:/|$)", path):  # a Cloud blog post
        return match.group(1)
    if path.endswith("viewpage.action"):
        page_ids = parse_qs(parts.query).get("pageId")
        if page_ids and page_ids[0].isdigit():
            return page_ids[0]
    if match := re.search(r"/x/([A-Za-z0-9_\-+/]+)$", path):
        return tiny_code_to_id(match.group(1))
    if match := re.search(r"/display/(~?[A-Za-z0-9_]+)/(\d{4})/(\d{2})/(\d{2})/([^/]+)$", path):  # a Server blog post
        key, title = match.group(1), unquote_plus(match.group(5))
        kit.require_space(key)
        posts = await kit.client.get_json("content", params={
            "spaceKey": key, "title": title, "type": "blogpost", "postingDay": "-".join(match.group(2, 3, 4))})
        post = next((item for item in posts.get("results") or [] if item.get("title") == title), None)
        if not post:
            raise NotFound(f"No blog post titled {title!r} in space {key} (from {ref}).")
        return str(post["id"])
    if match := re.search(r"/display/(~?[A-Za-z0-9_]+)/([^/]+)$", path):
        key, title = match.group(1), unquote_plus(match.group(2))
        kit.require_space(key)
        found = await kit.client.find_page_by_title(key, title)
        if not found:
            raise NotFound(f"No page titled {title!r} in space {key} (from {ref}).")
        return str(found["id"])
    raise BadRequest(f"Cannot find a page id in {ref!r}: give digits, a /spaces/KEY/pages/ID URL, "
                     "a viewpage.action?pageId=N URL, a /display/KEY/Title URL, a blog post's URL or a /x/ tiny "
                     "link.")


async def page_body(kit: KitRuntime, page_id: str, *, section: str | None = None, offset: int = 0,
                    max_chars: int = READ_CHARS) -> PageBody:
    """Read one page (policy-checked) and convert its storage body, or one `section` of it, to markdown; from
    `offset`, at most `max_chars` characters of it (see `windowed`)."""
    page = await load_page(kit.client, page_id, expand=_PAGE_EXPAND, drafts=True)
    links = page.get("_links") or {}
    space = space_key_of(page, links.get("webui"))
    kit.require_space(space)
    storage = storage_of(page)
    if section is not None:
        from confluence_mcp.confluence.convert import AmbiguousSection, SectionNotFound, section_storage

        try:
            storage = section_storage(storage, section)
        except (SectionNotFound, AmbiguousSection) as exc:
            raise section_problem(page_id, section, exc, instead="read the whole page") from exc
    users = await mentioned_user_names(kit.client, storage)  # `@Name`, not an account id
    arguments = (storage, kit.client.site_url, space, str(page["id"]), users)
    if len(storage) > CONVERT_IN_THREAD:
        markdown = await anyio.to_thread.run_sync(page_markdown, *arguments)
    else:
        markdown = page_markdown(*arguments)
    labels = [lab.get("name") or lab.get("label") for lab in
              ((page.get("metadata") or {}).get("labels") or {}).get("results", [])]
    ancestors = page.get("ancestors") or []
    version, history = page.get("version") or {}, page.get("history") or {}
    author, editor = await person_names(kit.client, history.get("createdBy"), version.get("by"))
    body = PageBody(
        id=str(page["id"]), title=page.get("title") or "", space=space,
        version=version.get("number"), url=kit.client.web_url(links.get("webui")),
        labels=[lab for lab in labels if lab], parent_id=str(ancestors[-1]["id"]) if ancestors else None,
        status=None if page.get("status", "current") == "current" else page.get("status"),
        created=history.get("createdDate"), author=author, last_modified=version.get("when"),
        last_modified_by=editor, markdown=markdown,
    )
    return windowed(body, offset, max_chars, section)


async def with_comments(kit: KitRuntime, body: PageBody, offset: int) -> PageRead:
    """The page (read, so policy-checked) with its comments, on the first part of a read only (later parts would
    repeat them)."""
    found: list[PageComment] | None = None
    extra: str | None = None
    if offset > 0:
        extra = "Comments come with the first part of the page (offset 0)."
    elif body.status == "draft":  # unpublished: nobody can comment yet, and Confluence answers 404 to the listing
        found = []
    else:
        from confluence_mcp.tools.comments import page_comments  # (imports this module)

        found, extra = await page_comments(kit, body.id, body.space)
    note = " ".join(text for text in (body.note, extra) if text) or None
    return PageRead(**{**dict(body), "comments": found, "note": note})


def section_problem(page_id: str, section: str, error: ValueError, *, instead: str) -> ConfluenceMCPError:
    """The message for a `section` that names no heading, or several (`instead`: what omitting it does)."""
    from confluence_mcp.confluence.convert import AmbiguousSection, SectionNotFound

    if isinstance(error, SectionNotFound):
        headings = ", ".join(repr(h) for h in error.available) or "none"
        return NotFound(f"Page {page_id} has no heading '{section}' (its headings: {headings}): use the exact "
                        f"heading text, or omit `section` to {instead}.")
    if isinstance(error, AmbiguousSection):
        return BadRequest(f"Page {page_id} has {len(error.paths)} headings '{section}': "
                          f"{', '.join(repr(p) for p in error.paths)}. Pass the path of the one you mean as "
                          "`section`, e.g. 'Parent heading / Heading'.")
    return BadRequest(f"Page {page_id}: {error}")


def markdown_part(markdown: str, offset: int, max_chars: int, what: str) -> MarkdownWindow | None:
    """The part of `what`'s markdown a read from `offset` returns, or None when that is all of it; BadRequest when
    `offset` is past the end. Shared by the tools that read long pages in parts."""
    total = len(markdown)
    if offset == 0 and total <= max_chars:
        return None
    if offset >= total:
        raise BadRequest(f"offset {offset} is past the end of {what}: its markdown has {total:,} characters.")
    return markdown_window(markdown, offset, max_chars)


def part_note(window: MarkdownWindow, what: str, read_on: str) -> str:
    """Which part of `what` this is, and how to read the next one (`read_on`: the call that continues)."""
    more = window.end < window.total
    return (f"Part of {what}: markdown characters {window.start:,} to {window.end:,} of {window.total:,}. "
            + (f"Read on with {read_on} offset={window.end}." if more else "This is the last part."))


def windowed(body: PageBody, offset: int, max_chars: int, section: str | None = None) -> PageBody:
    """The page (or its `section`) with only a part of its markdown when that is longer than `max_chars` from
    `offset`, saying which part and where the next one starts."""
    what = f"page {body.id}" + (f" version {body.version}" if body.version is not None else "") \
        + (f", section '{section}'" if section is not None else "")
    window = markdown_part(body.markdown, offset, max_chars, what)
    if window is None:
        return body
    note = (part_note(window, what, "read_page_by_id") + " A section can also be read alone (section). To edit a "
            "page read in parts, replace a section (update_page_by_id with section): a whole body built from one part "
            "would drop the rest of the page.")
    return body.model_copy(update={"markdown": window.text, "total_chars": window.total,
                                   "next_offset": window.end if window.end < window.total else None, "note": note})


@tool("content", "Read page", read_only=True)
async def read_page_by_id(
    page_id: PageRefArg, ctx: Context,
    section: Annotated[str | None, Field(description="Only the section under this heading (its text, or "
                                         "'Parent / Heading').")] = None,
    offset: Annotated[int, Field(ge=0, description="A previous part's next_offset.")] = 0,
    max_chars: Annotated[int, Field(ge=1000, le=1_000_000,
                                    description="Most markdown characters per part.")] = READ_CHARS,
    include_comments: Annotated[bool, Field(description="Also return its comments, oldest first.")] = False,
) -> PageRead:
    """Read a page as markdown, with title, space, version, author and dates, labels, parent and URL; a long page
    comes in parts."""
    kit = current_kit(ctx)
    body = await page_body(kit, await resolve_page_ref(kit, page_id), section=section, offset=offset,
                           max_chars=max_chars)
    return await with_comments(kit, body, offset) if include_comments else PageRead(**dict(body))


@tool("content", "Page tree", read_only=True)
async def get_page_tree(
    ctx: Context,
    page_id: Annotated[str | None, Field(description="Root page; omit for a whole space.")] = None,
    space: Annotated[str | None, Field(description="Space key without page_id (default: toolkit space).")] = None,
    max_depth: Annotated[int, Field(ge=1, le=20, description="Levels below the root.")] = 3,
) -> PageTree:
    """A page's descendants, or a space's hierarchy, as a flat list; depth 1 = children or top-level pages."""
    kit = current_kit(ctx)
    if page_id:
        root_id: str | None = await resolve_page_ref(kit, page_id)
        root = await load_page(kit.client, str(root_id), expand="space", drafts=True)
        key = space_key_of(root)
        kit.require_space(key)
        first = kit.client.children_of([str(root_id)], max_items=_TREE_CAP + 1)
    else:
        key = kit.default_space(space)
        root_id = None
        first = kit.client.root_pages(key, max_items=_TREE_CAP + 1)
    nodes, truncated = await _breadth_first(kit, first, root_id, max_depth)
    nodes.sort(key=lambda n: (n.depth, n.title.lower()))
    note = None
    if not nodes:  # an empty list alone reads like a failure
        note = f"Page {root_id} has no child pages." if root_id else f"Space {key} has no pages at its top level."
    return PageTree(root_id=root_id, space=key, pages=nodes, truncated=truncated, note=note)


async def _breadth_first(kit: KitRuntime, level: AsyncGenerator[dict[str, Any]], root_id: str | None,
                         max_depth: int) -> tuple[list[TreeNode], bool]:
    """Level by level, each in a few paginated calls, so every level is complete before a deeper one starts;
    truncated only when the node cap cuts a level short."""
    nodes: list[TreeNode] = []
    for depth in range(1, max_depth + 1):
        ids: list[str] = []
        async with aclosing(level) as pages:
            async for content in pages:
                if len(nodes) >= _TREE_CAP:
                    return nodes, True
                ancestors = content.get("ancestors") or []
                parent = str(ancestors[-1]["id"]) if ancestors and depth > 1 else root_id
                nodes.append(TreeNode(id=str(content["id"]), title=content.get("title") or "", parent_id=parent,
                                      depth=depth))
                ids.append(str(content["id"]))
        if not ids or depth == max_depth:
            break
        level = kit.client.children_of(ids, max_items=_TREE_CAP + 1 - len(nodes))
    return nodes, False


@tool("content", "Page attachments", read_only=True)
async def get_page_attachments(
    page_id: PageRefArg,
    ctx: Context,
    limit: Annotated[int, Field(ge=1, le=100, description="Results per page.")] = 25,
    cursor: Annotated[str | None, Field(description="`next` of a previous result.")] = None,
    filename: Annotated[str | None, Field(description="Exact file name.")] = None,
    media_type: Annotated[str | None, Field(description="MIME type, e.g. application/pdf.")] = None,
) -> AttachmentList:
    """A page's attachments: metadata and download URLs, no contents; paginated."""
    kit = current_kit(ctx)
    resolved = await resolve_page_ref(kit, page_id)
    page = await load_page(kit.client, resolved, expand="space", drafts=True)  # names a trashed page as such
    kit.require_space(space_key_of(page))
    listing = await kit.client.attachments(resolved, limit=limit, cursor=cursor, filename=filename,
                                           media_type=media_type)
    found = [_attachment(kit, a) for a in listing.results]
    return AttachmentList(page_id=resolved, attachments=found, next=listing.next,
                          note=None if found or cursor else _no_attachments(resolved, filename, media_type))


def _no_attachments(page_id: str, filename: str | None, media_type: str | None) -> str:
    """Why an attachment listing is empty: the filters it applied (exact values), or a page without files."""
    wanted = ([f"named {filename!r}"] if filename else []) + ([f"of type {media_type}"] if media_type else [])
    if not wanted:
        return f"Page {page_id} has no attachments."
    return (f"Page {page_id} has no attachment {' and '.join(wanted)}: the file name and media type must match "
            "exactly; omit them to list every attachment.")


def _attachment(kit: KitRuntime, item: dict[str, Any]) -> AttachmentInfo:
    extensions = item.get("extensions") or {}
    size = extensions.get("fileSize")
    return AttachmentInfo(
        id=str(item.get("id")), title=item.get("title") or "",
        media_type=(item.get("metadata") or {}).get("mediaType") or extensions.get("mediaType"),
        file_size=int(size) if isinstance(size, int | str) and str(size).isdigit() else None,
        version=(item.get("version") or {}).get("number"),
        download_url=kit.client.web_url((item.get("_links") or {}).get("download")),
    )
