"""Page update tools: a whole body, one section or the title, by id or title, one page or several.

Every update checks the toolkit's policy first, never overwrites someone else's newer version (the version read is
sent back, and `expected_version` is checked), keeps the stored bytes of every block it was not asked to change, and
refuses to drop macros unless told to.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Annotated

import anyio
from mcp.server.mcpserver import Context
from pydantic import Field

from confluence_mcp.confluence.client import ConfluenceClient
from confluence_mcp.confluence.convert import (
    AmbiguousSection,
    LayoutSyntaxError,
    SectionNotFound,
    keep_unchanged_blocks,
    replace_section,
    unique_task_ids,
)
from confluence_mcp.confluence.weblinks import storage_of
from confluence_mcp.errors import BadRequest, ConfluenceMCPError
from confluence_mcp.tools.bulk import BulkResult, run_bulk
from confluence_mcp.tools.content import PageRefArg, resolve_page_ref, section_problem
from confluence_mcp.tools.context import KitRuntime, current_kit
from confluence_mcp.tools.manage import Format, IncludeBody, Space, clean_title, id_for_title, refuse_duplicate
from confluence_mcp.tools.registry import tool
from confluence_mcp.tools.write_support import (
    BodyFormat,
    PageWrite,
    apply_labels,
    body_to_storage,
    check_labels,
    kit_labels,
    labels_after_write,
    load_page,
    page_write,
    raise_conflict,
    same_storage,
    update_checked,
)

__all__ = ["PageRefs", "update_page_by_id", "update_page_by_title", "update_pages"]

PageRefs = Annotated[list[str], Field(description="Page ids, page URLs or tiny links", min_length=1)]
_MACRO = re.compile(r'<ac:structured-macro\b[^>]*\bac:name="([^"]+)"')


def _dropped_macros(old: str, new: str) -> list[str]:
    """Macro names `new` holds fewer of than `old`: counted, so losing one of two jira macros shows too."""
    before, after = Counter(_MACRO.findall(old)), Counter(_MACRO.findall(new))
    return sorted(name for name, count in before.items() if after[name] < count)


async def _new_storage(client: ConfluenceClient, page_id: str, old_storage: str, new_body: str,
                       body_format: BodyFormat, section: str | None, space: str) -> str:
    """The page's storage with `new_body` as its body, or as the content of `section`."""
    converted = await body_to_storage(client, new_body, body_format, space)
    # Markdown drops editor details a reader does not need; unchanged blocks keep their stored form.
    keep = keep_unchanged_blocks if body_format == "markdown" else None

    def merged() -> str:  # in a worker thread, as the conversion: merging a large page takes a while too
        if section is not None:
            try:
                storage = replace_section(old_storage, section, converted, keep)
            except (SectionNotFound, AmbiguousSection) as exc:
                raise section_problem(page_id, section, exc, instead="replace the body") from exc
            except LayoutSyntaxError as exc:
                raise BadRequest(f"Page {page_id}: {exc} Nothing was written.") from exc
        else:
            storage = keep(old_storage, converted) if keep is not None else converted
        return unique_task_ids(storage, old_storage) if keep is not None else storage

    return await anyio.to_thread.run_sync(merged)


async def _update(kit: KitRuntime, page_id: str, *, new_title: str | None, new_body: str | None,
                  body_format: BodyFormat, section: str | None, expected_version: int | None,
                  new_labels: list[str] | None, minor_edit: bool, version_message: str | None,
                  allow_macro_removal: bool, include_body: bool) -> PageWrite:
    client = kit.client
    page = await load_page(client, page_id, expand="body.storage,version,space")
    space = (page.get("space") or {}).get("key") or ""
    kit.require_space(space)
    read_version = int(page["version"]["number"])
    old_storage = storage_of(page)
    if expected_version is not None and expected_version != read_version:
        # A retry of an edit that already landed (a timeout, a resent call) finds the page holding exactly what
        # it asks for: nothing to overwrite, so it is a no-op rather than a conflict. Anything else is refused.
        try:
            landed = (new_body is not None or new_title is not None) and new_labels is None and \
                (new_title is None or clean_title(new_title) == page["title"]) and \
                (new_body is None or same_storage(await _new_storage(
                    client, page_id, old_storage, new_body, body_format, section, space), old_storage))
        except (ConfluenceMCPError, ValueError):
            landed = False
        if not landed:
            await raise_conflict(client, page_id, sent_from=expected_version)
        return page_write(client, page, note=f"The page is at version {read_version}, not {expected_version}, "
                          "but already holds this content: nothing was written.")
    labels = check_labels(new_labels) if new_labels is not None else None
    title = clean_title(new_title) if new_title is not None else page["title"]
    storage: str | None = None
    if new_body is not None:
        storage = await _new_storage(client, page_id, old_storage, new_body, body_format, section, space)
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
        await refuse_duplicate(client, space, title, other_than=page_id)
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
    elif result is not page and kit.toolkit.settings.labels:
        # The toolkit's labels go on every page the tools change, as on the ones they create. The edit has landed,
        # so a failure here must not hide it.
        applied, failure = await labels_after_write(client, page_id, kit_labels(kit))
        if failure is not None:
            note = (f"Page updated, but the toolkit's labels could not be added ({failure}); use update_labels to "
                    "add them.")
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
    page_id: PageRefArg,
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
    return await _update(kit, await resolve_page_ref(kit, page_id), new_title=new_title, new_body=new_body,
                         body_format=body_format, section=section, expected_version=expected_version,
                         new_labels=new_labels, minor_edit=minor_edit, version_message=version_message,
                         allow_macro_removal=allow_macro_removal, include_body=include_body)


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
    page_id = await id_for_title(kit, space, page_title)
    return await _update(kit, page_id, new_title=new_title, new_body=new_body, body_format=body_format,
                         section=section, expected_version=expected_version, new_labels=new_labels,
                         minor_edit=minor_edit, version_message=version_message,
                         allow_macro_removal=allow_macro_removal, include_body=include_body)


@tool("manage", "Update pages", read_only=False, idempotent=True)
async def update_pages(
    page_ids: PageRefs,
    ctx: Context,
    new_contents: Annotated[list[str] | None, Field(
        description="New bodies: one per page id, or one for all")] = None,
    new_labels: _NewLabels = None,
    body_format: Format = "markdown",
    minor_edit: _Minor = False,
    version_message: _Message = None,
    allow_macro_removal: _AllowMacro = False,
) -> BulkResult:
    """Update several pages' bodies and/or labels; one result per page, so partial failures show."""
    kit = current_kit(ctx)
    kit.require_writable()
    # URLs too, so duplicates show whatever the form; a ref that names no page fails as its own item only.
    ids: list[str | ConfluenceMCPError] = []
    for ref in page_ids:
        try:
            ids.append(await resolve_page_ref(kit, ref))
        except ConfluenceMCPError as exc:
            ids.append(exc)
    repeated = sorted({pid for pid in ids if isinstance(pid, str) and ids.count(pid) > 1})
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
    items = list(zip(page_ids, ids, contents, strict=True))

    async def one(item: tuple[str, str | ConfluenceMCPError, str | None]) -> PageWrite:
        _, page_id, body = item
        if isinstance(page_id, ConfluenceMCPError):
            raise page_id
        return await _update(kit, page_id, new_title=None, new_body=body, body_format=body_format, section=None,
                             expected_version=None, new_labels=new_labels, minor_edit=minor_edit,
                             version_message=version_message, allow_macro_removal=allow_macro_removal,
                             include_body=False)

    return await run_bulk(items, lambda item: item[1] if isinstance(item[1], str) else item[0], one)
