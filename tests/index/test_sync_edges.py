"""Edges users hit: pages vanishing mid-run, `clean` over a shared collection, CQL that tries to leave its
parentheses, concurrent statistics refreshes, attachments without extractable text (real sandbox, Postgres and
embedder)."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest
from cli_config import write_config
from test_sync import SAMPLE, SPACES, page_ids, run
from test_sync_changes import texts
from test_sync_cli import parse

from confluence_mcp.config import IndexSettings
from confluence_mcp.confluence.client import ConfluenceClient
from confluence_mcp.errors import BadRequest
from confluence_mcp.index import cli
from confluence_mcp.index.service import IndexService
from confluence_mcp.index.sync import Selection, index_pages
from confluence_mcp.sandbox.runner import SandboxOptions, start_sandbox

pytestmark = pytest.mark.anyio


async def test_a_page_deleted_between_listing_and_fetching_still_ends_at_100_percent(
        env: tuple[IndexService, ConfluenceClient]) -> None:
    service, client = env
    await service.drop_collection("vanish")
    ids = await page_ids(client, "TEAM")
    first = await run(service, client, "vanish", space="TEAM")
    assert first.added == len(ids)
    for page_id in ids[:2]:  # both edited: the next run fetches them again
        page = await client.get_page(page_id, expand="version,body.storage")
        await client.update_page(page_id, title=page["title"], version=page["version"]["number"] + 1,
                                 storage="<p>Edited again.</p>")
    seen: list[tuple[int, int, str]] = []

    async def delete_after_listing(done: int, total: int, message: str) -> None:
        if "to index" in message:
            await client.delete_page(ids[0])  # listed as changed, gone before its body is fetched
        seen.append((done, total, message))

    report = await index_pages(service, client, "vanish", Selection(space="TEAM", allowed_spaces=SPACES),
                               progress=delete_after_listing)
    # Every listed page is accounted for, and the deleted one left the collection with its old chunks.
    assert (report.updated, report.unchanged, report.removed) == (1, len(ids) - 2, 1)
    assert ids[0] not in await service.store.page_states("vanish")
    done, total, _ = seen[-1]
    assert done == total and done > 1  # the run's own total, reached
    assert [d for d, _, _ in seen] == sorted(d for d, _, _ in seen)


async def test_clean_reports_the_pages_it_dropped(env: tuple[IndexService, ConfluenceClient]) -> None:
    service, client = env
    await service.drop_collection("cleaned")
    team = await run(service, client, "cleaned", space="TEAM")
    benefits = await run(service, client, "cleaned", space="BENEFITS")
    rebuilt = await index_pages(service, client, "cleaned", Selection(space="TEAM", allowed_spaces=SPACES),
                                clean=True)
    info = await service.store.get_collection("cleaned")
    assert info is not None and info.pages == team.added
    # clean dropped the BENEFITS pages another run indexed: the report says so instead of `removed: 0`.
    assert (rebuilt.added, rebuilt.removed) == (team.added, benefits.added)


@pytest.mark.parametrize("cql", ['space = "BENEFITS") OR (space = "BENEFITS"', "type = page)", "(type = page"])
async def test_cql_cannot_close_the_parentheses_the_policy_wraps_it_in(cql: str) -> None:
    with pytest.raises(BadRequest, match="parenthes"):
        Selection(cql=cql, allowed_spaces=["TEAM"]).query()


async def test_order_by_inside_a_quoted_value_is_kept(env: tuple[IndexService, ConfluenceClient]) -> None:
    selection = Selection(cql='title ~ "law and order by the river" ORDER BY title', allowed_spaces=["TEAM"])
    assert '"law and order by the river"' in selection.query() and "ORDER BY title" not in selection.query()
    assert Selection(cql='title ~ "(draft)"', allowed_spaces=["TEAM"]).query().startswith('(title ~ "(draft)")')
    service, client = env
    report = await run(service, client, "quoted", cql='title ~ "order by"')  # a valid query, not a broken one
    assert report.added == 0


async def test_concurrent_statistics_refreshes_do_not_collide(env: tuple[IndexService, ConfluenceClient]) -> None:
    """A search on a collection whose first run has not finished refreshes its word statistics, as does the run
    when it finishes: both at once must not fail on the statistics' primary key."""
    service, client = env
    await service.drop_collection("stats")
    await run(service, client, "stats", space="BENEFITS")
    ref = await service.store.require_collection("stats")
    for _ in range(3):
        async with anyio.create_task_group() as group:
            for _ in range(6):
                group.start_soon(service.store.refresh_text_stats, ref)


async def test_attachments_without_extractable_text_are_named_not_indexed_as_garbage(
        env: tuple[IndexService, ConfluenceClient]) -> None:
    service, client = env
    await service.drop_collection("binary")
    page = await client.create_page("TEAM", "Exports", "<p>Exported files.</p>")
    await client.upload_attachment(page["id"], "dump.txt", bytes(range(256)) * 8, media_type="text/plain")
    await client.upload_attachment(page["id"], "roster.csv", "name,squad\nAlice,Platypus squad\n".encode("utf-16"),
                                   media_type="text/csv")
    report = await index_pages(service, client, "binary", Selection(page_ids=[page["id"]], allowed_spaces=SPACES),
                               include_attachments=True)
    assert report.added == 1
    text = await texts(service, "binary", "exported files attachment", page["id"])
    assert "File dump.txt (text/plain, 2048 bytes)" in text  # named, since its text cannot be read
    assert "\ufffd" not in text and "\x01" not in text
    assert "Alice,Platypus squad" in text  # UTF-16 (with its BOM) read as text


def test_index_cli_says_when_the_selection_matched_nothing(tmp_path: Path, index_settings: IndexSettings,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert index_settings.database_url is not None
    with start_sandbox(SandboxOptions(seed=SAMPLE)) as sandbox:
        config = write_config(tmp_path / "config.toml", sandbox.base_url, index_settings)
        assert cli.run(parse(["--config", str(config), "--label", "no-such-label", "--quiet"])) == 0
        out = capsys.readouterr()
        assert json.loads(out.out)["added"] == 0
        assert "No pages matched" in out.err  # a cron job's log says why the collection stayed empty
