"""The client against the real sandbox over HTTP on 127.0.0.1, in both flavours (Server with a context path)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest

from confluence_mcp.confluence.client import ConfluenceClient
from confluence_mcp.confluence.response_cap import ResponseTooLarge
from confluence_mcp.errors import (
    AuthenticationFailed,
    BadRequest,
    ConfluenceConnectionError,
    NotFound,
    RateLimited,
    ServerError,
    VersionConflict,
)
from confluence_mcp.sandbox.runner import RunningSandbox, SandboxOptions, start_sandbox

pytestmark = pytest.mark.anyio
DEMO_PAGES = 'space = "DEMO" and type = page'


@pytest.fixture(scope="module", params=["cloud", "server"])
def sandbox(request: pytest.FixtureRequest) -> Iterator[RunningSandbox]:
    context = "/confluence" if request.param == "server" else ""
    with start_sandbox(SandboxOptions(flavor=request.param, context_path=context)) as running:
        yield running


@pytest.fixture
def kit(sandbox: RunningSandbox, toolkit_factory: Any) -> Any:
    return toolkit_factory(sandbox.base_url, sandbox.options.flavor, space="DEMO")


@pytest.fixture
async def client(kit: Any) -> Any:
    async with ConfluenceClient(kit) as confluence:
        yield confluence


def admin(sandbox: RunningSandbox, path: str, payload: dict[str, Any] | None = None) -> Any:
    response = httpx.post(f"{sandbox.admin_url}/{path}", json=payload or {}, timeout=5)
    response.raise_for_status()
    return response.json() if response.content else None


def unique(title: str) -> str:
    return f"{title} {uuid.uuid4().hex[:8]}"


async def test_reads_space_page_and_web_urls(client: ConfluenceClient, sandbox: RunningSandbox) -> None:
    space = await client.get_space("DEMO")
    home_id = str(space["homepage"]["id"])
    page = await client.get_page(home_id)
    assert page["space"]["key"] == "DEMO"
    assert page["body"]["storage"]["value"]
    assert page["version"]["number"] >= 1
    url = client.web_url(page["_links"]["webui"])
    assert url is not None and url.startswith(sandbox.base_url + "/")
    found = await client.find_page_by_title("DEMO", page["title"])
    assert found is not None and found["id"] == home_id
    assert await client.find_page_by_title("DEMO", "No such page " + uuid.uuid4().hex) is None


async def test_search_cursor_pages_to_the_end(client: ConfluenceClient) -> None:
    first = await client.search(DEMO_PAGES, limit=4, excerpt="highlight")
    assert first.total is not None and first.total > 4
    seen = [item["content"]["id"] for item in first.results]
    cursor = first.next
    while cursor:
        page = await client.search(DEMO_PAGES, limit=4, cursor=cursor)
        seen += [item["content"]["id"] for item in page.results]
        cursor = page.next
        assert len(seen) <= first.total
    assert len(seen) == len(set(seen)) == first.total


async def test_content_search_and_paginate_agree(client: ConfluenceClient) -> None:
    listed = [item["id"] async for item in client.paginate("content/search", params={"cql": DEMO_PAGES},
                                                           page_size=7)]
    first = await client.content_search(DEMO_PAGES, limit=50)
    assert first.total is None or first.total == len(listed)
    assert len(set(listed)) == len(listed) > 7
    capped = [item async for item in client.paginate("content/search", params={"cql": DEMO_PAGES},
                                                     page_size=3, max_items=5)]
    assert len(capped) == 5


async def test_children_and_descendants(client: ConfluenceClient) -> None:
    home_id = str((await client.get_space("DEMO"))["homepage"]["id"])
    children = [child async for child in client.child_pages(home_id)]
    descendants = [d async for d in client.descendant_pages(home_id)]
    assert children and len(descendants) >= len(children)
    assert {c["id"] for c in children} <= {d["id"] for d in descendants}
    assert len([c async for c in client.child_pages(home_id, max_items=1)]) == 1


async def test_bad_cql_is_a_bad_request(client: ConfluenceClient) -> None:
    with pytest.raises(BadRequest, match="cql"):
        await client.search("space = = DEMO", limit=1)


async def test_create_update_conflict_delete(client: ConfluenceClient) -> None:
    title = unique("Client test page")
    created = await client.create_page("DEMO", title, "<p>Hello <strong>world</strong></p>",
                                       labels=["client-test", "alpha"])
    page_id = str(created["id"])
    assert created["version"]["number"] == 1
    assert set(await client.get_labels(page_id)) >= {"client-test", "alpha"}
    before = (await client.get_page(page_id))["body"]["storage"]["value"]

    renamed = await client.update_page(page_id, title=title + " renamed", storage=None, version=2)
    assert renamed["title"] == title + " renamed"
    after = await client.get_page(page_id)
    assert after["body"]["storage"]["value"] == before
    assert after["version"]["number"] == 2

    with pytest.raises(VersionConflict) as conflict:
        await client.update_page(page_id, title=title, storage="<p>stale</p>", version=2)
    assert conflict.value.current_version == 2

    updated = await client.update_page(page_id, title=title, storage="<p>new</p>", version=3,
                                       message="edited by test", minor_edit=True)
    assert updated["version"]["number"] == 3

    await client.delete_page(page_id)
    with pytest.raises(NotFound):
        await client.get_page(page_id)
    trashed = await client.get_json(f"content/{page_id}", params={"status": "trashed"})
    assert trashed["status"] == "trashed"
    await client.delete_page(page_id, purge=True)
    with pytest.raises(NotFound):
        await client.get_json(f"content/{page_id}", params={"status": "trashed"})


async def test_duplicate_title_and_child_page(client: ConfluenceClient) -> None:
    title = unique("Client parent")
    parent = await client.create_page("DEMO", title, "<p>parent</p>")
    with pytest.raises(BadRequest, match="already exists"):
        await client.create_page("DEMO", title.upper(), "<p>again</p>")
    child = await client.create_page("DEMO", unique("Client child"), "<p>child</p>", parent_id=str(parent["id"]))
    assert str(child["ancestors"][-1]["id"]) == str(parent["id"])
    kids = [c["id"] async for c in client.child_pages(str(parent["id"]))]
    assert kids == [child["id"]]


async def test_labels_add_and_remove(client: ConfluenceClient) -> None:
    page = await client.create_page("DEMO", unique("Client labels"), "<p>labels</p>")
    page_id = str(page["id"])
    assert set(await client.add_labels(page_id, ["one", "two", "one"])) >= {"one", "two"}
    await client.remove_label(page_id, "one")
    labels = await client.get_labels(page_id)
    assert "one" not in labels and "two" in labels


async def test_upload_new_version_and_download(client: ConfluenceClient) -> None:
    page = await client.create_page("DEMO", unique("Client files"), "<p>files</p>")
    page_id = str(page["id"])
    first = await client.upload_attachment(page_id, "notes.txt", b"version one", media_type="text/plain",
                                           comment="first")
    second = await client.upload_attachment(page_id, "notes.txt", b"version two", media_type="text/plain")
    assert first["id"] == second["id"]
    listing = await client.attachments(page_id, filename="notes.txt")
    assert len(listing.results) == 1
    attachment = listing.results[0]
    assert await client.download(attachment["_links"]["download"]) == b"version two"
    via_api = f"/rest/api/content/{page_id}/child/attachment/{attachment['id']}/download"
    if client.hosting == "cloud":
        assert await client.download(via_api) == b"version two"
    else:  # a Cloud-only endpoint
        with pytest.raises(NotFound):
            await client.download(via_api)


async def test_attachment_listing_pages_with_cursor(client: ConfluenceClient) -> None:
    page_id = str((await client.create_page("DEMO", unique("Client many files"), "<p>x</p>"))["id"])
    for index in range(5):
        await client.upload_attachment(page_id, f"f{index}.txt", b"x")
    first = await client.attachments(page_id, limit=2)
    names = [a["title"] for a in first.results]
    cursor = first.next
    while cursor:
        more = await client.attachments(page_id, limit=2, cursor=cursor)
        names += [a["title"] for a in more.results]
        cursor = more.next
    assert sorted(names) == [f"f{i}.txt" for i in range(5)]


async def test_wrong_token_and_missing_things(sandbox: RunningSandbox, toolkit_factory: Any,
                                              client: ConfluenceClient) -> None:
    bad = toolkit_factory(sandbox.base_url, sandbox.options.flavor, token="wrong-token")
    async with ConfluenceClient(bad) as wrong:
        with pytest.raises(AuthenticationFailed, match="Basic = username") as info:
            await wrong.get_space("DEMO")
    assert "wrong-token" not in str(info.value)
    with pytest.raises(NotFound, match="short codes like DOCS"):
        await client.get_page("999999999")
    with pytest.raises(NotFound):
        await client.get_space("NOSUCHSPACE")


async def test_fail_next_503_then_success(sandbox: RunningSandbox, client: ConfluenceClient) -> None:
    admin(sandbox, "reset-stats")
    admin(sandbox, "faults", {"fail_next": 2, "status": 503, "retry_after": "0"})
    space = await client.get_space("DEMO")
    assert space["key"] == "DEMO"
    stats = httpx.get(f"{sandbox.admin_url}/stats", timeout=5).json()
    assert stats["total"] == 3


async def test_503_beyond_retries_fails_with_server_error(sandbox: RunningSandbox, client: ConfluenceClient) -> None:
    admin(sandbox, "faults", {"fail_next": 3, "status": 503, "retry_after": "0"})
    with pytest.raises(ServerError, match="after 3 attempts"):
        await client.get_space("DEMO")


async def test_429_with_huge_retry_after_is_capped(sandbox: RunningSandbox, client: ConfluenceClient) -> None:
    admin(sandbox, "faults", {"fail_next": 3, "status": 429, "retry_after": "9223372036854775807"})
    with anyio.fail_after(5), pytest.raises(RateLimited, match="implausible"):
        await client.get_space("DEMO")
    admin(sandbox, "faults", {"fail_next": 1, "status": 429, "retry_after": "0"})
    assert (await client.get_space("DEMO"))["key"] == "DEMO"


async def test_update_moves_page_under_new_parent(client: ConfluenceClient) -> None:
    first = await client.create_page("DEMO", unique("Client move A"), "<p>a</p>")
    second = await client.create_page("DEMO", unique("Client move B"), "<p>b</p>")
    await client.update_page(str(second["id"]), title=second["title"], storage=None, version=2,
                             parent_id=str(first["id"]))
    moved = await client.get_page(str(second["id"]), expand="ancestors")
    assert str(moved["ancestors"][-1]["id"]) == str(first["id"])
    assert [c["id"] async for c in client.child_pages(str(first["id"]))] == [second["id"]]



async def test_writes_retry_on_429_but_not_on_502(sandbox: RunningSandbox, client: ConfluenceClient) -> None:
    title = unique("Client retried write")
    admin(sandbox, "faults", {"fail_next": 1, "status": 429, "retry_after": "0"})
    created = await client.create_page("DEMO", title, "<p>once</p>")
    assert (await client.find_page_by_title("DEMO", title) or {}).get("id") == created["id"]
    admin(sandbox, "reset-stats")
    admin(sandbox, "faults", {"fail_next": 1, "status": 502})
    with pytest.raises(ServerError, match="HTTP 502"):
        await client.create_page("DEMO", unique("Client not retried"), "<p>x</p>")
    assert httpx.get(f"{sandbox.admin_url}/stats", timeout=5).json()["total"] == 1


async def test_dropped_connections_retry_reads_only(sandbox: RunningSandbox, client: ConfluenceClient) -> None:
    admin(sandbox, "faults", {"fail_next": 2, "status": 0})
    assert (await client.get_space("DEMO"))["key"] == "DEMO"
    admin(sandbox, "faults", {"fail_next": 1, "status": 0})
    with pytest.raises(ConfluenceConnectionError):
        await client.create_page("DEMO", unique("Client dropped"), "<p>x</p>")


async def test_slow_reads_time_out_then_report(sandbox: RunningSandbox, toolkit_factory: Any) -> None:
    kit = toolkit_factory(sandbox.base_url, sandbox.options.flavor, retries=1, timeout_seconds=0.2)
    admin(sandbox, "faults", {"rate": 1.0, "kinds": ["slow"], "slow_seconds": 1.0})
    try:
        async with ConfluenceClient(kit) as slow:
            with anyio.fail_after(5), pytest.raises(ConfluenceConnectionError, match=r"timed out .*after 2 attempts"):
                await slow.get_space("DEMO")
    finally:
        admin(sandbox, "faults", {"rate": 0.0})


async def test_cloud_search_falls_back_to_content_search_on_400(sandbox: RunningSandbox,
                                                                client: ConfluenceClient) -> None:
    # Some Cloud tenants refuse /search for CQL that /content/search accepts (here: the next request fails).
    admin(sandbox, "reset-stats")
    admin(sandbox, "faults", {"fail_next": 1, "status": 400})
    if sandbox.options.flavor == "server":
        with pytest.raises(BadRequest):
            await client.search('space = "DEMO" and type = page', limit=5)
        return
    page = await client.search('space = "DEMO" and type = page', limit=5)
    assert page.results and all(r.get("id") for r in page.results)  # Content objects, not wrappers
    routes = httpx.get(f"{sandbox.admin_url}/stats", timeout=5).json()["by_route"]
    assert any("content/search" in route for route in routes)
    with pytest.raises(BadRequest, match=r"(?i)could not parse"):
        await client.search("space = = DEMO", limit=5)


@pytest.mark.anyio
async def test_user_names_are_remembered_per_account_not_per_site(sandbox: RunningSandbox, kit: Any,
                                                                   toolkit_factory: Any) -> None:
    from confluence_mcp.confluence.users import mentioned_user_names

    ref = 'ri:account-id="557058:bob-0003"' if sandbox.options.flavor == "cloud" else 'ri:username="bob"'
    storage = f"<p><ac:link><ri:user {ref}/></ac:link></p>"
    outsider = toolkit_factory(sandbox.base_url, sandbox.options.flavor, retries=0, token="not-the-token")
    async with ConfluenceClient(outsider) as other, ConfluenceClient(kit) as client:
        assert await mentioned_user_names(other, storage) == ()  # refused (401): remembered as nameless, for it
        assert dict(await mentioned_user_names(client, storage)).popitem()[1] == "Bob Builder"
        assert other.account_key != client.account_key and client.account_key.startswith(client.site_url)



async def test_no_response_is_read_past_the_cap(kit: Any, client: ConfluenceClient) -> None:
    """Pages and attachments are other people's content: a huge attachment is refused, not read into memory."""
    page = await client.create_page("DEMO", unique("Big attachment"), "<p>x</p>")
    try:
        listed = await client.upload_attachment(str(page["id"]), "big.bin", b"\0" * 300_000)
        attachment = (listed.get("results") or [listed])[0]
        async with ConfluenceClient(kit, max_response_bytes=100_000) as capped:
            with pytest.raises(ResponseTooLarge, match="more than this server reads into memory"):
                await capped.download_attachment(attachment)
            assert (await capped.get_page(str(page["id"])))["id"] == page["id"]  # small answers pass
        assert len(await client.download_attachment(attachment)) == 300_000
    finally:
        await client.delete_page(str(page["id"]), purge=True)


async def test_a_response_without_length_stops_at_the_cap(kit: Any) -> None:
    sent: list[int] = []

    async def endless() -> Any:
        for _ in range(1000):
            sent.append(1)
            yield b"\0" * 10_000

    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=endless()))
    async with ConfluenceClient(kit, transport=transport, max_response_bytes=50_000) as capped:
        with pytest.raises(ResponseTooLarge):
            await capped.download("/download/attachments/1/x.bin")
    assert len(sent) <= 7  # stopped right after the cap, not after 10 MB
