"""Tiny links (`/x/CODE`) whose code holds Atlassian's `_` (for `+`) and `-` (for `/`): the sandbox issues and
resolves them as Confluence does, and read_page_by_id follows them to the right page."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from _mcp_fixtures import call, make_settings, mcp_client

from confluence_mcp.sandbox.runner import RunningSandbox, SandboxOptions, start_sandbox
from confluence_mcp.sandbox.serialize import tiny_code, tiny_code_id
from confluence_mcp.tools.content import tiny_code_to_id

pytestmark = pytest.mark.anyio

# Little-endian 0xF8 0x00 0x01 and 0xFC 0x00 0x01: standard base64 "+AAB" and "/AAB".
EXPECTED = {"65784": "_AAB", "65788": "-AAB"}


@pytest.fixture(scope="module", params=["cloud", "server"])
def sandbox(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    corpus = tmp_path_factory.mktemp("tiny") / "pages.jsonl"  # enough pages for ids past 65788
    corpus.write_text("".join(json.dumps({"key": f"p{n}", "space": "DEMO", "title": f"Page {n}",
                                          "markdown": f"page {n}"}) + "\n" for n in range(300)))
    with start_sandbox(SandboxOptions(flavor=request.param, seed=corpus)) as running:
        yield running


def test_codes_use_atlassians_alphabet_both_ways() -> None:
    for content_id, code in EXPECTED.items():
        assert tiny_code(content_id) == code
        assert tiny_code_id(code) == tiny_code_to_id(code) == content_id
    assert tiny_code_id("!!") is None


async def test_tiny_links_resolve_to_their_own_page(sandbox: RunningSandbox) -> None:
    with httpx.Client(base_url=sandbox.base_url, auth=sandbox.auth, timeout=10) as http:
        for content_id, code in EXPECTED.items():
            links = http.get(f"/rest/api/content/{content_id}").json()["_links"]
            assert links["tinyui"] == f"/x/{code}"
            moved = http.get(f"/x/{code}", follow_redirects=False)
            webui = links["webui"]
            assert moved.status_code == 302 and moved.headers["location"].endswith(webui)
    async with mcp_client(make_settings(sandbox.base_url)) as client:
        for content_id, code in EXPECTED.items():
            page = await call(client, "read_page_by_id", {"page_id": f"{sandbox.base_url}/x/{code}"})
            assert page["id"] == content_id
