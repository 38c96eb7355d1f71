"""Changes that leave a page's version alone: labels and attachments (real sandbox over HTTP, real Postgres)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from test_sync import SAMPLE, SPACES, page_ids, search_ids

from confluence_mcp.confluence.client import ConfluenceClient
from confluence_mcp.index.service import (
    IndexService,
    SearchRequest,
    run_index_search,
)
from confluence_mcp.index.sync import IndexReport, Selection, index_pages
from confluence_mcp.sandbox.runner import RunningSandbox, SandboxOptions, start_sandbox

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["cloud", "server"])
def sandbox(request: pytest.FixtureRequest) -> Iterator[RunningSandbox]:
    with start_sandbox(SandboxOptions(seed=SAMPLE, flavor=request.param)) as running:
        yield running



async def run(service: IndexService, client: ConfluenceClient, collection: str, *, attachments: bool = False,
              **selection: Any) -> IndexReport:
    selection.setdefault("space", "TEAM")
    return await index_pages(service, client, collection, Selection(allowed_spaces=SPACES, **selection),
                             include_attachments=attachments)


def counts(report: IndexReport) -> tuple[int, int, int, int]:
    return report.added, report.updated, report.unchanged, report.removed


async def texts(service: IndexService, collection: str, query: str, page_id: str) -> str:
    """All indexed text of one page that a search for `query` returns."""
    _, hits = await run_index_search(service, SearchRequest(query=query, collection=collection,
                                                            page_ids=[page_id], top_k=50))
    return "\n".join(hit.text for hit in hits)


def attachment_listings(sandbox: RunningSandbox, *, reset: bool = False) -> int:
    """Per-page attachment listings served (since the last reset)."""
    if reset:
        httpx.post(f"{sandbox.admin_url}/reset-stats")
    route = f"GET {urlparse(sandbox.base_url).path}/rest/api/content/{{id}}/child/attachment"
    return int(httpx.get(f"{sandbox.admin_url}/stats").json()["by_route"].get(route, 0))


async def test_label_changes_reindex_the_page(env: tuple[IndexService, ConfluenceClient]) -> None:
    service, client = env
    await service.drop_collection("labels")
    ids = await page_ids(client, "TEAM")
    target = ids[2]
    assert counts(await run(service, client, "labels")) == (len(ids), 0, 0, 0)

    await client.add_labels(target, ["quokka-watch"])
    assert counts(await run(service, client, "labels")) == (0, 1, len(ids) - 1, 0)
    assert set(await search_ids(service, "labels", "team", labels=["quokka-watch"])) == {target}
    assert "quokka-watch" in (await service.store.page_states("labels"))[target].labels

    await client.remove_label(target, "quokka-watch")
    assert counts(await run(service, client, "labels")) == (0, 1, len(ids) - 1, 0)
    assert await search_ids(service, "labels", "team", labels=["quokka-watch"]) == []
    assert counts(await run(service, client, "labels")) == (0, 0, len(ids), 0)


async def test_attachment_changes_reindex_the_page(env: tuple[IndexService, ConfluenceClient],
                                                   sandbox: RunningSandbox) -> None:
    service, client = env
    await service.drop_collection("files")
    ids = await page_ids(client, "TEAM")
    target = ids[1]
    assert counts(await run(service, client, "files", attachments=True)) == (len(ids), 0, 0, 0)

    attachment_listings(sandbox, reset=True)
    assert counts(await run(service, client, "files", attachments=True)) == (0, 0, len(ids), 0)
    assert attachment_listings(sandbox) == 0  # one CQL listing, no request per page

    uploaded = await client.upload_attachment(target, "rehearsal.txt", b"The xylophone rehearsal is on Fridays.",
                                              media_type="text/plain")
    assert counts(await run(service, client, "files", attachments=True)) == (0, 1, len(ids) - 1, 0)
    assert "xylophone rehearsal is on Fridays" in await texts(service, "files", "xylophone rehearsal", target)

    await client.upload_attachment(target, "rehearsal.txt", b"The marimba rehearsal moved to Mondays.",
                                   media_type="text/plain")
    assert counts(await run(service, client, "files", attachments=True)) == (0, 1, len(ids) - 1, 0)
    text = await texts(service, "files", "xylophone marimba rehearsal", target)
    assert "marimba rehearsal moved to Mondays" in text and "xylophone" not in text

    await client.request("DELETE", f"content/{uploaded['id']}")
    assert counts(await run(service, client, "files", attachments=True)) == (0, 1, len(ids) - 1, 0)
    assert "rehearsal" not in await texts(service, "files", "marimba rehearsal", target)
    assert counts(await run(service, client, "files", attachments=True)) == (0, 0, len(ids), 0)


async def test_runs_with_and_without_attachments_settle(env: tuple[IndexService, ConfluenceClient]) -> None:
    """A stored signature means the entry holds attachment text; runs without attachments keep it."""
    service, client = env
    await service.drop_collection("mixed-runs")
    ids = await page_ids(client, "TEAM")
    target = ids[0]
    await client.upload_attachment(target, "notes.txt", b"Bring the okapi costume.", media_type="text/plain")

    assert counts(await run(service, client, "mixed-runs")) == (len(ids), 0, 0, 0)
    assert {state.attachments for state in (await service.store.page_states("mixed-runs")).values()} == {None}
    assert "okapi" not in await texts(service, "mixed-runs", "okapi costume", target)

    # Entries without attachment text (NULL) get it once a run includes attachments.
    assert counts(await run(service, client, "mixed-runs", attachments=True)) == (0, len(ids), 0, 0)
    assert "okapi costume" in await texts(service, "mixed-runs", "okapi costume", target)
    # Then alternating runs change nothing.
    assert counts(await run(service, client, "mixed-runs")) == (0, 0, len(ids), 0)
    assert counts(await run(service, client, "mixed-runs", attachments=True)) == (0, 0, len(ids), 0)
    assert "okapi costume" in await texts(service, "mixed-runs", "okapi costume", target)

    # A page changed under a run without attachments is re-indexed with them, and signed like the listing does.
    await client.add_labels(target, ["costumes"])
    assert counts(await run(service, client, "mixed-runs")) == (0, 1, len(ids) - 1, 0)
    assert "okapi costume" in await texts(service, "mixed-runs", "okapi costume", target)
    assert counts(await run(service, client, "mixed-runs", attachments=True)) == (0, 0, len(ids), 0)


async def test_refused_attachment_listing_falls_back_to_one_listing_per_page(
        env: tuple[IndexService, ConfluenceClient], sandbox: RunningSandbox,
        caplog: pytest.LogCaptureFixture) -> None:
    service, client = env
    await service.drop_collection("fallback")
    ids = await page_ids(client, "TEAM")
    assert counts(await run(service, client, "fallback", attachments=True)) == (len(ids), 0, 0, 0)
    await client.upload_attachment(ids[3], "menu.txt", b"Wombat stew on Thursdays.", media_type="text/plain")

    # Both listings (by page, then by space) refused.
    httpx.post(f"{sandbox.admin_url}/faults", json={"fail_next": 2, "status": 400, "match": 'type = "attachment"'})
    attachment_listings(sandbox, reset=True)
    with caplog.at_level(logging.WARNING, logger="confluence_mcp.index.candidates"):
        report = await run(service, client, "fallback", attachments=True)
    assert counts(report) == (0, 1, len(ids) - 1, 0)
    assert "listing each page's attachments" in caplog.text
    assert attachment_listings(sandbox) == len(ids) + 1  # one per page, then the changed page's fetch
    assert "Wombat stew" in await texts(service, "fallback", "wombat stew", ids[3])


async def test_a_few_pages_are_signed_one_by_one(env: tuple[IndexService, ConfluenceClient],
                                                 sandbox: RunningSandbox) -> None:
    service, client = env
    await service.drop_collection("few")
    target = (await page_ids(client, "TEAM"))[0]
    assert counts(await run(service, client, "few", attachments=True, space=None, page_ids=[target])) == (1, 0, 0, 0)
    await client.upload_attachment(target, "plan.txt", b"Capybara parade route.", media_type="text/plain")
    attachment_listings(sandbox, reset=True)
    report = await run(service, client, "few", attachments=True, space=None, page_ids=[target])
    assert counts(report) == (0, 1, 0, 0)
    assert attachment_listings(sandbox) == 2  # its signature, then its fetch; no listing of the space
    assert "Capybara parade" in await texts(service, "few", "capybara parade", target)


async def test_a_narrow_selection_lists_only_its_own_pages_attachments(
        env: tuple[IndexService, ConfluenceClient], sandbox: RunningSandbox,
        caplog: pytest.LogCaptureFixture) -> None:
    service, client = env
    await service.drop_collection("narrow")
    chosen = (await page_ids(client, "TEAM"))[:5]
    assert counts(await run(service, client, "narrow", attachments=True, space=None, page_ids=chosen)) == (5, 0, 0, 0)
    await client.upload_attachment(chosen[4], "rota.txt", b"Axolotl feeding rota.", media_type="text/plain")
    attachment_listings(sandbox, reset=True)
    report = await run(service, client, "narrow", attachments=True, space=None, page_ids=chosen)
    assert counts(report) == (0, 1, 4, 0)
    assert attachment_listings(sandbox) == 1  # only the changed page's fetch: its signature came from the listing
    assert "Axolotl feeding" in await texts(service, "narrow", "axolotl feeding", chosen[4])

    # The listing asks for these pages' attachments (`container IN`), not for every attachment of the space; a
    # site refusing that query is asked by space, still without a listing per page.
    httpx.post(f"{sandbox.admin_url}/faults", json={"fail_next": 1, "status": 400, "match": "container IN"})
    attachment_listings(sandbox, reset=True)
    with caplog.at_level(logging.WARNING, logger="confluence_mcp.index.candidates"):
        assert counts(await run(service, client, "narrow", attachments=True, space=None,
                                page_ids=chosen)) == (0, 0, 5, 0)
    assert "refused the attachment listing by container" in caplog.text
    assert "page by page" not in caplog.text and attachment_listings(sandbox) == 0
