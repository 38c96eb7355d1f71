"""get_page_with_image_descriptions through the real MCP client against the sandbox: configured LLM, client
sampling, no LLM, foreign images, the description cache and the allowed-spaces policy."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest
from _image_site import TOKEN, USER, Site, make_settings
from _vision_stub import DESCRIPTION, RunningServer, image_urls
from mcp import Client
from mcp.types import CreateMessageRequestParams, CreateMessageResult, ErrorData, ImageContent, TextContent

from confluence_mcp.config import Settings
from confluence_mcp.server import build_server
from confluence_mcp.tools.images import CACHE

pytestmark = pytest.mark.anyio
TOOL = "get_page_with_image_descriptions"


class ToolFailed(AssertionError):
    pass


@asynccontextmanager
async def connect(settings: Settings, **client_options: Any) -> AsyncIterator[Client]:
    async with Client(build_server(settings), **client_options) as client:
        yield client


async def call(client: Client, args: dict[str, Any]) -> dict[str, Any]:
    with anyio.fail_after(60):
        result = await client.call_tool(TOOL, args)
    if result.is_error:
        raise ToolFailed(" ".join(getattr(c, "text", "") for c in result.content))
    assert result.structured_content is not None
    return dict(result.structured_content)


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    CACHE.clear()


async def test_configured_llm_describes_attachment_with_text_context(site: Site, vision: RunningServer) -> None:
    before = len(vision.requests)
    site.reset_stats()
    async with connect(make_settings(site, llm_url=vision.base_url)) as client:
        page = await call(client, {"page_id": site.pages["architecture"], "context_radius": 200})
    assert page["llm"] == "configured" and page["title"] == "Architecture Overview" and "note" not in page
    assert page["images"] == [{"filename": "architecture.png", "source": "attachment", "described": True,
                               "description": DESCRIPTION}]
    assert f"[Image architecture.png: {DESCRIPTION}]" in page["markdown"]
    assert "ImgSlot" not in page["markdown"] and "Reviewed by [@Bob Builder]" in page["markdown"]
    sent = vision.requests[before:]
    assert len(sent) == 1
    url = image_urls(sent[0])[0]
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]).startswith(b"\x89PNG")
    user_text = sent[0]["messages"][1]["content"][0]["text"]
    # Context is the page's text, not its XML.
    assert "The server talks to Confluence over REST" in user_text and "<p>" not in user_text
    assert "ri:attachment" not in user_text and "Describe this image." in user_text
    by_route = site.stats()["by_route"]
    assert by_route.get("GET /wiki/rest/api/content/{id}/child/attachment") == 1


async def test_second_call_hits_the_cache_and_the_prompt_is_part_of_the_key(site: Site,
                                                                             vision: RunningServer) -> None:
    async with connect(make_settings(site, llm_url=vision.base_url)) as client:
        before = len(vision.requests)
        site.reset_stats()
        first = await call(client, {"page_id": site.pages["home"]})
        downloads = [route for route in site.stats()["by_route"] if "download" in route]
        assert downloads  # the first call fetched the image's bytes
        site.reset_stats()
        second = await call(client, {"page_id": site.pages["home"]})
        assert len(vision.requests) == before + 1
        assert first == second and first["images"][0]["described"] is True
        # The same attachment revision is described already: its bytes are not downloaded again.
        assert not [route for route in site.stats()["by_route"] if "download" in route]
        await call(client, {"page_id": site.pages["home"], "prompt": "List the colours only."})
        assert len(vision.requests) == before + 2
        assert "List the colours only." in vision.requests[-1]["messages"][1]["content"][0]["text"]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_client_sampling_receives_image_content(site: Site, mode: str) -> None:
    received: list[CreateMessageRequestParams] = []

    async def sampling(_context: Any, params: CreateMessageRequestParams) -> CreateMessageResult:
        received.append(params)
        return CreateMessageResult(role="assistant", model="client-model",
                                   content=TextContent(type="text", text="Image 1: A green striped diagram."))

    async with connect(make_settings(site), sampling_callback=sampling, mode=mode) as client:
        page = await call(client, {"page_id": site.pages["architecture"]})
        again = await call(client, {"page_id": site.pages["architecture"]})
    assert page["llm"] == "sampling"
    assert page["images"][0]["described"] and page["images"][0]["description"] == "A green striped diagram."
    assert "[Image architecture.png: A green striped diagram.]" in page["markdown"]
    assert again == page and len(received) == 1  # the second call is served from the cache
    blocks = received[0].messages[0].content
    assert isinstance(blocks, list)
    images = [b for b in blocks if isinstance(b, ImageContent)]
    assert len(images) == 1 and images[0].mime_type == "image/png"
    assert base64.b64decode(images[0].data).startswith(b"\x89PNG")


async def test_refused_sampling_names_the_images_and_says_why(site: Site) -> None:
    async def refuse(_context: Any, _params: CreateMessageRequestParams) -> ErrorData:
        return ErrorData(code=-1, message="User rejected sampling request")

    async with connect(make_settings(site), sampling_callback=refuse, mode="legacy") as client:
        page = await call(client, {"page_id": site.pages["architecture"]})
    assert page["llm"] == "none" and page["images"][0]["described"] is False
    assert "[Image architecture.png]" in page["markdown"]
    assert "refused the sampling request (User rejected sampling request)" in page["note"]


async def test_without_llm_images_are_named_and_the_note_says_how_to_enable_one(site: Site) -> None:
    site.reset_stats()
    async with connect(make_settings(site)) as client:
        page = await call(client, {"page_id": site.pages["architecture"]})
    assert not any("/download/" in route for route in site.stats()["by_route"])  # nothing to describe them with
    assert page["llm"] == "none"
    assert page["images"][0]["described"] is False and page["images"][0]["error"]
    assert "[Image architecture.png]" in page["markdown"]
    assert "[llm]" in page["note"] and "sampling" in page["note"]



async def test_conversion_shares_read_page_by_ids_cache(site: Site) -> None:
    from confluence_mcp.tools.content import MARKDOWN_CACHE

    plain = _create_plain_page(site)
    MARKDOWN_CACHE.clear()
    async with connect(make_settings(site)) as client:
        with anyio.fail_after(60):
            read = await client.call_tool("read_page_by_id", {"page_id": plain})
        page = await call(client, {"page_id": plain})
        await call(client, {"page_id": site.pages["architecture"]})
        await call(client, {"page_id": site.pages["architecture"]})
    info = MARKDOWN_CACHE.info()
    # Same version, no images: read_page_by_id's conversion is reused; an image page is converted once.
    assert read.structured_content is not None and page["markdown"] == read.structured_content["markdown"]
    assert info.misses == 2 and info.hits >= 2


def _create_plain_page(site: Site) -> str:
    body = {"type": "page", "title": f"No images {uuid.uuid4().hex[:8]}", "space": {"key": "DEMO"},
            "body": {"storage": {"value": "<p>Plain <strong>text</strong>, nothing to describe.</p>",
                                 "representation": "storage"}}}
    with httpx.Client(base_url=site.base_url, auth=(USER, TOKEN), timeout=30) as http:
        response = http.post("/rest/api/content", json=body)
        response.raise_for_status()
        return str(response.json()["id"])

async def test_foreign_images_are_never_downloaded(site: Site, vision: RunningServer,
                                                   image_host: RunningServer) -> None:
    async with connect(make_settings(site)) as client:
        page = await call(client, {"page_id": site.pages["mixed"]})
    images = {i["filename"]: i for i in page["images"]}
    assert list(images) == ["chart.png", "logo.png", "architecture.png", "notes.txt", "missing.png", "old.png"]
    assert "not downloaded" in images["logo.png"]["error"] and images["logo.png"]["source"] == "url"
    assert "not attached" in images["missing.png"]["error"]
    assert image_host.requests == []

    # A configured LLM gets the foreign URL to fetch itself; our server still never calls that host.
    before = len(vision.requests)
    async with connect(make_settings(site, llm_url=vision.base_url)) as client:
        page = await call(client, {"page_id": site.pages["mixed"], "context_radius": 60})
    images = {i["filename"]: i for i in page["images"]}
    assert [n for n, i in images.items() if i["described"]] == ["chart.png", "logo.png", "architecture.png"]
    assert "PNG, JPEG, GIF or WebP" in images["notes.txt"]["error"]
    sent = [image_urls(body)[0] for body in vision.requests[before:]]
    assert f"{image_host.base_url}/partner/logo.png" in sent
    assert all(u.startswith("data:image/png;base64,") for u in sent if "partner" not in u)
    assert image_host.requests == []
    chart_context = next(b for b in vision.requests[before:] if "Quarterly" in b["messages"][1]["content"][0]["text"]
                         or "chart.png" in b["messages"][1]["content"][0]["text"])
    assert "Sales grew in every quarter" in chart_context["messages"][1]["content"][0]["text"]


async def test_allowed_spaces_are_enforced(site: Site) -> None:
    settings = make_settings(site, allowed_spaces=["DEMO"])
    async with connect(settings) as client:
        with pytest.raises(ToolFailed, match="outside this toolkit's allowed spaces"):
            await call(client, {"page_id": site.pages["archive"]})
        page = await call(client, {"page_id": site.pages["mixed"]})
    old = next(i for i in page["images"] if i["filename"] == "old.png")
    assert not old["described"] and "allowed spaces" in old["error"]


async def test_max_images_limits_what_is_described(site: Site, vision: RunningServer) -> None:
    before = len(vision.requests)
    async with connect(make_settings(site, llm_url=vision.base_url)) as client:
        page = await call(client, {"page_id": site.pages["mixed"], "max_images": 1})
    assert len(vision.requests) == before + 1
    assert page["images"][0]["described"] and not any(i["described"] for i in page["images"][1:])
    assert "max_images" in page["images"][1]["error"]


async def test_one_sampling_request_describes_several_images(site: Site) -> None:
    received: list[CreateMessageRequestParams] = []

    async def sampling(_context: Any, params: CreateMessageRequestParams) -> CreateMessageResult:
        received.append(params)
        answer = "Image 1: A blue chart.\n\n**Image 2:** The architecture.\nImage 3 - An old picture."
        return CreateMessageResult(role="assistant", model="m", content=TextContent(type="text", text=answer))

    settings = make_settings(site, allowed_spaces=["DEMO", "ARCHIVE"])  # old.png lives on an ARCHIVE page
    async with connect(settings, sampling_callback=sampling) as client:
        page = await call(client, {"page_id": site.pages["mixed"]})
    described = {i["filename"]: i["description"] for i in page["images"] if i["described"]}
    assert described == {"chart.png": "A blue chart.", "architecture.png": "The architecture.",
                         "old.png": "An old picture."}
    assert len(received) == 1
    assert sum(isinstance(b, ImageContent) for b in received[0].messages[0].content) == 3


async def test_server_flavour_with_a_context_path(vision: RunningServer) -> None:
    from confluence_mcp.sandbox.runner import SandboxOptions, start_sandbox

    with start_sandbox(SandboxOptions(flavor="server", context_path="/confluence")) as sandbox:
        site = Site(sandbox, {})
        async with connect(make_settings(site, llm_url=vision.base_url)) as client:
            page = await call(client, {"page_id": "65537"})
    assert page["title"] == "Demo Home"
    assert page["images"] == [{"filename": "sandbox-logo.png", "source": "attachment", "described": True,
                               "description": DESCRIPTION}]


async def test_an_unpublished_draft_is_read_as_read_page_by_id_reads_it(site: Site, vision: RunningServer) -> None:
    from confluence_mcp.sandbox.demo import make_png

    inline = base64.b64encode(make_png(6, 6, (9, 9, 9), (200, 200, 200))).decode()
    body = {"type": "page", "status": "draft", "title": f"Draft {uuid.uuid4().hex[:8]}", "space": {"key": "DEMO"},
            "body": {"storage": {"value": f'<p>Work in progress.</p><ac:image><ri:url ri:value="data:image/png;'
                                          f'base64,{inline}"/></ac:image>', "representation": "storage"}}}
    with httpx.Client(base_url=site.base_url, auth=(USER, TOKEN), timeout=30) as http:
        created = http.post("/rest/api/content", json=body)
        created.raise_for_status()
    async with connect(make_settings(site, llm_url=vision.base_url)) as client:
        page = await call(client, {"page_id": str(created.json()["id"])})
    assert "Work in progress." in page["markdown"] and page["images"][0]["described"]


async def test_a_long_page_comes_in_parts_each_with_its_own_images(site: Site, vision: RunningServer) -> None:
    from confluence_mcp.sandbox.demo import make_png

    def image(n: int) -> str:
        data = base64.b64encode(make_png(6 + n, 6, (9 * n, 9, 9), (200, 200, 200))).decode()
        return f'<ac:image ac:alt="pic {n}"><ri:url ri:value="data:image/png;base64,{data}"/></ac:image>'

    filler = "<p>" + "words " * 150 + "</p>"
    storage = "".join(f"<h2>Part {n}</h2>{filler}<p>{image(n)}</p>{filler}" for n in range(3))
    body = {"type": "page", "title": f"Long {uuid.uuid4().hex[:8]}", "space": {"key": "DEMO"},
            "body": {"storage": {"value": storage, "representation": "storage"}}}
    with httpx.Client(base_url=site.base_url, auth=(USER, TOKEN), timeout=30) as http:
        created = http.post("/rest/api/content", json=body)
        created.raise_for_status()
    seen, offset = [], 0
    async with connect(make_settings(site, llm_url=vision.base_url)) as client:
        whole = await call(client, {"page_id": str(created.json()["id"]), "max_images": 0})
        assert "next_offset" not in whole and len(whole["images"]) == 3
        while True:
            part = await call(client, {"page_id": str(created.json()["id"]), "offset": offset, "max_chars": 2000})
            assert len(part["images"]) <= 1 and part["total_chars"] > 4000 and "Part of page" in part["note"]
            for shown in part["images"]:
                assert shown["described"] and f"[Image {shown['filename']}: {DESCRIPTION}]" in part["markdown"]
                seen.append(shown["filename"])
            if part.get("next_offset") is None:
                break
            offset = part["next_offset"]
    assert len(seen) == 3 and len(set(seen)) == 3  # every image described once, in the part that shows it
