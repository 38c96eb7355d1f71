"""Incremental indexing against the real sandbox (HTTP), the real embedded Postgres and the real local embedder."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import psycopg
import pytest
from llm_stub import EMBED_DIM, RunningServer, start_stub
from test_store import page_versions

from confluence_mcp.config import IndexSettings, Settings, load_settings
from confluence_mcp.confluence.client import ConfluenceClient
from confluence_mcp.errors import EmbedderMismatch
from confluence_mcp.index import sync
from confluence_mcp.index.chunking import chunking_id
from confluence_mcp.index.service import (
    IndexService,
    SearchRequest,
    close_shared_stores,
    open_service,
    run_index_search,
)
from confluence_mcp.index.sync import IndexReport, Selection, index_pages
from confluence_mcp.sandbox.runner import RunningSandbox

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sandbox"))  # sandbox_helpers
from sandbox_helpers import DEPRECATED_V1_LISTING_ROUTES as GONE_LISTINGS
from sandbox_helpers import DEPRECATED_V1_PAGE_ROUTES as GONE

SAMPLE = Path(__file__).parents[1] / "data" / "handbook_sample.jsonl"
SPACES = ["BENEFITS", "TEAM"]


def sandbox_settings(sandbox: RunningSandbox, index: IndexSettings, **index_overrides: Any) -> Settings:
    return load_settings(overrides={
        "credentials": {"default": {"base_url": sandbox.base_url, "username": "sandbox@example.com",
                                    "api_token": "sandbox-token"}},
        "toolkits": {"default": {"space": "BENEFITS", "allowed_spaces": SPACES}},
        "index": {**index.model_dump(exclude_none=True), **index_overrides},
    }, environ={})



@asynccontextmanager
async def open_env(sandbox: RunningSandbox,
                   index_settings: IndexSettings) -> AsyncIterator[tuple[IndexService, ConfluenceClient]]:
    """An index service and a client on `sandbox` (shared by the sync test modules' `env` fixtures)."""
    async with service_and_client(sandbox_settings(sandbox, index_settings)) as env:
        yield env


@asynccontextmanager
async def service_and_client(settings: Settings) -> AsyncIterator[tuple[IndexService, ConfluenceClient]]:
    """An index service and a client for `settings`' first toolkit; the shared stores closed afterwards."""
    async with ConfluenceClient(settings.resolved_toolkits()[0]) as client:
        service = await open_service(settings)
        try:
            yield service, client
        finally:
            await close_shared_stores()



async def run(service: IndexService, client: ConfluenceClient, collection: str, **selection: Any) -> IndexReport:
    return await index_pages(service, client, collection, Selection(allowed_spaces=SPACES, **selection))


async def page_ids(client: ConfluenceClient, space: str) -> list[str]:
    listing = await client.content_search(f'space = "{space}" AND type = page', limit=200)
    return sorted(str(item["id"]) for item in listing.results)


async def search_ids(service: IndexService, collection: str, query: str, **filters: Any) -> list[str]:
    _, hits = await run_index_search(service, SearchRequest(query=query, collection=collection, top_k=50, **filters))
    return [hit.page_id for hit in hits]


@pytest.mark.anyio
async def test_incremental_edit_delete(env: tuple[IndexService, ConfluenceClient]) -> None:
    service, client = env
    await service.drop_collection("inc")
    ids = await page_ids(client, "BENEFITS")
    first = await run(service, client, "inc", space="BENEFITS")
    assert (first.added, first.updated, first.unchanged, first.removed) == (len(ids), 0, 0, 0)
    assert first.chunks >= len(ids)

    again = await run(service, client, "inc", space="BENEFITS")
    assert (again.added, again.updated, again.unchanged, again.removed, again.chunks) == (0, 0, len(ids), 0, 0)

    # Edit one page: only it is fetched and re-embedded.
    edited = await client.get_page(ids[0], expand="version,body.storage")
    await client.update_page(ids[0], title=edited["title"], version=edited["version"]["number"] + 1,
                             storage="<h2>Zebra crossings</h2><p>Quokka policy: every quokka gets a desk.</p>")
    third = await run(service, client, "inc", space="BENEFITS")
    assert (third.added, third.updated, third.unchanged, third.removed) == (0, 1, len(ids) - 1, 0)
    assert ids[0] in await search_ids(service, "inc", "quokka desk policy", page_ids=[ids[0]])

    # Delete another page: it leaves the collection with all its chunks.
    await client.delete_page(ids[1])
    fourth = await run(service, client, "inc", space="BENEFITS")
    assert (fourth.removed, fourth.added, fourth.updated) == (1, 0, 0)
    versions = await page_versions(service.store, "inc")
    assert ids[1] not in versions and len(versions) == len(ids) - 1
    assert await search_ids(service, "inc", "benefits", page_ids=[ids[1]]) == []


@pytest.mark.anyio
async def test_runs_over_other_spaces_never_remove_each_other(env: tuple[IndexService, ConfluenceClient]) -> None:
    service, client = env
    await service.drop_collection("mixed")
    team = await run(service, client, "mixed", space="TEAM")
    benefits = await run(service, client, "mixed", space="BENEFITS")
    assert team.added > 0 and benefits.added > 0 and benefits.removed == 0
    assert (await run(service, client, "mixed", space="TEAM")).removed == 0
    spaces = {space for _, space in (await page_versions(service.store, "mixed")).values()}
    assert spaces == {"TEAM", "BENEFITS"}
    # Space filter at search time.
    _, hits = await run_index_search(service, SearchRequest(query="team", collection="mixed", space="TEAM"))
    assert hits and {h.page_id for h in hits} <= set(await page_ids(client, "TEAM"))


@pytest.mark.anyio
async def test_selection_stays_inside_allowed_spaces(env: tuple[IndexService, ConfluenceClient]) -> None:
    service, client = env
    await service.drop_collection("scoped")
    # A CQL asking for every page still only reaches the allowed spaces (here: TEAM only).
    report = await index_pages(service, client, "scoped", Selection(cql="type = page", allowed_spaces=["TEAM"]))
    assert report.added == len(await page_ids(client, "TEAM"))
    assert {space for _, space in (await page_versions(service.store, "scoped")).values()} == {"TEAM"}


@pytest.mark.anyio
async def test_killed_run_then_rerun_is_exact(env: tuple[IndexService, ConfluenceClient],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    service, client = env
    # Small groups, so the run is stopped with most of the space's 26 pages still to write.
    monkeypatch.setattr(sync, "_PAGES_PER_EMBED", 4)
    monkeypatch.setattr(sync, "_PAGES_PER_WRITE", 2)
    for name in ("killed", "reference"):
        await service.drop_collection(name)
    committed = 0

    async def stop_after_five(done: int, total: int, message: str) -> None:
        nonlocal committed
        committed = done
        if done >= 5:
            scope.cancel()

    with anyio.CancelScope() as scope:
        await index_pages(service, client, "killed", Selection(space="BENEFITS", allowed_spaces=SPACES),
                          progress=stop_after_five)
    assert scope.cancelled_caught
    # The cancelled run let go of its writer lock: another session can take it (at once, or within moments when the
    # cancel cut the connection and the server has yet to see its session end: one flaky run on a loaded machine).
    async with await psycopg.AsyncConnection.connect(service.store.pool.conninfo, autocommit=True) as other:
        for _ in range(50):
            row = await (await other.execute("SELECT pg_try_advisory_lock(hashtextextended("
                                              "'confluence-mcp index ' || %s, 0))", ("killed",))).fetchone()
            if row is not None and row[0] is True:
                await other.execute("SELECT pg_advisory_unlock_all()")
                break
            await anyio.sleep(0.1)
        else:
            raise AssertionError("the cancelled run still holds its collection's lock after 5 s")
    # Pages go to the database in groups, each its own transaction: every reported page is stored, and a few
    # more of the group in flight may be.
    stored = len(await page_versions(service.store, "killed"))
    assert committed >= 5 and stored >= committed

    rerun = await run(service, client, "killed", space="BENEFITS")
    reference = await run(service, client, "reference", space="BENEFITS")
    assert stored < reference.added, (stored, reference.added)
    # The backend may still commit a page whose COMMIT was already sent when the client was cancelled, so the
    # rerun can find one or two more pages than were counted just after the cancel; never fewer, never a redo.
    assert stored <= rerun.unchanged < reference.added, (stored, rerun)
    assert rerun.added == reference.added - rerun.unchanged and rerun.updated == rerun.removed == 0
    killed_info = await service.store.get_collection("killed")
    reference_info = await service.store.get_collection("reference")
    assert killed_info is not None and reference_info is not None
    assert (killed_info.pages, killed_info.chunks) == (reference_info.pages, reference_info.chunks)


@pytest.mark.anyio
async def test_clean_rebuilds(env: tuple[IndexService, ConfluenceClient]) -> None:
    service, client = env
    await run(service, client, "clean", space="TEAM")
    rebuilt = await index_pages(service, client, "clean", Selection(space="TEAM", allowed_spaces=SPACES),
                                clean=True)
    assert rebuilt.unchanged == 0 and rebuilt.added == len(await page_ids(client, "TEAM"))


@pytest.mark.anyio
async def test_pages_cut_another_way_are_redone(env: tuple[IndexService, ConfluenceClient]) -> None:
    """A page chunked by an older release (or before chunking was recorded) is redone; the others are not."""
    service, client = env
    await service.drop_collection("cut")
    first = await run(service, client, "cut", space="TEAM")
    ids = sorted(await page_versions(service.store, "cut"))
    ref = await service.store.require_collection("cut")
    async with service.store.autocommit() as conn:
        await conn.execute("UPDATE index_pages SET chunking = 'v0:1000:120' WHERE collection_id = %s AND page_id = %s",
                           (ref.id, ids[0]))
        await conn.execute("UPDATE index_pages SET chunking = NULL WHERE collection_id = %s AND page_id = %s",
                           (ref.id, ids[1]))
    again = await run(service, client, "cut", space="TEAM")
    assert (again.updated, again.unchanged, again.added) == (2, first.added - 2, 0)
    settled = await run(service, client, "cut", space="TEAM")
    assert (settled.updated, settled.unchanged) == (0, first.added)
    states = await service.store.page_states("cut")
    assert {state.chunking for state in states.values()} == {chunking_id()}


@pytest.fixture(scope="module")
def stub() -> Iterator[RunningServer]:
    running = start_stub()
    yield running
    running.stop()


@pytest.mark.anyio
async def test_collections_with_different_embedders(sandbox: RunningSandbox, index_settings: IndexSettings,
                                                    stub: RunningServer) -> None:
    local = sandbox_settings(sandbox, index_settings)
    remote = sandbox_settings(sandbox, index_settings, embedder="openai", model="stub-embed",
                              base_url=stub.base_url, api_key="stub")
    async with ConfluenceClient(local.resolved_toolkits()[0]) as client:
        try:
            local_service, remote_service = await open_service(local), await open_service(remote)
            assert local_service.store is remote_service.store  # one pool per database and loop
            await remote_service.drop_collection("via-stub")
            report = await run(remote_service, client, "via-stub", space="TEAM")
            assert report.added > 0 and any(r["path"] == "embeddings" for r in stub.requests)
            info = await remote_service.store.get_collection("via-stub")
            assert info is not None and info.dimension == EMBED_DIM and info.embedder == "openai:stub-embed"
            assert await search_ids(remote_service, "via-stub", "team")
            with pytest.raises(EmbedderMismatch, match="via-stub"):
                await run_index_search(local_service, SearchRequest(query="team", collection="via-stub"))
            with pytest.raises(EmbedderMismatch):
                await run(local_service, client, "via-stub", space="TEAM")
        finally:
            await close_shared_stores()


@pytest.mark.anyio
@pytest.mark.parametrize("v1_gone", [False, True], ids=["v1", "v1-gone"])
async def test_attachments_and_comments_are_indexed_with_the_page(sandbox: RunningSandbox,
                                                                  index_settings: IndexSettings,
                                                                  v1_gone: bool) -> None:
    """Also on a Cloud site whose deprecated v1 page and listing endpoints answer 410 (CQL and v2 stand in)."""
    settings = sandbox_settings(sandbox, index_settings)
    kit = settings.resolved_toolkits()[0]
    async with ConfluenceClient(dataclasses.replace(kit, hosting="cloud")) as client:
        service = await open_service(settings)
        try:
            await _index_extras(sandbox, service, client, v1_gone)
        finally:
            await close_shared_stores()


async def _index_extras(sandbox: RunningSandbox, service: IndexService, client: ConfluenceClient,
                        v1_gone: bool) -> None:
    page_id = (await page_ids(client, "TEAM"))[0]
    await client.upload_attachment(page_id, "notes.txt", b"The xylophone rehearsal is on Fridays.",
                                   media_type="text/plain")
    await client.upload_attachment(page_id, "logo.png", b"\x89PNG not really", media_type="image/png")
    with httpx.Client(base_url=sandbox.base_url + "/rest/api", auth=sandbox.auth, timeout=10) as rest:
        first = rest.post("/content", json={"type": "comment", "container": {"id": page_id, "type": "page"},
                                            "body": {"storage": {"value": "<p>Bring the marimba mallets.</p>",
                                                                 "representation": "storage"}}}).json()
        rest.post("/content", json={"type": "comment", "container": {"id": page_id, "type": "page"},
                                    "ancestors": [{"id": first["id"]}],
                                    "body": {"storage": {"value": "<p>And the glockenspiel.</p>",
                                                         "representation": "storage"}}}).raise_for_status()
    if v1_gone:  # (creating comments below stays on v1: indexing never creates content)
        gone = [route for route in GONE + GONE_LISTINGS if not route.startswith("POST ")]
        httpx.post(f"{sandbox.admin_url}/faults", json={"fail_next": 10_000, "status": 410, "routes": gone},
                   timeout=5).raise_for_status()
    await service.drop_collection("extras")
    report = await index_pages(service, client, "extras", Selection(space="TEAM", allowed_spaces=SPACES),
                               include_comments=True, include_attachments=True)
    assert report.added == 7
    _, hits = await run_index_search(service, SearchRequest(query="xylophone rehearsal", collection="extras",
                                                            top_k=3))
    assert hits[0].page_id == page_id and "xylophone" in hits[0].text
    _, hits = await run_index_search(service, SearchRequest(query="logo.png", collection="extras",
                                                            page_ids=[page_id], top_k=20))
    assert any("File logo.png (image/png" in hit.text for hit in hits)
    _, hits = await run_index_search(service, SearchRequest(query="marimba mallets glockenspiel", collection="extras",
                                                            top_k=3))
    comments = next(hit.text for hit in hits if "marimba" in hit.text)  # a reply, too (v1 depth=all, or CQL)
    assert hits[0].page_id == page_id and "Bring the marimba mallets." in comments and "glockenspiel" in comments
    assert "Sandbox User: " in comments

    # A new comment leaves the page's version alone: a run with comments notices it through the comments' signatures.
    with httpx.Client(base_url=sandbox.base_url + "/rest/api", auth=sandbox.auth, timeout=10) as rest:
        rest.post("/content", json={"type": "comment", "container": {"id": page_id, "type": "page"},
                                    "body": {"storage": {"value": "<p>Vibraphone tuning is on Mondays.</p>",
                                                         "representation": "storage"}}}).raise_for_status()
    again = await index_pages(service, client, "extras", Selection(space="TEAM", allowed_spaces=SPACES),
                              include_comments=True)
    assert (again.updated, again.unchanged) == (1, 6)
    _, hits = await run_index_search(service, SearchRequest(query="vibraphone tuning", collection="extras", top_k=3))
    assert hits[0].page_id == page_id and "Vibraphone tuning" in hits[0].text
    # An edited page re-indexed by a run without comments keeps its comments (and its attachments).
    edited = await client.get_page(page_id, expand="version,body.storage")
    await client.update_page(page_id, title=edited["title"], version=edited["version"]["number"] + 1,
                             storage=edited["body"]["storage"]["value"] + "<p>Edited.</p>")
    third = await index_pages(service, client, "extras", Selection(space="TEAM", allowed_spaces=SPACES))
    assert third.updated == 1
    _, hits = await run_index_search(service, SearchRequest(query="marimba vibraphone xylophone", collection="extras",
                                                            page_ids=[page_id], top_k=20))
    text = " ".join(hit.text for hit in hits)
    assert "marimba" in text and "Vibraphone" in text and "xylophone" in text
