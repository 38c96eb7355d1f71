"""Page write tools: create and delete, and the title and space helpers the update tools share.

Every write checks the toolkit's policy first (read-only, allowed spaces) and converts bodies to well-formed storage.
Updates live in `manage_updates`, labels in `manage_labels`, attachments in `manage_files`.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from confluence_mcp.confluence.client import ConfluenceClient
from confluence_mcp.errors import BadRequest, NotFound
from confluence_mcp.tools.bulk import BulkResult, run_bulk
from confluence_mcp.tools.content import resolve_page_ref
from confluence_mcp.tools.context import KitRuntime, current_kit
from confluence_mcp.tools.registry import tool
from confluence_mcp.tools.write_support import (
    BodyFormat,
    PageWrite,
    body_to_storage,
    create_once,
    delete_checked,
    find_title_ci,
    kit_labels,
    labels_after_write,
    load_page,
    page_write,
)

__all__ = [
    "NewPage",
    "clean_title",
    "create_page",
    "create_pages",
    "delete_page",
    "id_for_title",
    "refuse_duplicate",
]

Space = Annotated[str | None, Field(description="Space key (default: toolkit space)")]
Format = Annotated[BodyFormat, Field(description="Body markup (storage = Confluence XHTML)")]
IncludeBody = Annotated[bool, Field(description="Also return the stored XHTML body")]
Labels = Annotated[list[str] | None, Field(description="Labels (lower-case, no spaces)")]


class NewPage(BaseModel):
    title: str = Field(description="Unique in the space")
    body: str = Field("", description="In body_format")
    parent_id: str | None = Field(None, description="Default: the call's parent_id, else the homepage")
    labels: list[str] | None = None


def clean_title(title: str) -> str:
    cleaned = " ".join(re.sub(r"[\x00-\x1f\x7f]", " ", title).split())
    if not cleaned:
        raise BadRequest("The title is empty: give the page a title.")
    if len(cleaned) > 255:
        raise BadRequest(f"The title is {len(cleaned)} characters long; Confluence allows at most 255.")
    return cleaned


async def refuse_duplicate(client: ConfluenceClient, space: str, title: str, *, other_than: str = "") -> None:
    existing = await find_title_ci(client, space, title)
    if existing is not None and str(existing.get("id")) != other_than:
        url = client.web_url((existing.get("_links") or {}).get("webui"))
        raise BadRequest(
            f"A page titled '{existing.get('title')}' already exists in space {space} (id {existing.get('id')}, "
            f"{url}). Titles are unique per space regardless of case: choose another title, or edit that page "
            f"with update_page_by_id."
        )


async def _parent(kit: KitRuntime, space: str, parent_id: str | None, parent_title: str | None) -> str | None:
    """The parent page id: given, looked up by title, or the space's homepage."""
    client = kit.client
    if parent_id:
        parent_id = await resolve_page_ref(kit, parent_id)  # a page URL or tiny link too
        parent = await load_page(client, parent_id, expand="space")
        parent_space = (parent.get("space") or {}).get("key")
        if (parent_space or "").upper() != space.upper():
            raise BadRequest(f"Parent page {parent_id} is in space {parent_space}, not {space}: a page and its "
                             "parent must be in the same space.")
        return parent_id
    if parent_title:
        found = await find_title_ci(client, space, parent_title)
        if found is None:
            raise NotFound(f"No page titled '{parent_title}' in space {space} to use as parent: check the title or "
                           "pass parent_id.")
        return str(found["id"])
    home = (await kit.client.get_space(space, expand="homepage")).get("homepage") or {}
    return str(home["id"]) if home.get("id") else None


async def _create(kit: KitRuntime, space: str, title: str, body: str, *, body_format: BodyFormat,
                  parent_id: str | None, parent_title: str | None, status: str, labels: list[str] | None,
                  include_body: bool) -> PageWrite:
    client = kit.client
    title = clean_title(title)
    names = kit_labels(kit, labels or [])
    storage = await body_to_storage(client, body, body_format, space)
    await refuse_duplicate(client, space, title)
    parent = await _parent(kit, space, parent_id, parent_title)
    try:
        created = await create_once(client, space, title, storage, parent_id=parent, status=status, labels=names)
    except BadRequest as exc:
        if "already exist" in str(exc).lower():  # created by someone else since our check: name that page
            await refuse_duplicate(client, space, title)
        raise
    note = None
    if names:
        # Labels travel with the create, but a recovered create may have returned the earlier attempt's page;
        # adding is idempotent. The page exists either way, so a failure here must not hide it.
        added, failure = await labels_after_write(client, str(created["id"]), names)
        if failure is None:
            names = added or []
        else:
            note = f"Page created, but its labels could not be checked ({failure}); use update_labels to verify."
    if include_body:
        created = await load_page(client, str(created["id"]), expand="body.storage,version,space", drafts=True)
    return page_write(client, created, include_body=include_body, labels=names or None, note=note)


@tool("manage", "Create page", read_only=False)
async def create_page(
    title: Annotated[str, Field(description="Page title, unique in the space (ignoring case)")],
    body: Annotated[str, Field(description="Page body in body_format")],
    ctx: Context,
    space: Space = None,
    parent_id: Annotated[str | None, Field(description="Parent page id, page URL or tiny link")] = None,
    parent_title: Annotated[str | None, Field(description="Parent page title, if no parent_id")] = None,
    status: Annotated[Literal["current", "draft"], Field(description="current (published) or draft")] = "current",
    labels: Labels = None,
    body_format: Format = "markdown",
    include_body: IncludeBody = False,
) -> PageWrite:
    """Create a page (default parent: the space's homepage); refuses a title already used in the space."""
    kit = current_kit(ctx)
    kit.require_writable()
    key = kit.default_space(space)
    return await _create(kit, key, title, body, body_format=body_format, parent_id=parent_id,
                         parent_title=parent_title, status=status, labels=labels, include_body=include_body)


def _pages_info(raw: str | list[dict[str, str]] | dict[str, str]) -> list[NewPage]:
    """ELITEA's `pages_info`: a JSON list of `{"title": "body"}` objects (as a string or already parsed)."""
    data: Any = raw
    if isinstance(raw, str):
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise BadRequest(f'pages_info is not valid JSON ({exc}); expected [{{"Title": "body"}}, ...].') from exc
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise BadRequest('pages_info must be a JSON list of {"Title": "body"} objects.')
    return [NewPage(title=str(t), body=str(b)) for item in data for t, b in item.items()]


@tool("manage", "Create pages", read_only=False)
async def create_pages(
    ctx: Context,
    pages: Annotated[list[NewPage] | None, Field(description="Pages to create")]
    = None,
    pages_info: Annotated[str | list[dict[str, str]] | None, Field(
        description='ELITEA form of pages: [{"<title>": "<body>"}, ...], or that as JSON text')]
    = None,
    space: Space = None,
    parent_id: Annotated[str | None, Field(description="Default parent_id of the pages")] = None,
    status: Annotated[Literal["current", "draft"], Field(description="current or draft")] = "current",
    body_format: Format = "markdown",
) -> BulkResult:
    """Create several pages; one result per page (ok, id, url or error), so partial failures show."""
    kit = current_kit(ctx)
    kit.require_writable()
    key = kit.default_space(space)
    items = [*(pages or []), *(_pages_info(pages_info) if pages_info else [])]
    if not items:
        raise BadRequest("Nothing to create: pass `pages` as a list of {title, body} objects.")

    async def one(page: NewPage) -> PageWrite:
        return await _create(kit, key, page.title, page.body, body_format=body_format,
                             parent_id=page.parent_id or parent_id, parent_title=None, status=status,
                             labels=page.labels, include_body=False)

    return await run_bulk(items, lambda p: p.title, one)


async def id_for_title(kit: KitRuntime, space: str | None, title: str) -> str:
    key = kit.default_space(space)
    page = await find_title_ci(kit.client, key, title)
    if page is None:
        raise NotFound(f"No page titled '{title}' in space {key}: check the title (search_pages helps) or the space.")
    return str(page["id"])


async def _trashed(client: ConfluenceClient, page_id: str) -> dict[str, Any]:
    """The page when it is in the trash; else the "not found" load_page gave (it says what to check)."""
    try:
        page = await client.get_page(page_id, expand="version,space", statuses=("trashed",))
    except NotFound:
        page = {}
    if page.get("status") != "trashed":
        await load_page(client, page_id, expand="version,space")  # raises its own, explanatory NotFound
    return page


@tool("manage", "Delete page", read_only=False, destructive=True, idempotent=True)
async def delete_page(
    ctx: Context,
    page_id: Annotated[str | None, Field(description="Page id, page URL or tiny link.")] = None,
    page_title: Annotated[str | None, Field(description="Page title, if no page_id")] = None,
    space: Space = None,
    purge: Annotated[bool, Field(description="Delete permanently, skipping the trash")] = False,
) -> PageWrite:
    """Move a page to the trash (child pages stay); purge deletes it permanently."""
    kit = current_kit(ctx)
    kit.require_writable()
    if not page_id and not page_title:
        raise BadRequest("Say which page to delete: pass page_id, or page_title (with space).")
    target = await resolve_page_ref(kit, page_id) if page_id else await id_for_title(kit, space, page_title or "")
    try:
        page: dict[str, Any] = await load_page(kit.client, target, expand="version,space")
    except NotFound:
        # Already in the trash: a purge still empties it from there, a plain delete has nothing left to do.
        page = await _trashed(kit.client, target)
    kit.require_space((page.get("space") or {}).get("key"))
    if page.get("status") == "trashed" and not purge:
        out = page_write(kit.client, page)
        out.note = "Already in the trash: nothing changed. A space administrator can restore it; purge=true " \
                   "deletes it permanently."
        return out
    await delete_checked(kit.client, target, purge=purge)
    out = page_write(kit.client, page)
    out.status = "purged" if purge else "trashed"
    out.note = None if purge else "In the trash: a space administrator can restore it."
    return out
