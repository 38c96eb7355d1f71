"""A collection remembers the site each page came from, and a space that does not exist fails the run (real sandboxes
over HTTP, real Postgres and embedder)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import psycopg
import pytest
from cli_config import write_config
from test_sync import SAMPLE, SPACES, run, sandbox_settings, service_and_client

from confluence_mcp.config import IndexSettings, load_settings
from confluence_mcp.confluence.client import ConfluenceClient
from confluence_mcp.errors import NotFound
from confluence_mcp.index import cli
from confluence_mcp.index.service import IndexService, SearchRequest, run_index_search
from confluence_mcp.index.sync import Selection, index_pages
from confluence_mcp.sandbox.runner import RunningSandbox, SandboxOptions, start_sandbox

pytestmark = pytest.mark.anyio


async def stored_urls(index_settings: IndexSettings, collection: str) -> dict[str, tuple[str, str]]:
    """page id → (url, site) as stored."""
    assert index_settings.database_url is not None
    async with await psycopg.AsyncConnection.connect(index_settings.database_url.get_secret_value()) as conn:
        rows = await (await conn.execute(
            "SELECT p.page_id, p.url, p.site FROM index_pages p JOIN index_collections c ON c.id = p.collection_id "
            "WHERE c.name = %s", (collection,))).fetchall()
    return {row[0]: (row[1], row[2]) for row in rows}


async def test_a_restarted_sandbox_on_another_port_corrects_the_urls(sandbox: RunningSandbox,
                                                                      index_settings: IndexSettings) -> None:
    async with service_and_client(sandbox_settings(sandbox, index_settings)) as (service, client):
        await service.drop_collection("moved")
        first = await run(service, client, "moved", space="TEAM")
        assert first.added == 7 and first.other_site == 0
    with start_sandbox(SandboxOptions(seed=SAMPLE)) as restarted:  # same seed, same page ids, another port
        assert restarted.base_url != sandbox.base_url
        async with service_and_client(sandbox_settings(restarted, index_settings)) as (service, client):
            second = await run(service, client, "moved", space="TEAM")
            assert (second.updated, second.unchanged, second.other_site) == (7, 0, 7)
            stored = await stored_urls(index_settings, "moved")
            assert all(url.startswith(restarted.base_url + "/") for url, _ in stored.values()), stored
            assert {site for _, site in stored.values()} == {restarted.base_url.lower()}
            _, hits = await run_index_search(service, SearchRequest(query="team", collection="moved"))
            assert hits and all((hit.url or "").startswith(restarted.base_url) for hit in hits)
            third = await run(service, client, "moved", space="TEAM")
            assert (third.unchanged, third.other_site) == (7, 0)


async def test_pages_indexed_before_sites_were_recorded_are_not_redone(
        env: tuple[IndexService, ConfluenceClient], index_settings: IndexSettings) -> None:
    service, client = env
    await service.drop_collection("legacy")
    await run(service, client, "legacy", space="TEAM")
    assert index_settings.database_url is not None
    async with await psycopg.AsyncConnection.connect(index_settings.database_url.get_secret_value()) as conn:
        await conn.execute("UPDATE index_pages SET site = ''")  # as the previous release left them
        page = await (await conn.execute("SELECT min(page_id) FROM index_pages")).fetchone()
        assert page is not None
        await conn.execute("UPDATE index_pages SET url = 'http://127.0.0.1:1/gone' WHERE page_id = %s", (page[0],))
    again = await run(service, client, "legacy", space="TEAM")
    # The URL shows where a page came from: only the one pointing elsewhere is fetched again.
    assert (again.updated, again.unchanged, again.other_site) == (1, 6, 1)
    stored = await stored_urls(index_settings, "legacy")
    assert {site for _, site in stored.values()} == {client.site_url.lower()}


async def test_a_space_that_does_not_exist_fails_without_a_collection(
        sandbox: RunningSandbox, env: tuple[IndexService, ConfluenceClient]) -> None:
    service, client = env
    with pytest.raises(NotFound, match="space NOPE does not exist or this account cannot see it"):
        await index_pages(service, client, "nope", Selection(space="NOPE"))
    assert await service.store.collection_ref("nope") is None
    with pytest.raises(NotFound, match="space keys are short codes like"):
        await index_pages(service, client, "nope", Selection(space="NOPE", labels=("x",)), clean=True)
    assert await service.store.collection_ref("nope") is None
    # A space that exists but holds no pages (or none with these labels) is an empty run, not an error.
    assert sandbox.store is not None
    sandbox.store.create_space("EMPTY")
    report = await index_pages(service, client, "empty", Selection(space="EMPTY"))
    assert report.added + report.unchanged == 0
    report = await index_pages(service, client, "empty", Selection(space="TEAM", labels=("no-such-label",),
                                                                   allowed_spaces=SPACES))
    assert report.added + report.unchanged == 0


def test_index_cli_fails_for_a_space_that_does_not_exist(tmp_path: Path, index_settings: IndexSettings,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert index_settings.database_url is not None
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    with start_sandbox(SandboxOptions(seed=SAMPLE)) as sandbox:
        config = write_config(tmp_path / "config.toml", sandbox.base_url, index_settings, toolkit="")
        assert cli.run(parser.parse_args(["--config", str(config), "--space", "NOPE", "--quiet"])) == 1
        out = capsys.readouterr()
        assert out.out == "" and "space NOPE does not exist" in out.err
        with psycopg.connect(index_settings.database_url.get_secret_value()) as conn:
            assert conn.execute("SELECT 1 FROM index_collections WHERE name = 'nope'").fetchone() is None
        assert cli.run(parser.parse_args(["--config", str(config), "--space", "TEAM", "--quiet"])) == 0
        assert json.loads(capsys.readouterr().out)["collection"] == "team"


async def test_index_data_names_a_space_that_does_not_exist(sandbox: RunningSandbox,
                                                            index_settings: IndexSettings) -> None:
    from mcp import Client

    from confluence_mcp.index.service import close_shared_stores
    from confluence_mcp.server import build_server

    settings = load_settings(overrides={  # no space and no allowed spaces: every space the account can see
        "credentials": {"default": {"base_url": sandbox.base_url, "username": "sandbox@example.com",
                                    "api_token": "sandbox-token"}},
        "toolkits": {"default": {}}, "index": index_settings.model_dump(exclude_none=True)}, environ={})
    try:
        async with Client(build_server(settings)) as client:
            result = await client.call_tool("index_data", {"collection": "typo", "space": "TEEM"})
            text = " ".join(getattr(block, "text", "") for block in result.content)
            assert result.is_error and "space TEEM does not exist or this account cannot see it" in text
            listed = await client.call_tool("list_collections", {})
            assert listed.structured_content is not None
            assert "typo" not in {c["name"] for c in listed.structured_content["collections"]}
    finally:
        await close_shared_stores()
