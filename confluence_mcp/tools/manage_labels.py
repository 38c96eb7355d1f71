"""Label tool: add, remove or replace labels on pages through the label endpoints only.

Unlike the seed toolkit, a label change never re-submits the body, so it creates no page version, notifies no
watchers and cannot freeze or drop macros.
"""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from pydantic import Field

from confluence_mcp.errors import BadRequest
from confluence_mcp.tools.bulk import BulkResult, run_bulk
from confluence_mcp.tools.content import resolve_page_ref
from confluence_mcp.tools.context import current_kit
from confluence_mcp.tools.manage_updates import PageRefs
from confluence_mcp.tools.registry import tool
from confluence_mcp.tools.write_support import (
    LabelMode,
    PageWrite,
    apply_labels,
    check_labels,
    load_page,
    page_write,
)

__all__ = ["update_labels"]


@tool("manage", "Update labels", read_only=False, idempotent=True)
async def update_labels(
    page_ids: PageRefs,
    new_labels: Annotated[list[str], Field(description="Labels (lower-case, no spaces)")],
    ctx: Context,
    mode: Annotated[LabelMode, Field(
        description="replace sets exactly these")] = "add",
) -> BulkResult:
    """Add, remove or replace labels on pages without touching their bodies (no new version)."""
    kit = current_kit(ctx)
    kit.require_writable()
    names = check_labels(new_labels)
    if not names and mode != "replace":
        raise BadRequest(f"No labels to {mode}: pass new_labels.")
    if mode != "remove":  # the toolkit's labels stay on (and go on) every page the tools change
        names = check_labels([*names, *kit.toolkit.settings.labels])

    async def one(ref: str) -> PageWrite:
        page_id = await resolve_page_ref(kit, ref)
        page = await load_page(kit.client, page_id, expand="version,space")
        kit.require_space((page.get("space") or {}).get("key"))
        now = await apply_labels(kit.client, page_id, names, mode)
        return page_write(kit.client, page, labels=now)

    return await run_bulk(page_ids, lambda page_id: page_id, one)
