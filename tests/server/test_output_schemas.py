"""Every tool's real structured result validates against the outputSchema it publishes.

The published schemas list nullable fields as optional non-null ones, so results must leave None out everywhere;
these tests call all tools against a private sandbox (writes included, so it is not the shared session one) and
check each result with jsonschema, independently of the SDK client's own validation.
"""

from __future__ import annotations

import base64
import json
import tempfile
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _mcp_fixtures import make_settings, mcp_client
from jsonschema import Draft202012Validator
from mcp import Client
from mcp.types import CallToolResult
from pydantic import BaseModel

from confluence_mcp.config import Settings, load_settings
from confluence_mcp.server import all_tool_specs, structured
from confluence_mcp.tools.models import PageRef

INDEX_TOOLS = {"index_data", "list_collections", "search_index", "stepback_search_index", "stepback_summary_index",
               "remove_index"}
# A 1x1 PNG, so the image tool has an attachment to name.
PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360f8cf"
    "c0f01f0005000201e2b0b1cb0000000049454e44ae426082")).decode()


@pytest.fixture(scope="module", params=["cloud", "server"])
def sandbox(request: pytest.FixtureRequest) -> Iterator[Any]:
    from confluence_mcp.sandbox.runner import SandboxOptions, start_sandbox

    with start_sandbox(SandboxOptions(flavor=request.param)) as running:
        yield running


class Checker:
    """Calls tools and validates each result against the schema the server listed for it."""

    def __init__(self, client: Client, schemas: dict[str, dict[str, Any]]) -> None:
        self.client, self.schemas, self.called = client, schemas, set[str]()

    async def __call__(self, name: str, **args: Any) -> dict[str, Any]:
        result = await self.client.call_tool(name, args)
        text = " ".join(getattr(c, "text", "") for c in result.content)
        assert not result.is_error, f"{name}: {text}"
        data = result.structured_content
        assert data is not None, name
        errors = sorted(Draft202012Validator(self.schemas[name]).iter_errors(data), key=str)
        assert not errors, f"{name}: {errors[0].message} at {list(errors[0].absolute_path)}"
        assert json.loads(text) == data, name  # the text block says the same
        assert not _nulls(data, skip={"body"} if name == "execute_generic_confluence" else set()), name
        self.called.add(name)
        return data


def _nulls(value: Any, skip: set[str]) -> list[str]:
    """Paths of None values in a result (the generic tool's raw `body` may hold Confluence's own nulls)."""
    if isinstance(value, dict):
        return [f"{k}.{p}" if p else k for k, v in value.items() if k not in skip
                for p in ([""] if v is None else _nulls(v, set()))]
    if isinstance(value, list):
        return [f"[{i}].{p}" for i, v in enumerate(value) for p in _nulls(v, set())]
    return []


async def checker(client: Client) -> Checker:
    tools = (await client.list_tools()).tools
    return Checker(client, {t.name: t.output_schema for t in tools if t.output_schema is not None})


@pytest.mark.anyio
async def test_every_page_tool_result_validates(sandbox: Any) -> None:
    settings = make_settings(sandbox.base_url)
    async with mcp_client(settings) as client:
        call = await checker(client)
        made = await call("create_page", title="Schema check", body="# Intro\n\nHello", labels=["schema"])
        await call("create_pages", pages=[{"title": "Schema child", "body": "x", "parent_id": made["id"]}],
                   pages_info=[{"Schema info": "y"}, {"Schema check": "duplicate title: a failed item"}])
        await call("update_page_by_id", page_id=made["id"], new_body="new intro", section="Intro", include_body=True)
        await call("update_page_by_id", page_id=made["id"])  # no change: a note, no version
        await call("update_page_by_title", page_title="Schema check", new_title="Schema checked")
        await call("update_pages", page_ids=[made["id"], "999999999"], new_labels=["schema", "bulk"])
        await call("update_labels", page_ids=[made["id"]], new_labels=["extra"], mode="add")
        await call("add_file_to_page", page_id=made["id"], file_base64=PNG, filename="dot.png", caption="A dot")
        await call("read_page_by_id", page_id=made["id"])
        await call("get_page_with_image_descriptions", page_id=made["id"])  # no LLM: images only named
        await call("get_page_attachments", page_id=made["id"])
        await call("get_page_id_by_title", title="Schema checked")
        for name in ("site_search", "search_pages", "search_by_title"):
            await call(name, query="schema")
            await call(name, query="nothing matches zzqx")
        await call("list_pages_with_label", label="schema")
        await call("get_pages_with_label", label="schema", max_pages=1)  # truncated: a note
        await call("get_pages_with_label", label="no-such-label")
        await call("get_page_tree", page_id=made["id"])
        await call("get_page_tree", max_depth=1)
        await call("execute_generic_confluence", method="GET", relative_url=f"/rest/api/content/{made['id']}")
        await call("delete_page", page_id=made["id"])
        await call("delete_page", page_title="Schema info", purge=True)
    expected = {s.name for s in all_tool_specs()} - INDEX_TOOLS
    assert call.called == expected, expected - call.called


def _index_settings(sandbox: Any, data_dir: Path) -> Settings:
    return load_settings(None, environ={}, overrides={
        "credentials": {"default": {"base_url": sandbox.base_url, "username": "sandbox@example.com",
                                    "api_token": "sandbox-token"}},
        "toolkits": {"default": {"space": "DEMO", "retries": 0}},
        "index": {"data_dir": str(data_dir)},
    })


@pytest.mark.anyio
async def test_every_index_tool_result_validates() -> None:
    from confluence_mcp.sandbox.runner import SandboxOptions, start_sandbox

    # One flavour: the index tools read pages through the same client on both.
    with start_sandbox(SandboxOptions()) as sandbox, tempfile.TemporaryDirectory(prefix="cmcp-schema-") as tmp:
        async with mcp_client(_index_settings(sandbox, Path(tmp))) as client:
            call = await checker(client)
            await call("list_collections")  # none yet: a note
            await call("index_data", collection="schema")
            await call("list_collections")
            await call("search_index", query="getting started", collection="schema")
            await call("search_index", query="getting started", updated_after="2999-01-01T00:00:00Z")  # empty
            await call("stepback_search_index", query="getting started")  # no LLM: no stepback query
            await call("stepback_summary_index", query="getting started")  # no LLM: not answered
            await call("remove_index", index_name="schema")
            await call("remove_index", collection="schema")  # already gone
    assert call.called == INDEX_TOOLS


def _models(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        for field in annotation.model_fields.values():
            yield from _models(field.annotation)
    for arg in typing.get_args(annotation):
        yield from _models(arg)


def test_nullable_result_fields_have_defaults() -> None:
    """Results leave None out, and the SDK validates what is left against the model: a nullable field without a
    default would then be missing."""
    missing = []
    for spec in all_tool_specs():
        for model in _models(typing.get_type_hints(spec.fn)["return"]):
            for name, field in model.model_fields.items():
                if field.is_required() and type(None) in typing.get_args(field.annotation):
                    missing.append(f"{spec.name}: {model.__name__}.{name}")
    assert not missing


def test_structured_leaves_none_out_of_both_blocks() -> None:
    result = structured(PageRef(id="1", title="T", space=None, url=None))
    assert result.structured_content == {"id": "1", "title": "T"}
    assert json.loads(result.content[0].text) == {"id": "1", "title": "T"}
    assert structured("plain") == "plain"
    ready = CallToolResult(content=[], structured_content={"x": None})
    assert structured(ready) is ready
