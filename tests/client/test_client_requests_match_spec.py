"""Every REST request our client sends, checked against Atlassian's Cloud OpenAPI documents (v1 and v2).

All MCP tools run through the real server and the in-memory MCP client against a Cloud sandbox (list_tools proves
none was skipped), then the page tools again on a site whose v1 page endpoints answer 410 Gone, so the client's
REST v2 requests are sent too. The sandbox's request log (`GET /__sandbox__/requests`) shows what actually went
over HTTP, and spec_requests.py checks each request: its path matches a template with that method, every query
parameter is declared for the operation and its value fits the schema, a JSON body validates against the
requestBody schema, and a multipart upload goes to an operation taking multipart/form-data, with its required parts.

Cloud only: Atlassian publishes OpenAPI documents for Cloud alone, so the Server/Data Center flavour is not
checked here (the client's DC requests are covered by the behaviour tests against the server-flavour sandbox).
"""

from __future__ import annotations

import base64
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sandbox"))  # openapi_helpers, sandbox_helpers
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))  # _mcp_fixtures

from _mcp_fixtures import TOKEN, USER, call, mcp_client
from openapi_helpers import needs_specs
from sandbox_helpers import DEPRECATED_V1_LISTING_ROUTES, DEPRECATED_V1_PAGE_ROUTES
from spec_requests import V1_PREFIX, V2_PREFIX, Problem, operation_of, problems

from confluence_mcp.config import Settings, load_settings
from confluence_mcp.index.pg import create_database, drop_database
from confluence_mcp.sandbox.runner import RunningSandbox, SandboxOptions, start_sandbox

pytestmark = needs_specs

# Paths in the log that are not REST operations, so no OpenAPI document describes them: attachment bytes, which
# the REST download endpoint redirects to (the sandbox's stand-in for Cloud's media host). (The admin API is never
# logged.) The web UI's `/wiki/download/attachments/...` path must not be asked at all: Cloud refuses API tokens there.
NOT_REST = ("/__media__/",)

# Requests Confluence accepts but the spec does not describe: key (see spec_requests.Problem) -> why. (The v2 write
# bodies' unsatisfiable oneOf is tightened in spec_requests instead, so those bodies are still checked.)
SPEC_GAPS: dict[str, str] = {}


def _settings(base_url: str, index: dict[str, Any]) -> Settings:
    return load_settings(None, environ={}, overrides={
        "credentials": {"default": {"base_url": base_url, "username": USER, "api_token": TOKEN}},
        "toolkits": {"default": {"space": "DEMO", "retries": 0}},
        "index": index,
    })


@pytest.fixture(scope="module")
def index_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The index on CONFLUENCE_MCP_TEST_DATABASE_URL (a database of its own), else an embedded Postgres."""
    external = os.environ.get("CONFLUENCE_MCP_TEST_DATABASE_URL")
    if not external:
        yield {"data_dir": str(tmp_path_factory.mktemp("index"))}
        return
    yield {"database_url": create_database(external, "t_client_requests")}
    drop_database(external, "t_client_requests")


class Run:
    """The tools called, the requests they caused, and the sandbox's admin API (for 410 faults)."""

    def __init__(self, sandbox: RunningSandbox) -> None:
        self.admin = sandbox.admin_url
        self.called: set[str] = set()
        self.published: set[str] = set()
        self.requests: list[dict[str, Any]] = []

    async def use(self, client: Any, name: str, args: dict[str, Any]) -> Any:
        self.called.add(name)
        return await call(client, name, args)

    def faults(self, **plan: Any) -> None:
        httpx.post(f"{self.admin}/faults", json=plan, timeout=10).raise_for_status()


async def _drive_every_tool(settings: Settings, run: Run) -> None:
    async with mcp_client(settings) as client:
        run.published = {tool.name for tool in (await client.list_tools()).tools}

        async def use(name: str, args: dict[str, Any]) -> Any:
            return await run.use(client, name, args)

        # Search and read.
        await use("search_by_title", {"query": "Guide", "space": "DEMO"})
        for name, args in [("search_pages", {"query": "install"}), ("site_search", {"query": "install"}),
                           ("list_pages_with_label", {"label": "onboarding"})]:
            first = await use(name, {**args, "limit": 1})
            assert first.get("next"), f"{name}: expected a second page"  # so the cursor request is checked too
            await use(name, {**args, "limit": 1, "cursor": first["next"]})
        install = (await use("get_page_id_by_title", {"title": "Installation Guide"}))["id"]
        await use("get_pages_with_label", {"label": "onboarding", "max_pages": 2})
        page = await use("read_page_by_id", {"page_id": install})
        await use("read_page_by_id", {"page_id": page["url"]})
        await use("get_page_tree", {"space": "DEMO", "max_depth": 2})
        await use("get_page_tree", {"page_id": install})
        await use("get_page_attachments", {"page_id": install, "filename": "install-notes.txt"})
        await use("get_page_attachments", {"page_id": install, "media_type": "text/plain"})
        architecture = (await use("get_page_id_by_title", {"title": "Architecture Overview"}))["id"]
        await use("get_page_with_image_descriptions", {"page_id": architecture})
        await use("execute_generic_confluence", {"method": "GET", "relative_url": "/rest/api/space",
                                                 "params": {"limit": 2}})

        # Writes.
        created = await use("create_page", {"title": "Spec probe", "body": "# Probe\n\nText.", "labels": ["probe"],
                                            "parent_id": install, "include_body": True})
        probe = created["id"]
        draft = await use("create_page", {"title": "Spec draft", "body": "<p>draft</p>", "body_format": "storage",
                                          "status": "draft"})
        await use("read_page_by_id", {"page_id": draft["id"]})  # GET /content/{id}?status=draft&status=trashed
        await use("create_page", {"title": "Spec wiki", "body": "h1. Wiki\n\n*bold*", "body_format": "wiki",
                                  "parent_title": "Getting Started"})
        many = await use("create_pages", {"pages": [{"title": "Spec bulk 1", "body": "one"}],
                                          "pages_info": [{"Spec bulk 2": "two"}], "parent_id": probe})
        bulk = [r["id"] for r in many["results"]]
        await use("update_page_by_id", {"page_id": probe, "new_body": "## Changed\n\nMore.",
                                        "new_title": "Spec probe 2", "minor_edit": True, "version_message": "probe",
                                        "include_body": True})
        await use("update_page_by_id", {"page_id": probe, "section": "Changed", "new_body": "Section text.",
                                        "new_labels": ["probe-2"], "expected_version": 2})
        await use("update_page_by_title", {"page_title": "Spec wiki", "new_body": "h2. Again",
                                           "body_format": "wiki"})
        await use("update_pages", {"page_ids": bulk, "new_contents": ["Bulk body"], "new_labels": ["bulk"]})
        for mode in ("add", "remove", "replace"):
            await use("update_labels", {"page_ids": [probe], "new_labels": ["lbl-a", "lbl-b"], "mode": mode})
        upload = {"page_id": probe, "filename": "notes.txt", "media_type": "text/plain",
                  "file_base64": base64.b64encode(b"spec probe").decode()}
        await use("add_file_to_page", upload)
        await use("add_file_to_page", {**upload, "caption": "again", "position": "prepend"})  # a new version
        await use("add_file_to_page", {**upload, "filename": "more.txt", "show_on_page": False})
        listed = await use("get_page_attachments", {"page_id": probe, "limit": 1})
        assert listed.get("next"), "expected a second page of attachments"
        await use("get_page_attachments", {"page_id": probe, "limit": 1, "cursor": listed["next"]})
        await use("delete_page", {"page_id": bulk[0]})
        await use("delete_page", {"page_title": "Spec bulk 2", "purge": True})

        # The semantic index (the stepback tools answer without an LLM from the retrieval alone).
        await use("index_data", {"collection": "spec", "space": "DEMO", "include_attachments": True,
                                 "include_comments": True})
        await use("index_data", {"collection": "spec", "page_ids": [install], "labels": ["onboarding"]})
        await use("list_collections", {})
        for name in ("search_index", "stepback_search_index", "stepback_summary_index"):
            await use(name, {"query": "install", "collection": "spec"})
        await use("remove_index", {"collection": "spec"})


async def _drive_v2_page_operations(settings: Settings, run: Run, blog_id: str) -> None:
    """A Cloud site whose deprecated v1 page routes and listings answer 410 Gone (the fault plan's `routes`): page
    reads, title lookups, writes, label reads, attachment listings and the space read go to REST v2 (trees and
    comments to CQL), so those requests are checked too."""
    run.faults(fail_next=10_000, status=410, routes=DEPRECATED_V1_PAGE_ROUTES + DEPRECATED_V1_LISTING_ROUTES)
    try:
        async with mcp_client(settings) as client:
            install = (await run.use(client, "get_page_id_by_title", {"title": "Installation Guide"}))["id"]
            await run.use(client, "read_page_by_id", {"page_id": install})
            created = await run.use(client, "create_page", {"title": "Spec v2", "body": "v2 *page*",
                                                            "parent_id": install, "labels": ["v2"]})
            await run.use(client, "update_page_by_id", {
                "page_id": created["id"], "new_body": "v2 again", "new_title": "Spec v2 renamed",
                "version_message": "through v2", "minor_edit": True, "new_labels": ["v2", "again"]})
            await run.use(client, "update_page_by_id", {"page_id": blog_id, "new_body": "A blog post, edited."})
            await run.use(client, "update_page_by_title", {"page_title": "Spec v2 renamed", "new_body": "third"})
            await run.use(client, "create_page", {"title": "Spec v2 at home", "body": "under the homepage"})
            await run.use(client, "get_page_tree", {"page_id": install})
            await run.use(client, "get_page_tree", {"max_depth": 2})  # the space's top level from v2
            draft = await run.use(client, "create_page", {"title": "Spec v2 draft", "body": "d", "status": "draft"})
            await run.use(client, "read_page_by_id", {"page_id": draft["id"]})  # GET /pages/{id}?status=draft
            await run.use(client, "get_page_attachments", {"page_id": install, "media_type": "text/plain",
                                                           "filename": "install-notes.txt"})
            for name in ("v2.txt", "v2.txt", "more.txt"):  # the second is a new version, found by the listing
                await run.use(client, "add_file_to_page", {"page_id": install, "filename": name, "show_on_page": False,
                                                           "file_base64": base64.b64encode(b"v2").decode()})
            listed = await run.use(client, "get_page_attachments", {"page_id": install, "limit": 1})
            await run.use(client, "get_page_attachments", {"page_id": install, "limit": 1, "cursor": listed["next"]})
            await run.use(client, "index_data", {"collection": "spec-v2", "page_ids": [install],
                                                 "include_attachments": True, "include_comments": True})
            await run.use(client, "remove_index", {"collection": "spec-v2"})
            await run.use(client, "delete_page", {"page_id": created["id"]})
            await run.use(client, "delete_page", {"page_id": blog_id, "purge": True})
    finally:
        run.faults(fail_next=0, routes=[])


@pytest.fixture(scope="module")
def run(index_settings: dict[str, Any]) -> Iterator[Run]:
    with start_sandbox(SandboxOptions(flavor="cloud")) as sandbox:
        yield _run_all(sandbox, index_settings)


def _run_all(sandbox: RunningSandbox, index: dict[str, Any]) -> Run:
    with httpx.Client(base_url=sandbox.base_url, auth=sandbox.auth, timeout=10) as http:  # setup, before the log
        blog_id = http.get("/rest/api/content", params={"type": "blogpost"}).json()["results"][0]["id"]
    httpx.post(f"{sandbox.admin_url}/reset-requests", timeout=10).raise_for_status()
    result = Run(sandbox)
    settings = _settings(sandbox.base_url, index)
    anyio.run(_drive_every_tool, settings, result)
    anyio.run(_drive_v2_page_operations, settings, result, blog_id)
    log = httpx.get(f"{sandbox.admin_url}/requests", timeout=10).json()
    assert log["total"] == log["kept"], "the request log overflowed; raise its capacity or split the run"
    result.requests = log["requests"]
    return result


def _rest(run: Run) -> list[dict[str, Any]]:
    kept = [r for r in run.requests if not r["path"].startswith(NOT_REST)]
    strays = [f"{r['method']} {r['path']}" for r in kept if not r["path"].startswith((V1_PREFIX, V2_PREFIX))]
    assert not strays, f"requests outside the REST APIs and outside NOT_REST: {strays}"
    return kept


def _found(run: Run) -> list[Problem]:
    return [problem for entry in _rest(run) for problem in problems(entry)]


def test_attachment_bytes_come_through_the_rest_download_endpoint(run: Run) -> None:
    paths = [r["path"] for r in run.requests]
    assert not [p for p in paths if p.startswith("/wiki/download/")]
    assert any(p.endswith("/download") and p.startswith(V1_PREFIX) for p in paths)
    assert any(p.startswith("/__media__/") for p in paths)


def test_every_tool_was_exercised(run: Run) -> None:
    missing = sorted(run.published - run.called)
    assert not missing, f"tools not exercised by this test (add a call to _drive_every_tool): {missing}"
    assert len(run.published) >= 25


def test_both_apis_were_used(run: Run) -> None:
    paths = [r["path"] for r in _rest(run)]
    assert any(p.startswith(V1_PREFIX) for p in paths)
    v2 = set()
    for request in _rest(run):
        located = operation_of(request["method"], request["path"]) if request["path"].startswith(V2_PREFIX) else None
        if located:
            v2.add((request["method"], located[2]))
    # Every v2 stand-in for a gone v1 page route was sent, so each of them was checked.
    assert {("GET", "/pages"), ("GET", "/pages/{id}"), ("POST", "/pages"), ("PUT", "/pages/{id}"),
            ("PUT", "/blogposts/{id}"), ("DELETE", "/pages/{id}"), ("DELETE", "/blogposts/{id}"),
            ("GET", "/pages/{id}/labels"), ("GET", "/pages/{id}/attachments"), ("GET", "/spaces")} <= v2, sorted(v2)


def test_client_requests_match_the_cloud_spec(run: Run) -> None:
    unexpected: dict[str, str] = {}
    for problem in _found(run):
        if problem.key not in SPEC_GAPS:
            unexpected.setdefault(problem.key, problem.message)
    assert not unexpected, "requests the Cloud spec does not allow:\n" + "\n".join(
        f"- [{key}] {message}" for key, message in sorted(unexpected.items()))


def test_spec_gap_entries_are_still_needed(run: Run) -> None:
    seen = {problem.key for problem in _found(run)}
    stale = sorted(set(SPEC_GAPS) - seen)
    assert not stale, f"SPEC_GAPS entries no request needs any more (remove them): {stale}"

