"""Markdown read with read_page_by_id and written back unchanged leaves the storage semantically identical."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from manage_helpers import Rest, call, unique
from mcp import Client

from confluence_mcp.confluence.convert.xhtml import canonicalize

pytestmark = pytest.mark.anyio

FIXTURES = sorted((Path(__file__).parents[1] / "fixtures" / "storage").glob("*.xml"))


async def _round_trip(tools: Client, rest: Rest, page_id: str) -> None:
    before = rest.page(page_id)
    read = await call(tools, "read_page_by_id", page_id=page_id)
    out = await call(tools, "update_page_by_id", page_id=page_id, new_body=read["markdown"])
    after = rest.page(page_id)
    assert canonicalize(after["body"]["storage"]["value"]) == canonicalize(before["body"]["storage"]["value"])
    assert out["version"] == after["version"]["number"]


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.stem for f in FIXTURES])
async def test_fixture_round_trip(tools: Client, rest: Rest, fixture: Path) -> None:
    storage = fixture.read_text(encoding="utf-8")
    page = rest.create(unique(fixture.stem), storage)
    await _round_trip(tools, rest, page["id"])


async def test_demo_pages_round_trip(tools: Client, rest: Rest) -> None:
    # the seeded pages only, not the ones other tests made (their titles end in a random hex suffix)
    pages = [p for p in rest.space_pages("DEMO") if not re.search(r" [0-9a-f]{10}\b", p["title"])]
    assert pages
    for page in pages:
        await _round_trip(tools, rest, page["id"])
