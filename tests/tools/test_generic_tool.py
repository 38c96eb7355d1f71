"""execute_generic_confluence: JSON in and out, confinement before any request, read-only refusal, truncation."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from _mcp_fixtures import ToolFailed, call, make_settings, mcp_client

from confluence_mcp.errors import PolicyError
from confluence_mcp.tools.generic import confine_path, typed_body
from confluence_mcp.tools.models import GenericResponse

pytestmark = pytest.mark.anyio

ESCAPES = [
    "http://127.0.0.1:1/rest/api/space",
    "https://evil.example.com/rest/api/space",
    "//evil.example.com/rest/api/space",
    "/rest/api/../../admin",
    "/rest/api/%2e%2e/%2e%2e/admin",
    "/rest/api/%252e%252e/admin",
    "\\\\evil\\share",
    "/rest/api/..%2fsecret",
    "javascript:alert(1)",
    "/%3F/../../admin",  # an encoded ? is part of the path: the dot segments after it still count
    "/rest/%3f/%2e%2e/%2e%2e/admin",
    "/rest/api/..;/..;/admin",  # Tomcat drops ;parameters, so this is ..
]


@pytest.mark.parametrize("path", ESCAPES)
def test_confine_path_refuses_escapes(path: str) -> None:
    with pytest.raises(PolicyError):
        confine_path(path, "http://127.0.0.1:8090/wiki")


def test_confine_path_accepts_site_paths() -> None:
    assert confine_path("/rest/api/content/1", "http://h/wiki") == "/rest/api/content/1"
    assert confine_path("/wiki/rest/api/content/1", "http://h/wiki") == "/rest/api/content/1"
    assert confine_path("rest/api/space", "http://h") == "/rest/api/space"
    # The query is not a path: dot segments and CQL's backslash escapes are fine there.
    assert confine_path("/rest/api/content?title=a/../b", "http://h") == "/rest/api/content?title=a/../b"
    assert confine_path('/rest/api/search?cql=title~"a\\-b"', "http://h") == '/rest/api/search?cql=title~"a\\-b"'


def test_every_json_body_fits_the_output_model() -> None:
    for body in ({"a": [[1]]}, [{"id": "1"}, "x", 2, None], "text", 3, 2.5, True, None, [[1, 2], [3]]):
        kept = GenericResponse(status=200, method="GET", url="/x", body=typed_body(body)).body
        assert kept == body or kept == "[[1, 2], [3]]"


@pytest.fixture
def settings(flavor_sandbox: Any) -> Any:
    return make_settings(flavor_sandbox.base_url)


async def test_get_returns_json_without_noise(settings: Any) -> None:
    async with mcp_client(settings) as client:
        out = await call(client, "execute_generic_confluence",
                         {"method": "get", "relative_url": "/rest/api/content/65539",
                          "params": {"expand": "version"}})
    assert out["status"] == 200 and out["method"] == "GET"
    assert out["body"]["id"] == "65539" and out["body"]["version"]["number"] >= 1
    assert "_expandable" not in out["body"] and set(out["body"].get("_links", {})) <= {"webui", "tinyui", "next",
                                                                                     "download"}


async def test_params_as_json_string_like_elitea(settings: Any) -> None:
    async with mcp_client(settings) as client:
        out = await call(client, "execute_generic_confluence",
                         {"method": "GET", "relative_url": "/rest/api/content",
                          "params": '{"spaceKey": "DEMO", "limit": 2}'})
    assert len(out["body"]["results"]) == 2


@pytest.mark.parametrize("path", ESCAPES)
async def test_escapes_are_refused_before_any_request(flavor_sandbox: Any, settings: Any, path: str) -> None:
    with httpx.Client(base_url=flavor_sandbox.admin_url) as admin:
        admin.post("/reset-stats")
        async with mcp_client(settings) as client:
            with pytest.raises(ToolFailed, match="Refused"):
                await call(client, "execute_generic_confluence", {"method": "GET", "relative_url": path})
        assert admin.get("/stats").json()["total"] == 0


async def test_writes_refused_in_read_only_mode(flavor_sandbox: Any) -> None:
    async with mcp_client(make_settings(flavor_sandbox.base_url, read_only=True)) as client:
        for method in ("POST", "PUT", "DELETE"):
            with pytest.raises(ToolFailed, match="read-only"):
                await call(client, "execute_generic_confluence",
                           {"method": method, "relative_url": "/rest/api/content/65545"})
        out = await call(client, "execute_generic_confluence",
                         {"method": "GET", "relative_url": "/rest/api/space"})
    assert out["status"] == 200


async def test_post_sends_json_body_and_http_errors_are_typed(settings: Any) -> None:
    async with mcp_client(settings) as client:
        with pytest.raises(ToolFailed, match=r"(?i)400|pars|cql"):
            await call(client, "execute_generic_confluence",
                       {"method": "GET", "relative_url": "/rest/api/search", "params": {"cql": "title ~~ ("}})
        with pytest.raises(ToolFailed, match=r"(?i)404|not found"):
            await call(client, "execute_generic_confluence",
                       {"method": "GET", "relative_url": "/rest/api/content/987654321"})
        with pytest.raises(ToolFailed):
            await call(client, "execute_generic_confluence", {"method": "PATCH", "relative_url": "/rest/api/space"})


async def test_large_responses_are_truncated_with_a_note(settings: Any) -> None:
    from confluence_mcp.tools.generic import MAX_RESPONSE_CHARS

    paragraphs = "\n\n".join(f"Paragraph {i}: " + "lorem ipsum dolor sit amet " * 20 for i in range(120))
    assert len(paragraphs) > MAX_RESPONSE_CHARS
    async with mcp_client(settings) as client:
        created = await call(client, "create_page", {"title": f"Big page {uuid.uuid4().hex[:8]}",
                                                     "body": paragraphs})
        out = await call(client, "execute_generic_confluence",
                         {"method": "GET", "relative_url": "/rest/api/content",
                          "params": {"spaceKey": "DEMO", "expand": "body.storage,body.view", "limit": 100}})
        await call(client, "delete_page", {"page_id": created["id"]})
    assert out["truncated"] and "truncated" in out["note"]


def test_truncation_keeps_whole_results_and_says_so() -> None:
    from confluence_mcp.tools.generic import MAX_RESPONSE_CHARS, _truncate

    body = {"results": [{"id": str(i), "text": "x" * 1000} for i in range(200)], "size": 200}
    shown, truncated, note = _truncate(body)
    assert truncated and note and "of 200 results" in note
    assert 0 < len(shown["results"]) < 200 and len(str(shown)) <= MAX_RESPONSE_CHARS + 1000
    text, truncated, note = _truncate("y" * (MAX_RESPONSE_CHARS * 2))
    assert truncated and len(text) == MAX_RESPONSE_CHARS and "characters" in (note or "")
