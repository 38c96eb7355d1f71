"""The index tools as users hit them, through a real MCP client: notes that must not mislead or stay silent,
filters as users type them, results matching the published output schemas (real sandbox, Postgres, embedder)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import jsonschema
import pytest
from mcp import Client
from test_tools import SAMPLE, make_settings

from confluence_mcp.config import IndexSettings, Settings
from confluence_mcp.confluence.client import ConfluenceClient
from confluence_mcp.index.service import close_shared_stores
from confluence_mcp.sandbox.runner import RunningSandbox, SandboxOptions, start_sandbox
from confluence_mcp.server import build_server

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with start_sandbox(SandboxOptions(seed=SAMPLE)) as running:
        yield running


@pytest.fixture
async def client(sandbox: RunningSandbox, index_settings: IndexSettings) -> AsyncIterator[Client]:
    settings: Settings = make_settings(sandbox, index_settings)
    async with Client(build_server(settings)) as connected:
        yield connected
    await close_shared_stores()


async def call(client: Client, name: str, arguments: dict[str, Any], **options: Any) -> dict[str, Any]:
    """The structured result, checked against the tool's published output schema."""
    schema = next(t.output_schema for t in (await client.list_tools()).tools if t.name == name)
    result = await client.call_tool(name, arguments, **options)
    assert not result.is_error, result.content
    assert result.structured_content is not None and schema is not None
    jsonschema.validate(result.structured_content, schema)
    return result.structured_content


async def test_a_query_whose_words_the_page_holds_is_not_called_unrelated(
        sandbox: RunningSandbox, index_settings: IndexSettings, client: Client) -> None:
    async with ConfluenceClient(make_settings(sandbox, index_settings).resolved_toolkits()[0]) as confluence:
        page = await confluence.create_page("TEAM", "年假政策", "<p>员工每年享有十五天带薪年假，需提前两周申请。</p>")
    await call(client, "index_data", {"collection": "cjk", "page_ids": [page["id"]]})
    found = await call(client, "search_index", {"query": "年假", "collection": "cjk"})
    assert found["results"][0]["page_id"] == page["id"]
    # Full text splits Chinese only at punctuation, so it misses the word; the page holds it all the same.
    assert "note" not in found, found["note"]


async def test_label_filters_match_as_confluence_stores_labels(client: Client) -> None:
    await call(client, "index_data", {"collection": "labels", "space": "TEAM"})
    lower = await call(client, "search_index", {"query": "chief executive", "collection": "labels",
                                                "labels": ["ceo"]})
    upper = await call(client, "search_index", {"query": "chief executive", "collection": "labels",
                                                "labels": ["CEO "]})
    assert lower["results"] and upper["results"] == lower["results"]


async def test_page_ids_that_match_nothing_are_named(client: Client) -> None:
    team = await call(client, "search_index", {"query": "team", "collection": "labels", "top_k": 1})
    known = team["results"][0]["page_id"]
    report = await call(client, "index_data", {"collection": "ids", "page_ids": [known, "999999"]})
    assert report["added"] == 1
    assert "999999" in report["note"] and known not in report["note"]


async def test_progress_reaches_100_percent_on_every_run(client: Client) -> None:
    for _ in range(2):  # a first run, then one with nothing to do
        seen: list[tuple[float, float | None]] = []

        async def on_progress(progress: float, total: float | None, message: str | None,
                              seen: list[tuple[float, float | None]] = seen) -> None:
            seen.append((progress, total))

        await call(client, "index_data", {"collection": "progress", "space": "TEAM"}, progress_callback=on_progress)
        assert seen and seen[-1][0] == seen[-1][1]
        assert [p for p, _ in seen] == sorted({p for p, _ in seen})


async def test_every_index_tool_answers_within_its_output_schema(client: Client) -> None:
    await call(client, "index_data", {"collection": "schema", "space": "TEAM", "include_comments": True,
                                      "include_attachments": True})
    await call(client, "list_collections", {})
    for name in ("search_index", "stepback_search_index", "stepback_summary_index"):
        await call(client, name, {"query": "team offsite", "collection": "schema", "top_k": 3})
        await call(client, name, {"query": "team", "collection": "schema", "updated_after": "2999-01-01T00:00:00Z"})
    await call(client, "remove_index", {"collection": "schema"})
    await call(client, "remove_index", {"collection": "schema"})
