"""Pages that GET /content/{id} does not return by default: unpublished drafts (readable) and trashed pages
(named as such), on both flavours and on a Cloud site whose v1 page read is gone (v2 stand-in)."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from _mcp_fixtures import ToolFailed, call, make_settings, mcp_client

from confluence_mcp.sandbox.runner import SandboxOptions, start_sandbox

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sandbox"))  # sandbox_helpers
from sandbox_helpers import DEPRECATED_V1_PAGE_ROUTES

pytestmark = pytest.mark.anyio


async def _check(base_url: str) -> None:
    async with mcp_client(make_settings(base_url)) as client:
        draft = await call(client, "create_page", {"title": f"Draft {uuid.uuid4().hex[:8]}", "body": "draft *body*",
                                                   "status": "draft"})
        read = await call(client, "read_page_by_id", {"page_id": draft["id"]})
        assert read["status"] == "draft" and read["markdown"] == "draft *body*"
        with pytest.raises(ToolFailed, match="unpublished draft"):
            await call(client, "update_page_by_id", {"page_id": draft["id"], "new_body": "x"})
        published = await call(client, "read_page_by_id", {"page_id": "65539"})
        assert "status" not in published  # left out for a published page
        trashed = await call(client, "create_page", {"title": f"Trash {uuid.uuid4().hex[:8]}", "body": "x"})
        await call(client, "delete_page", {"page_id": trashed["id"]})
        for tool, args in [("read_page_by_id", {"page_id": trashed["id"]}),
                           ("update_page_by_id", {"page_id": trashed["id"], "new_body": "y"})]:
            with pytest.raises(ToolFailed, match="is in the trash"):
                await call(client, tool, args)
        with pytest.raises(ToolFailed, match="was not found or this account cannot see it"):
            await call(client, "read_page_by_id", {"page_id": "99999999"})


async def test_drafts_are_read_and_trashed_pages_named(flavor_sandbox: Any) -> None:
    await _check(flavor_sandbox.base_url)


async def test_the_same_through_v2_once_v1_is_gone() -> None:
    with start_sandbox(SandboxOptions(flavor="cloud")) as cloud:
        plan = {"fail_next": 10_000, "status": 410, "routes": DEPRECATED_V1_PAGE_ROUTES}
        httpx.post(f"{cloud.admin_url}/faults", json=plan, timeout=10).raise_for_status()
        await _check(cloud.base_url)
