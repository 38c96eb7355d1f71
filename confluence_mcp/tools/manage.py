"""Page write tools: create, update (whole body, one section, title only) and delete.

Every write checks the toolkit's policy first (read-only, allowed spaces), converts bodies to well-formed storage,
never overwrites someone else's newer version and never rewrites a body it was not asked to change.
Labels live in `manage_labels`, attachments in `manage_files`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from confluence_mcp.confluence.client import ConfluenceClient
from confluence_mcp.confluence.convert import (
    AmbiguousSection,
    SectionNotFound,
    keep_unchanged_blocks,
    replace_section,
)
from confluence_mcp.errors import BadRequest, ConfluenceError, NotFound
from confluence_mcp.tools.content import section_problem
from confluence_mcp.tools.context import KitRuntime, current_kit
from confluence_mcp.tools.registry import tool
from confluence_mcp.tools.write_support import (
    BodyFormat,
    BulkResult,
    PageWrite,
    apply_labels,
    body_to_storage,
    check_labels,
    create_once,
    delete_checked,
    find_title_ci,
    idempotent,
    kit_labels,
    load_page,
    page_write,
    raise_conflict,
    run_bulk,
    same_storage,
    update_checked,
)

__all__ = [
    "NewPage",
    "create_page",
    "create_pages",
    "delete_page",
    "update_page_by_id",
    "update_page_by_title",
    "update_pages",
]

Space = Annotated[str | None, Field(description="Space key (default: toolkit space)")]
Format = Annotated[BodyFormat, Field(description="Body markup (storage = Confluence XHTML)")]
IncludeBody = Annotated[bool, Field(description="Also return the stored XHTML body")]
Labels = Annotated[list[str] | None, Field(description="Labels (lower-case, no spaces)")]
_MACRO = re.compile(r'<ac:structured-macro\b[^>]*\bac:name="([^"]+)"')


class NewPage(BaseModel):
    title: str = Field(description="Unique in the space")
    body: str = Field("", description="In body_format")
    parent_id: str | None = Field(None, description="Default: the call's parent_id, else the homepage")
    labels: list[str] | None = None


def _clean_title(title: str) -> str:
    cleaned = " ".join(re.sub(r"[\x00-\x1f\x7f]", " ", title).split())
    if not cleaned:
        raise BadRequest("The title is empty: give the page a title.")
    if len(cleaned) > 255:
        raise BadRequest(f"The title is {len(cleaned)} characters long; Confluence allows at most 255.")
    return cleaned


async def _refuse_duplicate(client: ConfluenceClient, space: str, title: str, *, other_than: str = "") -> None:
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
    title = _clean_title(title)
    names = kit_labels(kit, labels or [])
    storage = await body_to_storage(client, body, body_format, space)
    await _refuse_duplicate(client, space, title)
    parent = await _parent(kit, space, parent_id, parent_title)
    try:
        created = await create_once(client, space, title, storage, parent_id=parent, status=status, labels=names)
    except BadRequest as exc:
        if "already exist" in str(exc).lower():  # created by someone else since our check: name that page
            await _refuse_duplicate(client, space, title)
        raise
    note = None
    if names:
        # Labels travel with the create, but a recovered create may have returned the earlier attempt's page;
        # adding is idempotent. The page exists either way, so a failure here must not hide it.
        try:
            names = await idempotent(lambda: apply_labels(client, str(created["id"]), names, "add"))
        except ConfluenceError as exc:
            note = f"Page created, but its labels could not be checked ({exc}); use update_labels to verify."
    if include_body:
        created = await load_page(client, str(created["id"]), expand="body.storage,version,space", drafts=True)
    return page_write(client, created, include_body=include_body, labels=names or None, note=note)


@tool("manage", "Create page", read_only=False)
async def create_page(
    title: Annotated[str, Field(description="Page title, unique in the space (ignoring case)")],
    body: Annotated[str, Field(description="Page body in body_format")],
    ctx: Context,
    space: Space = None,
    parent_id: Annotated[str | None, Field(description="Parent page id")] = None,
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


def _dropped_macros(old: str, new: str) -> list[str]:
    """Macro names `new` holds fewer of than `old`: counted, so losing one of two jira macros shows too."""
    before, after = Counter(_MACRO.findall(old)), Counter(_MACRO.findall(new))
    return sorted(name for name, count in before.items() if after[name] < count)


async def _update(kit: KitRuntime, page_id: str, *, new_title: str | None, new_body: str | None,
                  body_format: BodyFormat, section: str | None, expected_version: int | None,
                  new_labels: list[str] | None, minor_edit: bool, version_message: str | None,
                  allow_macro_removal: bool, include_body: bool) -> PageWrite:
    client = kit.client
    page = await load_page(client, page_id, expand="body.storage,version,space")
    space = (page.get("space") or {}).get("key") or ""
    kit.require_space(space)
    read_version = int(page["version"]["number"])
    if expected_version is not None and expected_version != read_version:
        await raise_conflict(client, page_id, sent_from=expected_version)
    labels = check_labels(new_labels) if new_labels is not None else None
    title = _clean_title(new_title) if new_title is not None else page["title"]
    old_storage = ((page.get("body") or {}).get("storage") or {}).get("value") or ""
    storage: str | None = None
    if new_body is not None:
        converted = await body_to_storage(client, new_body, body_format, space)
        # Markdown drops editor details a reader does not need; unchanged blocks keep their stored form.
        keep = keep_unchanged_blocks if body_format == "markdown" else None
        if section is not None:
            try:
                storage = replace_section(old_storage, section, converted, keep)
            except (SectionNotFound, AmbiguousSection) as exc:
                raise section_problem(page_id, section, exc, instead="replace the body") from exc
        else:
            storage = keep(old_storage, converted) if keep is not None else converted
        lost = _dropped_macros(old_storage, storage)
        if lost and not allow_macro_removal:
            what = f"section '{section}'" if section is not None else "body"
            raise BadRequest(f"The new {what} of page {page_id} drops macros the page has ({', '.join(lost)}). "
                             "Keep the placeholders read_page_by_id returned for them, or pass "
                             "allow_macro_removal=true if removing them is intended.")
        if same_storage(storage, old_storage):
            storage = None  # unchanged body: never write a version for it
    elif section is not None:
        raise BadRequest("`section` needs `new_body`: the content to put under that heading.")
    if title != page["title"]:
        await _refuse_duplicate(client, space, title, other_than=page_id)
    note = None
    if storage is None and title == page["title"]:
        result = page
        note = "No change to title or body: no new version was written."
    else:
        result = await update_checked(client, page, title=title, storage=storage, message=version_message,
                                      minor_edit=minor_edit)
    applied = None
    if labels is not None:
        applied = await apply_labels(client, page_id, kit_labels(kit, labels), "replace")
    if include_body and not ((result.get("body") or {}).get("storage") or {}).get("value"):
        result = await load_page(client, page_id, expand="body.storage,version,space")
    out = page_write(client, result, include_body=include_body, labels=applied, note=note)
    if not out.space:
        out.space = space
    return out


_Title = Annotated[str | None, Field(description="New title")]
_Body = Annotated[str | None, Field(description="New body, or the section's content, in body_format")]
_Section = Annotated[str | None, Field(description="Replace only the content under this heading (its text, "
                                                  "or a path like 'Team B / Notes' when the text repeats)")]
_Expected = Annotated[int | None, Field(description="Version you read; refused if the page changed since")]
_NewLabels = Annotated[list[str] | None, Field(description="Replace the labels with these (no new version)")]
_Minor = Annotated[bool, Field(description="Minor edit: no watcher notifications")]
_Message = Annotated[str | None, Field(description="Version comment")]
_AllowMacro = Annotated[bool, Field(description="Allow the write (body or section) to drop macros")]


@tool("manage", "Update page by id", read_only=False, idempotent=True)
async def update_page_by_id(
    page_id: Annotated[str, Field(description="Page id")],
    ctx: Context,
    new_title: _Title = None,
    new_body: _Body = None,
    body_format: Format = "markdown",
    section: _Section = None,
    expected_version: _Expected = None,
    new_labels: _NewLabels = None,
    minor_edit: _Minor = False,
    version_message: _Message = None,
    allow_macro_removal: _AllowMacro = False,
    include_body: IncludeBody = False,
) -> PageWrite:
    """Change a page's title, body or one section; never overwrites a newer version, unchanged parts stay as stored."""
    kit = current_kit(ctx)
    kit.require_writable()
    return await _update(kit, page_id, new_title=new_title, new_body=new_body, body_format=body_format,
                         section=section, expected_version=expected_version, new_labels=new_labels,
                         minor_edit=minor_edit, version_message=version_message,
                         allow_macro_removal=allow_macro_removal, include_body=include_body)


async def _id_for_title(kit: KitRuntime, space: str | None, title: str) -> str:
    key = kit.default_space(space)
    page = await find_title_ci(kit.client, key, title)
    if page is None:
        raise NotFound(f"No page titled '{title}' in space {key}: check the title (search_pages helps) or the space.")
    return str(page["id"])


@tool("manage", "Update page by title", read_only=False, idempotent=True)
async def update_page_by_title(
    page_title: Annotated[str, Field(description="Current page title")],
    ctx: Context,
    space: Space = None,
    new_title: _Title = None,
    new_body: _Body = None,
    body_format: Format = "markdown",
    section: _Section = None,
    expected_version: _Expected = None,
    new_labels: _NewLabels = None,
    minor_edit: _Minor = False,
    version_message: _Message = None,
    allow_macro_removal: _AllowMacro = False,
    include_body: IncludeBody = False,
) -> PageWrite:
    """Like update_page_by_id, finding the page by its title in the space."""
    kit = current_kit(ctx)
    kit.require_writable()
    page_id = await _id_for_title(kit, space, page_title)
    return await _update(kit, page_id, new_title=new_title, new_body=new_body, body_format=body_format,
                         section=section, expected_version=expected_version, new_labels=new_labels,
                         minor_edit=minor_edit, version_message=version_message,
                         allow_macro_removal=allow_macro_removal, include_body=include_body)


@tool("manage", "Update pages", read_only=False, idempotent=True)
async def update_pages(
    page_ids: Annotated[list[str], Field(description="Page ids", min_length=1)],
    ctx: Context,
    new_contents: Annotated[list[str] | None, Field(
        description="New bodies: one per page id, or one for all")] = None,
    new_labels: _NewLabels = None,
    body_format: Format = "markdown",
    minor_edit: _Minor = False,
    version_message: _Message = None,
) -> BulkResult:
    """Update several pages' bodies and/or labels; one result per page, so partial failures show."""
    kit = current_kit(ctx)
    kit.require_writable()
    ids = [pid.strip() for pid in page_ids]
    repeated = sorted({pid for pid in ids if ids.count(pid) > 1})
    if repeated:  # concurrent writes to one page: all but one would be lost while each reported ok
        raise BadRequest(f"page_ids lists {', '.join(repeated)} more than once: give each page once, with the "
                         "one body it should end up with.")
    contents: list[str | None]
    if new_contents is None:
        contents = [None] * len(page_ids)
    elif len(new_contents) == 1:
        contents = [new_contents[0]] * len(page_ids)
    elif len(new_contents) == len(page_ids):
        contents = list(new_contents)
    else:
        raise BadRequest(f"new_contents has {len(new_contents)} entries for {len(page_ids)} page ids: give one "
                         "per page, or a single body for all.")
    if new_contents is None and new_labels is None:
        raise BadRequest("Nothing to update: pass new_contents and/or new_labels.")
    pairs = list(zip(page_ids, contents, strict=True))

    async def one(pair: tuple[str, str | None]) -> PageWrite:
        return await _update(kit, pair[0], new_title=None, new_body=pair[1], body_format=body_format, section=None,
                             expected_version=None, new_labels=new_labels, minor_edit=minor_edit,
                             version_message=version_message, allow_macro_removal=False, include_body=False)

    return await run_bulk(pairs, lambda p: p[0], one)


@tool("manage", "Delete page", read_only=False, destructive=True, idempotent=True)
async def delete_page(
    ctx: Context,
    page_id: Annotated[str | None, Field(description="Page id")] = None,
    page_title: Annotated[str | None, Field(description="Page title, if no page_id")] = None,
    space: Space = None,
    purge: Annotated[bool, Field(description="Delete permanently, skipping the trash")] = False,
) -> PageWrite:
    """Move a page to the trash (child pages stay); purge deletes it permanently."""
    kit = current_kit(ctx)
    kit.require_writable()
    if not page_id and not page_title:
        raise BadRequest("Say which page to delete: pass page_id, or page_title (with space).")
    target = page_id or await _id_for_title(kit, space, page_title or "")
    page: dict[str, Any] = await load_page(kit.client, target, expand="version,space")
    kit.require_space((page.get("space") or {}).get("key"))
    await delete_checked(kit.client, target, purge=purge)
    out = page_write(kit.client, page)
    out.status = "purged" if purge else "trashed"
    out.note = None if purge else "In the trash: a space administrator can restore it."
    return out
