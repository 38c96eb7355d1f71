"""get_page_tree on a large space (the handbook's DEPT, 747 pages): shallow levels are complete, in a few calls.

The truth is walked with plain REST (each page's child listing) from the space's root pages.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _mcp_fixtures import call, make_settings, mcp_client

from confluence_mcp.sandbox.runner import RunningSandbox, SandboxOptions, start_sandbox

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sandbox"))  # sandbox_helpers
from sandbox_helpers import shared_dir

HANDBOOK = shared_dir() / "corpora" / "handbook.jsonl"
pytestmark = [pytest.mark.anyio,
              pytest.mark.skipif(not HANDBOOK.is_file(), reason=f"handbook corpus not found at {HANDBOOK}")]


@pytest.fixture(scope="module")
def handbook() -> Iterator[RunningSandbox]:
    with start_sandbox(SandboxOptions(flavor="cloud", seed=HANDBOOK)) as sandbox:
        yield sandbox


def _levels(sandbox: RunningSandbox, depth: int) -> list[dict[str, str | None]]:
    """Every page down to `depth` levels of DEPT, as {id: parent id}, one dict per level."""
    with httpx.Client(base_url=sandbox.base_url, auth=sandbox.auth, timeout=30) as http:
        def listing(path: str, **params: Any) -> list[str]:
            return [r["id"] for r in http.get(path, params={"limit": 1000, **params}).json()["results"]]
        levels: list[dict[str, str | None]] = [dict.fromkeys(listing("/rest/api/space/DEPT/content/page",
                                                                     depth="root"))]
        while len(levels) < depth:
            levels.append({child: parent for parent in levels[-1]
                           for child in listing(f"/rest/api/content/{parent}/child/page")})
    return levels


def _requests(sandbox: RunningSandbox) -> int:
    return int(httpx.get(f"{sandbox.admin_url}/stats", timeout=10).json()["total"])


@pytest.mark.parametrize("max_depth", [1, 2, 3])
async def test_every_level_down_to_max_depth_is_complete(handbook: RunningSandbox, max_depth: int) -> None:
    truth = _levels(handbook, max_depth)
    httpx.post(f"{handbook.admin_url}/reset-stats", timeout=10).raise_for_status()
    async with mcp_client(make_settings(handbook.base_url, space="DEPT")) as client:
        tree = await call(client, "get_page_tree", {"space": "DEPT", "max_depth": max_depth})
    got = {(n["id"], n.get("parent_id"), n["depth"]) for n in tree["pages"]}
    assert got == {(pid, parent, depth) for depth, level in enumerate(truth, 1) for pid, parent in level.items()}
    assert tree["truncated"] is False
    assert _requests(handbook) <= 2 * max_depth  # a paginated listing per level, never one per node


async def test_the_cap_cuts_only_the_deepest_level_reached(handbook: RunningSandbox) -> None:
    async with mcp_client(make_settings(handbook.base_url, space="DEPT")) as client:
        tree = await call(client, "get_page_tree", {"space": "DEPT", "max_depth": 20})
    assert tree["truncated"] is True and len(tree["pages"]) == 500
    deepest = max(n["depth"] for n in tree["pages"])
    truth = _levels(handbook, deepest - 1)
    assert {n["id"] for n in tree["pages"] if n["depth"] < deepest} == {pid for level in truth for pid in level}


async def test_a_shallow_subtree_is_complete_in_one_listing(handbook: RunningSandbox) -> None:
    home = next(iter(_levels(handbook, 1)[0]))
    children = _levels(handbook, 2)[1]
    httpx.post(f"{handbook.admin_url}/reset-stats", timeout=10).raise_for_status()
    async with mcp_client(make_settings(handbook.base_url, space="DEPT")) as client:
        tree = await call(client, "get_page_tree", {"page_id": home, "max_depth": 1})
    assert {n["id"] for n in tree["pages"]} == set(children) and tree["truncated"] is False
    assert _requests(handbook) == 2  # the root page, then its children
