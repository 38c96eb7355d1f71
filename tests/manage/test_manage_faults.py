"""Writes under injected faults (sandbox `/__sandbox__/faults`): no duplicate pages, no lost or clobbered updates."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Literal

import pytest
from manage_helpers import Rest, connect, make_settings, unique

from confluence_mcp.confluence.client import ConfluenceClient
from confluence_mcp.errors import ServerError, VersionConflict
from confluence_mcp.sandbox.runner import RunningSandbox, SandboxOptions, start_sandbox
from confluence_mcp.tools.write_support import create_once, update_checked

pytestmark = pytest.mark.anyio


@pytest.fixture
async def client(sandbox: RunningSandbox) -> AsyncIterator[ConfluenceClient]:
    kit = make_settings(sandbox).resolved_toolkits()[0]
    async with ConfluenceClient(kit) as confluence:
        yield confluence


@pytest.fixture
def faults(rest: Rest) -> Iterator[Rest]:
    yield rest
    rest.faults(rate=0, fail_next=0, status=503, kinds=["429", "500", "502", "503", "slow", "drop"])


async def test_create_after_a_502_posts_again_exactly_once(client: ConfluenceClient, faults: Rest) -> None:
    title = unique("Fault create")
    faults.faults(fail_next=1, status=502)  # the POST itself fails; the client does not retry a 502 write
    page = await create_once(client, "DEMO", title, "<p>once</p>", parent_id=None, status="current", labels=())
    assert [p["id"] for p in faults.titled("DEMO", title)] == [page["id"]]
    faults.faults(fail_next=10, status=500)
    with pytest.raises(ServerError):
        await create_once(client, "DEMO", unique("Never"), "<p>x</p>", parent_id=None, status="current",
                          labels=())


async def test_update_after_a_502_lands_once(client: ConfluenceClient, faults: Rest) -> None:
    created = faults.create(unique("Fault update"), "<p>v1</p>")
    page = await client.get_page(created["id"], expand="body.storage,version,space")
    faults.faults(fail_next=1, status=502)
    updated = await update_checked(client, page, title=page["title"], storage="<p>v2</p>", message=None,
                                   minor_edit=False)
    assert updated["version"]["number"] == 2
    assert faults.storage(created["id"]) == "<p>v2</p>" and faults.version(created["id"]) == 2


async def _writes_survive(sandbox: RunningSandbox, rest: Rest, count: int) -> None:
    """Create then update `count` pages; whatever the faults did, no title exists twice and every update the
    tools reported as done is stored exactly once (version 2)."""
    titles = [unique("Chaos") for _ in range(count)]
    created: dict[str, str] = {}
    updated: dict[str, str] = {}
    async with connect(sandbox, credential={"timeout_seconds": 0.25}) as tools:
        for title in titles:
            result = await tools.call_tool("create_page", {"title": title, "body": f"body of {title}"})
            text = " ".join(getattr(c, "text", "") for c in result.content)
            assert not text.endswith("create_page"), "an error without an explanation"
            if not result.is_error and result.structured_content:
                created[title] = result.structured_content["id"]
        for title, page_id in created.items():
            result = await tools.call_tool("update_page_by_id", {"page_id": page_id, "new_body": f"new {title}"})
            if not result.is_error:
                updated[page_id] = f"<p>new {title}</p>"
    rest.faults(rate=0)
    assert created, "with retries some creates must succeed"
    for title in titles:
        pages = rest.titled("DEMO", title)
        assert len(pages) <= 1, f"duplicate pages for {title}"
        if title in created:
            assert [p["id"] for p in pages] == [created[title]]
    for page_id, storage in updated.items():
        assert rest.storage(page_id) == storage
        assert rest.version(page_id) == 2


async def test_tools_under_random_faults_never_duplicate_or_lose(sandbox: RunningSandbox, faults: Rest) -> None:
    # Slow responses outlive the client's read timeout but are still applied: the "did it land?" case.
    faults.faults(rate=0.15, slow_seconds=0.4)
    await _writes_survive(sandbox, faults, 6)


async def test_sandbox_started_with_fault_rate(sandbox: RunningSandbox) -> None:
    """The `--faults` start option (same plan as the admin API) in this test's own sandbox."""
    flavor: Literal["cloud", "server"] = "cloud" if sandbox.base_url.rstrip("/").endswith("/wiki") else "server"
    with start_sandbox(SandboxOptions(flavor=flavor, faults=0.15)) as faulty:
        own = Rest(faulty)
        own.faults(kinds=["429", "500", "502", "503", "drop"])  # no slow ones: keep this test quick
        try:
            await _writes_survive(faulty, own, 4)
        finally:
            own.http.close()


async def test_edit_between_read_and_write_is_refused_not_overwritten(client: ConfluenceClient, rest: Rest) -> None:
    created = rest.create(unique("Race"), "<p>base</p>")
    page = await client.get_page(created["id"], expand="body.storage,version,space")
    rest.edit(created["id"], "<p>their edit</p>")  # lands after our read, before our write
    with pytest.raises(VersionConflict) as caught:
        await update_checked(client, page, title=page["title"], storage="<p>mine</p>", message=None,
                             minor_edit=False)
    assert caught.value.current_version == 2 and caught.value.changed_by
    assert "version 2" in str(caught.value) and "based on version 1" in str(caught.value)
    assert rest.storage(created["id"]) == "<p>their edit</p>"
