"""The six index tools through a real MCP client (in memory) against `build_server`, the sandbox and Postgres."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from llm_stub import RunningServer, start_stub
from mcp import Client
from mcp.types import CreateMessageRequestParams, CreateMessageResult, ErrorData, TextContent

from confluence_mcp.config import IndexSettings, Settings, load_settings
from confluence_mcp.confluence.client import ConfluenceClient
from confluence_mcp.index.service import close_shared_stores, open_service
from confluence_mcp.index.sync import Selection, index_pages
from confluence_mcp.sandbox.runner import RunningSandbox, SandboxOptions, start_sandbox
from confluence_mcp.server import build_server

SAMPLE = Path(__file__).parents[1] / "data" / "handbook_sample.jsonl"
SPACES = ["BENEFITS", "TEAM"]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with start_sandbox(SandboxOptions(seed=SAMPLE)) as running:
        yield running


@pytest.fixture(scope="module")
def stub() -> Iterator[RunningServer]:
    running = start_stub()
    yield running
    running.stop()


def make_settings(sandbox: RunningSandbox, index: IndexSettings, llm: dict[str, Any] | None = None) -> Settings:
    return load_settings(overrides={
        "credentials": {"default": {"base_url": sandbox.base_url, "username": "sandbox@example.com",
                                    "api_token": "sandbox-token"}},
        "toolkits": {"default": {"space": "BENEFITS", "allowed_spaces": SPACES}},
        "index": index.model_dump(exclude_none=True),
        "llm": llm or {},
    }, environ={})


@pytest.fixture(scope="module")
def settings(sandbox: RunningSandbox, index_settings: IndexSettings) -> Settings:
    """Settings without an LLM, with collection `hb` (both spaces) already built."""
    plain = make_settings(sandbox, index_settings)

    async def build() -> None:
        async with ConfluenceClient(plain.resolved_toolkits()[0]) as client:
            service = await open_service(plain)
            try:
                for space in SPACES:
                    await index_pages(service, client, "hb", Selection(space=space, allowed_spaces=SPACES))
            finally:
                await close_shared_stores()

    anyio.run(build)
    return plain


@pytest.fixture
async def closing() -> AsyncIterator[None]:
    """Close the index pools the server opened on this test's event loop."""
    yield
    await close_shared_stores()


async def call(client: Client, name: str, arguments: dict[str, Any], **options: Any) -> dict[str, Any]:
    result = await client.call_tool(name, arguments, **options)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def error_text(client: Client, name: str, arguments: dict[str, Any]) -> str:
    result = await client.call_tool(name, arguments)
    assert result.is_error
    return " ".join(getattr(block, "text", "") for block in result.content)


@pytest.mark.anyio
async def test_schemas_hide_aliases_and_show_annotations(settings: Settings) -> None:
    async with Client(build_server(settings)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        # The ELITEA names are accepted (see the tests below) but not published: one name per parameter.
        assert "collection" in tools["index_data"].input_schema["required"]
        assert "index_name" not in tools["index_data"].input_schema["properties"]
        assert {"top_k", "collection"} <= set(tools["search_index"].input_schema["properties"])
        assert "search_top" not in tools["search_index"].input_schema["properties"]
        assert "`collection` is required" in await error_text(client, "index_data", {"space": "TEAM"})
        both = await error_text(client, "search_index", {"query": "q", "top_k": 5, "search_top": 3})
        assert "`search_top` is an alias of `top_k`" in both
    for name in ("stepback_search_index", "stepback_summary_index"):
        hidden = {"retrieval", "sampled", "ctx"} & set(tools[name].input_schema["properties"])
        assert not hidden, f"{name} exposes resolver parameters {hidden}"
    hints = tools["index_data"].annotations
    assert hints is not None and not hints.read_only_hint
    assert (hints.destructive_hint, hints.idempotent_hint) == (False, True)
    remove = tools["remove_index"].annotations
    assert remove is not None and remove.destructive_hint is True
    search = tools["search_index"].annotations
    assert search is not None and search.read_only_hint is True


@pytest.mark.anyio
async def test_index_data_reports_progress_and_accepts_index_name(settings: Settings, closing: None) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with Client(build_server(settings)) as client:
        report = await call(client, "index_data", {"index_name": "prog", "space": "TEAM"},
                            progress_callback=on_progress)
        assert report["added"] == 7 and report["collection"] == "prog" and report["chunks"] >= 7
        assert len(seen) >= 7 and seen[-1][0] == seen[-1][1] == 7
        assert [p for p, _, _ in seen] == sorted({p for p, _, _ in seen})
        again = await call(client, "index_data", {"collection": "prog", "space": "TEAM"})
        assert (again["unchanged"], again["added"]) == (7, 0)

        listed = await call(client, "list_collections", {})
        prog = next(c for c in listed["collections"] if c["name"] == "prog")
        assert prog["pages"] == 7 and prog["embedder"].startswith("local:") and prog["last_indexed"]

        assert (await call(client, "remove_index", {"index_name": "prog"}))["removed"] is True
        missing = await call(client, "remove_index", {"collection": "prog"})
        assert missing["removed"] is False and "hb" in missing["note"]
        assert "outside this toolkit's allowed spaces" in await error_text(
            client, "index_data", {"collection": "x", "space": "COMPANY"})


@pytest.mark.anyio
async def test_search_filters_aliases_and_empty_notes(settings: Settings, closing: None) -> None:
    async with Client(build_server(settings)) as client:
        top = await call(client, "search_index", {"query": "expense reimbursement", "index_name": "hb",
                                                  "search_top": 3})
        assert len(top["results"]) == 3
        assert {"page_id", "title", "url", "heading_path", "text", "score"} <= set(top["results"][0])
        assert top["results"][0]["url"].startswith("http://127.0.0.1")

        # The only collection is picked when none is named; filters narrow it.
        ceo = await call(client, "search_index", {"query": "chief executive", "labels": ["ceo"], "top_k": 20})
        assert ceo["results"] and {r["title"] for r in ceo["results"]} <= {"CEO", "Roles of the CEO"}
        team = await call(client, "search_index", {"query": "team", "space": "TEAM", "one_per_page": True,
                                                   "top_k": 20})
        ids = [r["page_id"] for r in team["results"]]
        assert ids and len(ids) == len(set(ids)) and len(ids) <= 7
        only = await call(client, "search_index", {"query": "team", "page_ids": [ids[0]]})
        assert {r["page_id"] for r in only["results"]} == {ids[0]}

        future = await call(client, "search_index", {"query": "team", "updated_after": "2999-01-01T00:00:00Z"})
        assert future["results"] == [] and "updated after" in future["note"] and "'hb'" in future["note"]

        assert "Existing collections: hb" in await error_text(client, "search_index",
                                                                {"query": "x", "collection": "nope"})
        assert "allowed spaces" in await error_text(client, "search_index", {"query": "x", "space": "COMPANY"})


@pytest.mark.anyio
async def test_narrower_toolkit_never_sees_other_spaces_of_a_shared_collection(
        sandbox: RunningSandbox, settings: Settings, closing: None) -> None:
    # Collection `hb` holds BENEFITS and TEAM pages; a toolkit allowed only TEAM searches the same store.
    narrow = settings.model_copy(deep=True)
    narrow.toolkits["default"].allowed_spaces = ["TEAM"]
    narrow.toolkits["default"].space = "TEAM"
    async with Client(build_server(narrow)) as client:
        found = await call(client, "search_index", {"query": "health insurance benefits leave", "top_k": 20,
                                                    "collection": "hb"})
        assert found["results"]
        team_titles = {r["title"] for r in (await call(client, "search_index", {
            "query": "team", "collection": "hb", "space": "TEAM", "top_k": 50}))["results"]}
        assert {r["title"] for r in found["results"]} <= team_titles
        # Nor can it drop the BENEFITS pages another toolkit indexed into the shared collection.
        for tool, args in [("remove_index", {"collection": "hb"}),
                           ("index_data", {"collection": "hb", "space": "TEAM", "clean": True})]:
            message = await error_text(client, tool, args)
            assert "also holds pages of space(s) BENEFITS" in message and "allowed spaces (TEAM)" in message
        assert {c["name"]: c["pages"] for c in (await call(client, "list_collections", {}))["collections"]}["hb"] > 0


@pytest.mark.anyio
async def test_stepback_and_summary_with_configured_llm(sandbox: RunningSandbox, index_settings: IndexSettings,
                                                        settings: Settings, stub: RunningServer,
                                                        closing: None) -> None:
    configured = make_settings(sandbox, index_settings, {"base_url": stub.base_url, "model": "stub-chat",
                                                         "api_key": "k"})
    async with Client(build_server(configured)) as client:
        found = await call(client, "stepback_search_index", {"query": "How do I claim travel expenses?"})
        assert found["llm"] == "configured" and found["results"]
        assert found["stepback_query"] == "General background on: How do I claim travel expenses?"

        summary = await call(client, "stepback_summary_index", {"query": "How do I claim travel expenses?",
                                                                "top_k": 5})
        assert summary["answered"] is True and "[1]" in summary["answer"]
        cited = summary["citations"][0]
        assert cited["number"] == 1 and cited["url"] and cited["title"] == summary["results"][0]["title"]

        unanswerable = await call(client, "stepback_summary_index", {"query": "unanswerable moon base budget"})
        assert unanswerable["answered"] is False and unanswerable["citations"] == []
    chats = [r for r in stub.requests if r["path"] == "chat"]
    assert any("step-back" in str(r["body"]["messages"][0]["content"]) for r in chats)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_stepback_and_summary_with_client_sampling(settings: Settings, mode: str, closing: None) -> None:
    prompts: list[str] = []

    async def sampling(context: Any, params: CreateMessageRequestParams) -> CreateMessageResult:
        prompts.append(params.system_prompt or "")
        if "step-back" in (params.system_prompt or ""):
            text = "What are the company policies on expenses?"
        else:
            text = "Submit the claim in the expense tool [1]."
        return CreateMessageResult(role="assistant", content=TextContent(type="text", text=text), model="client")

    async with Client(build_server(settings), sampling_callback=sampling, mode=mode) as client:
        found = await call(client, "stepback_search_index", {"query": "expense claims", "collection": "hb"})
        assert found["llm"] == "sampling" and found["stepback_query"] == "What are the company policies on expenses?"
        summary = await call(client, "stepback_summary_index", {"query": "expense claims", "collection": "hb"})
        assert summary["llm"] == "sampling" and summary["answered"] is True and summary["citations"]
    assert sum("step-back" in p for p in prompts) == 2 and any("ONLY" in p for p in prompts)


@pytest.mark.anyio
async def test_refused_sampling_runs_the_tools_without_an_llm(settings: Settings, closing: None) -> None:
    """A 2025-protocol client answers a refused sampling request with an error: the call still returns the search
    and says why (on the 2026 protocol the SDK's client ends the call itself)."""
    async def refuse(context: Any, params: CreateMessageRequestParams) -> ErrorData:
        return ErrorData(code=-1, message="User rejected sampling request")

    async with Client(build_server(settings), sampling_callback=refuse, mode="legacy") as client:
        found = await call(client, "stepback_search_index", {"query": "expense claims", "collection": "hb"})
        summary = await call(client, "stepback_summary_index", {"query": "expense claims", "collection": "hb"})
    assert found["llm"] == "none" and found["results"] and "stepback_query" not in found
    assert "refused the sampling request (User rejected sampling request)" in found["note"]
    assert summary["llm"] == "none" and summary["answered"] is False and summary["results"]
    assert "refused the sampling request" in summary["note"]


@pytest.mark.anyio
async def test_without_llm_stepback_says_how_to_enable_one(settings: Settings, closing: None) -> None:
    async with Client(build_server(settings)) as client:
        found = await call(client, "stepback_search_index", {"query": "expense claims", "collection": "hb"})
        assert found["llm"] == "none" and found["results"] and "stepback_query" not in found
        assert "No LLM is available" in found["note"] and "[llm]" in found["note"]
        summary = await call(client, "stepback_summary_index", {"query": "expense claims", "collection": "hb"})
        assert summary["answered"] is False and summary["results"] and "No LLM is available" in summary["note"]


@pytest.mark.anyio
async def test_search_without_collection_covers_every_collection(sandbox: RunningSandbox, settings: Settings,
                                                                 closing: None) -> None:
    async with Client(build_server(settings)) as client:
        await call(client, "index_data", {"collection": "team-only", "space": "TEAM"})
        both = await call(client, "search_index", {"query": "health insurance", "top_k": 5})
        assert set(both["collection"].split(", ")) >= {"hb", "team-only"}
        assert both["results"]
        # TEAM's pages are in both collections: still one hit per page, and never the same chunk twice.
        team = await call(client, "search_index", {"query": "team offsite planning", "top_k": 8})
        pages = [hit["page_id"] for hit in team["results"]]
        assert len(team["results"]) == 8 and len(set(pages)) == len(pages)
        chunks = await call(client, "search_index", {"query": "team offsite planning", "top_k": 8,
                                                     "one_per_page": False})
        assert len({(hit["page_id"], hit["text"]) for hit in chunks["results"]}) == len(chunks["results"]) == 8
        await call(client, "remove_index", {"collection": "team-only"})


@pytest.mark.anyio
async def test_index_without_a_space_covers_every_allowed_space(sandbox: RunningSandbox, settings: Settings,
                                                                  closing: None) -> None:
    spaceless = settings.model_copy(deep=True)
    spaceless.toolkits["default"].space = None  # allowed_spaces stays BENEFITS and TEAM
    async with Client(build_server(spaceless)) as client:
        report = await call(client, "index_data", {"collection": "everything"})
        listed = {c["name"]: c for c in (await call(client, "list_collections", {}))["collections"]}
        assert report["added"] == listed["everything"]["pages"] == listed["hb"]["pages"]
        await call(client, "remove_index", {"collection": "everything"})


@pytest.mark.anyio
async def test_stepback_fuses_on_one_scale_and_survives_a_failing_llm(sandbox: RunningSandbox,
                                                                      index_settings: IndexSettings,
                                                                      settings: Settings, stub: RunningServer,
                                                                      closing: None) -> None:
    configured = make_settings(sandbox, index_settings, {"base_url": stub.base_url, "model": "stub-chat",
                                                         "api_key": "k"})
    async with Client(build_server(configured)) as client:
        plain = await call(client, "search_index", {"query": "travel expenses", "collection": "hb"})
        fused = await call(client, "stepback_search_index", {"query": "travel expenses", "collection": "hb",
                                                             "cut_off": 0.3})
        pages = [hit["page_id"] for hit in fused["results"]]
        assert fused["stepback_query"] and len(set(pages)) == len(pages)  # one_per_page holds after fusion
        assert all(0.3 <= hit["score"] <= 1 for hit in fused["results"])  # search_index's scale, cut_off kept
        assert fused["results"][0]["score"] >= plain["results"][0]["score"]
    down = make_settings(sandbox, index_settings, {"base_url": "http://127.0.0.1:9/v1", "model": "m",
                                                   "api_key": "k"})
    async with Client(build_server(down)) as client:
        found = await call(client, "stepback_search_index", {"query": "travel expenses", "collection": "hb"})
        assert found["results"] and "stepback_query" not in found
        assert "stepback rewrite failed, so this is a plain hybrid search" in found["note"]


@pytest.mark.anyio
async def test_queries_without_words_and_control_characters(settings: Settings, closing: None) -> None:
    async with Client(build_server(settings)) as client:
        for blank in ("   ", "\n\t"):
            assert "The query is empty" in await error_text(client, "search_index", {"query": blank})
        found = await call(client, "search_index", {"query": "health\x00 insurance", "collection": "hb"})
        assert found["results"] and "note" not in found
        nonsense = await call(client, "search_index", {"query": "qwxzzv plorkt", "collection": "hb"})
        assert nonsense["results"] and "None of the query's words occur in these pages" in nonsense["note"]
        for fine in ("team qwxzzv", "how do I"):  # a common word with a typo; only stopwords: nothing to say
            assert "note" not in await call(client, "search_index", {"query": fine, "collection": "hb"})


@pytest.mark.anyio
async def test_no_collection_of_this_embedder_is_an_error_not_an_empty_answer(
        sandbox: RunningSandbox, index_settings: IndexSettings, settings: Settings, stub: RunningServer,
        closing: None) -> None:
    async with Client(build_server(settings)) as client:
        await call(client, "index_data", {"collection": "second", "space": "TEAM"})  # two local collections
    remote = index_settings.model_copy(update={"embedder": "openai", "model": "stub-embed",
                                               "base_url": stub.base_url})
    async with Client(build_server(make_settings(sandbox, remote))) as client:
        text = await error_text(client, "search_index", {"query": "health insurance"})
    assert "No index collection was built with this server's embedder openai:stub-embed" in text
    assert "hb (local:" in text
    async with Client(build_server(settings)) as client:
        await call(client, "remove_index", {"collection": "second"})
