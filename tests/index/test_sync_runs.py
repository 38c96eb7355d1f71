"""Runs against each other and against failures: one writer per collection, a failing selection changes nothing,
and deleted pages leave the collection whichever run indexed them (real sandbox, Postgres and embedder)."""

from __future__ import annotations

import pytest
from test_store import page_versions
from test_sync import SPACES, page_ids, run

from confluence_mcp.confluence.client import ConfluenceClient
from confluence_mcp.errors import BadRequest, IndexStoreError
from confluence_mcp.index.candidates import Candidate, changed_pages
from confluence_mcp.index.service import IndexService
from confluence_mcp.index.store import PageState
from confluence_mcp.index.sync import Selection, index_pages

pytestmark = pytest.mark.anyio


async def test_a_second_writer_on_a_collection_is_refused(env: tuple[IndexService, ConfluenceClient]) -> None:
    service, client = env
    await service.drop_collection("busy")
    async with service.store.run_lock("busy"):
        with pytest.raises(IndexStoreError, match="being updated by another index_data or remove_index run"):
            await run(service, client, "busy", space="TEAM")
        assert await service.store.collection_ref("busy") is None
    report = await run(service, client, "busy", space="TEAM")  # released: the next run goes ahead
    assert report.added > 0
    async with service.store.run_lock("other"):  # locks are per collection
        assert (await run(service, client, "busy", space="TEAM")).unchanged == report.added


async def test_a_failing_selection_leaves_the_collection_as_it_was(env: tuple[IndexService,
                                                                              ConfluenceClient]) -> None:
    service, client = env
    await service.drop_collection("keep")
    first = await run(service, client, "keep", space="TEAM")
    with pytest.raises(BadRequest):
        await index_pages(service, client, "keep", Selection(cql="title ~ ", allowed_spaces=SPACES), clean=True)
    assert len(await page_versions(service.store, "keep")) == first.added  # clean waited for a listing
    await service.drop_collection("never")
    with pytest.raises(BadRequest):
        await run(service, client, "never", cql="title ~ ")
    assert await service.store.collection_ref("never") is None  # nothing created


async def test_deleted_pages_leave_whichever_run_indexed_them(env: tuple[IndexService, ConfluenceClient]) -> None:
    service, client = env
    await service.drop_collection("gone")
    ids = await page_ids(client, "BENEFITS")
    await run(service, client, "gone", space="BENEFITS")
    # Refreshed by an ids run (its entry now belongs to that run), then deleted: the space run removes it.
    edited = await client.get_page(ids[0], expand="version,body.storage")
    await client.update_page(ids[0], title=edited["title"], version=edited["version"]["number"] + 1,
                             storage="<p>Refreshed on its own.</p>")
    assert (await run(service, client, "gone", page_ids=[ids[0]])).updated == 1
    await client.delete_page(ids[0])
    again = await run(service, client, "gone", space="benefits")  # a key in lower case lists the same space
    assert again.removed == 1 and ids[0] not in await page_versions(service.store, "gone")


async def test_selection_keys_ignore_order_and_policy() -> None:
    one = Selection(labels=["b", "a", "b"], page_ids=["2", "1"], allowed_spaces=SPACES)
    other = Selection(labels=["a", "b"], page_ids=["1", "2"], allowed_spaces=["TEAM"])
    assert one.source() == other.source() == "labels = a, b; ids = 1, 2"
    assert Selection(space="team").source() == Selection(space="TEAM").source()
    assert Selection(space="TEAM").covered_spaces() == {"team"}
    assert Selection(allowed_spaces=SPACES).covered_spaces() == {"benefits", "team"}
    assert Selection(space="TEAM", labels=["x"]).covered_spaces() is None  # lists part of the space only


def test_a_page_moved_to_another_space_is_reindexed() -> None:
    stored = {"1": PageState(version=3, space="OLD", labels=(), attachments=None, source="space = OLD")}
    assert changed_pages({"1": Candidate("1", 3, "NEW", ())}, stored, None) == ["1"]
    assert changed_pages({"1": Candidate("1", 3, "OLD", ())}, stored, None) == []


async def test_a_narrower_toolkit_never_removes_pages_outside_its_spaces(
        env: tuple[IndexService, ConfluenceClient]) -> None:
    service, client = env
    await service.drop_collection("shared")
    benefits, team = (await page_ids(client, "BENEFITS"))[0], (await page_ids(client, "TEAM"))[0]
    ids = (benefits, team)
    assert (await index_pages(service, client, "shared", Selection(page_ids=ids, allowed_spaces=SPACES))).added == 2
    # Same selection key, but this toolkit sees BENEFITS only: TEAM's page is not its to remove.
    narrow = await index_pages(service, client, "shared", Selection(page_ids=ids, allowed_spaces=["BENEFITS"]))
    assert narrow.removed == 0 and set(await page_versions(service.store, "shared")) == set(ids)
