"""read_page_by_id, get_page_tree and get_page_attachments against the sandbox (cloud and server), in memory."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from _mcp_fixtures import TOKEN, USER, ToolFailed, call, make_settings, mcp_client

from confluence_mcp.confluence.convert.links import USER_SCHEMES
from confluence_mcp.tools.content import tiny_code_to_id

pytestmark = pytest.mark.anyio


@pytest.fixture
def settings(flavor_sandbox: Any) -> Any:
    return make_settings(flavor_sandbox.base_url)


def web_url(sandbox: Any, page_id: str) -> str:
    with httpx.Client(base_url=sandbox.base_url, auth=(USER, TOKEN)) as http:
        links = http.get(f"/rest/api/content/{page_id}").json()["_links"]
    return str(links["base"] + links["webui"])


async def test_read_page_by_id_returns_markdown_and_metadata(settings: Any) -> None:
    async with mcp_client(settings) as client:
        page = await call(client, "read_page_by_id", {"page_id": "65539"})
    assert page["id"] == "65539" and page["title"] == "Installation Guide" and page["space"] == "DEMO"
    assert page["version"] >= 1 and page["parent_id"] == "65538"
    assert set(page["labels"]) == {"onboarding", "install"}
    assert page["url"].startswith("http://127.0.0.1:") and "/rest/" not in page["url"]
    markdown = page["markdown"]
    assert "```bash\npip install confluence-mcp" in markdown
    assert "[Getting Started](http://127.0.0.1:" in markdown  # page links become web URLs


async def test_read_page_by_id_says_who_created_and_last_changed_the_page(flavor_sandbox: Any, settings: Any) -> None:
    """Author, creation date, last change and its author (mcp-atlassian #607/#1118: agents asked "who owns this,
    is it current?" and got nothing): taken from the page's own history and version, the dates as Confluence
    gives them."""
    with httpx.Client(base_url=flavor_sandbox.base_url + "/rest/api", auth=(USER, TOKEN)) as http:
        page = http.get("/content/65539", params={"expand": "history,version"}).json()
    async with mcp_client(settings) as client:
        read = await call(client, "read_page_by_id", {"page_id": "65539"})
    assert read["created"] == page["history"]["createdDate"] and read["created"]
    assert read["author"] == page["history"]["createdBy"]["displayName"] and read["author"]
    assert read["last_modified"] == page["version"]["when"] and read["last_modified"]
    assert read["last_modified_by"] == page["version"]["by"]["displayName"] and read["last_modified_by"]


@pytest.mark.parametrize("form", ["web", "viewpage", "tiny", "display", "display/", "edit-v2"])
async def test_read_page_by_url_forms(flavor_sandbox: Any, settings: Any, form: str) -> None:
    base = flavor_sandbox.base_url
    ref = {
        "web": web_url(flavor_sandbox, "65539"),
        "viewpage": f"{base}/pages/viewpage.action?pageId=65539",
        "tiny": f"{base}/x/AwAB",
        "display": f"{base}/display/DEMO/Installation+Guide",
        "display/": f"{base}/display/DEMO/Installation+Guide/",
        "edit-v2": f"{base}/spaces/DEMO/pages/edit-v2/65539",
    }[form]
    async with mcp_client(settings) as client:
        page = await call(client, "read_page_by_id", {"page_id": ref})
    assert page["id"] == "65539", ref


def test_tiny_codes_decode_to_ids() -> None:
    assert tiny_code_to_id("AgAB") == "65538"
    assert tiny_code_to_id("DIA5Rw") == "1194950668"


async def test_read_errors_are_actionable(flavor_sandbox: Any, settings: Any) -> None:
    async with mcp_client(settings) as client:
        with pytest.raises(ToolFailed, match=r"404|not found|Not found"):
            await call(client, "read_page_by_id", {"page_id": "999999"})
        with pytest.raises(ToolFailed, match="Cannot find a page id"):
            await call(client, "read_page_by_id", {"page_id": "not a page"})
        with pytest.raises(ToolFailed, match="not on the configured Confluence site"):
            await call(client, "read_page_by_id", {"page_id": "https://evil.example.com/pages/viewpage.action?pageId=1"})
    async with mcp_client(make_settings(flavor_sandbox.base_url, token="wrong")) as client:
        with pytest.raises(ToolFailed, match=r"401|token|auth"):
            await call(client, "read_page_by_id", {"page_id": "65539"})


async def test_pages_outside_allowed_spaces_are_refused(flavor_sandbox: Any) -> None:
    settings = make_settings(flavor_sandbox.base_url, space="DOCS", allowed_spaces=["DOCS"])
    async with mcp_client(settings) as client:
        for tool, args in [("read_page_by_id", {"page_id": "65539"}), ("get_page_tree", {"page_id": "65537"}),
                           ("get_page_attachments", {"page_id": "65539"}),
                           ("get_page_tree", {"space": "DEMO"})]:
            with pytest.raises(ToolFailed, match="outside this toolkit's allowed spaces"):
                await call(client, tool, args)


async def test_page_tree_from_a_page_and_from_a_space(settings: Any) -> None:
    async with mcp_client(settings) as client:
        tree = await call(client, "get_page_tree", {"page_id": "65538"})
        shallow = await call(client, "get_page_tree", {"page_id": "65537", "max_depth": 1})
        space = await call(client, "get_page_tree", {})
    by_id = {n["id"]: n for n in tree["pages"]}
    assert set(by_id) == {"65539", "65540", "65541"}
    assert by_id["65539"]["depth"] == 1 and by_id["65539"]["parent_id"] == "65538"
    assert by_id["65540"]["depth"] == 2 and by_id["65540"]["parent_id"] == "65539"
    assert {n["title"] for n in shallow["pages"]} == {"Getting Started", "Architecture Overview",
                                                      "Team Directory", "Release Notes"}
    assert {n["id"] for n in space["pages"]} >= {"65537", "65538", "65539"}
    root = next(n for n in space["pages"] if n["id"] == "65537")
    assert root["depth"] == 1 and "parent_id" not in root  # None is left out
    assert "note" not in tree


async def test_a_page_without_children_says_so(settings: Any) -> None:
    async with mcp_client(settings) as client:
        leaf = await call(client, "get_page_tree", {"page_id": "65540"})
    assert leaf["pages"] == [] and leaf["note"] == "Page 65540 has no child pages."


async def test_page_tree_uses_few_requests(flavor_sandbox: Any, settings: Any) -> None:
    with httpx.Client(base_url=flavor_sandbox.admin_url) as admin:
        admin.post("/reset-stats")
        async with mcp_client(settings) as client:
            await call(client, "get_page_tree", {"page_id": "65537", "max_depth": 5})
        total = admin.get("/stats").json()["total"]
    # The root, then one CQL listing per level (4 levels, the last empty): never one call per node.
    assert total <= 6, total


async def test_page_attachments_metadata(settings: Any) -> None:
    async with mcp_client(settings) as client:
        pages = [str(i) for i in range(65537, 65546)]
        found = None
        for page_id in pages:
            out = await call(client, "get_page_attachments", {"page_id": page_id, "limit": 1})
            if out["attachments"]:
                found = out
                break
    if found is None:
        pytest.skip("the demo seed has no attachments")
    attachment = found["attachments"][0]
    assert attachment["title"] and attachment["download_url"].startswith("http://127.0.0.1:")


async def test_a_page_version_is_converted_once_and_an_edit_is_read_fresh(settings: Any) -> None:
    from confluence_mcp.tools.content import MARKDOWN_CACHE

    async with mcp_client(settings) as client:
        created = await call(client, "create_page", {"title": f"Cache probe {uuid.uuid4().hex[:8]}",
                                                     "body": "First **version**."})
        before = MARKDOWN_CACHE.info()
        first = await call(client, "read_page_by_id", {"page_id": created["id"]})
        again = await call(client, "read_page_by_id", {"page_id": created["id"]})
        after = MARKDOWN_CACHE.info()
        await call(client, "update_page_by_id", {"page_id": created["id"], "new_body": "Second *version*."})
        edited = await call(client, "read_page_by_id", {"page_id": created["id"]})
        await call(client, "delete_page", {"page_id": created["id"]})
    assert first == again and first["markdown"] == "First **version**."
    assert after.hits == before.hits + 1 and after.misses == before.misses + 1
    assert edited["markdown"] == "Second *version*." and edited["version"] == first["version"] + 1


async def test_cloud_page_reads_fall_back_to_v2_once_v1_is_gone() -> None:
    """A Cloud site answering 410 Gone to v1 GET /content/{id} (deprecated there) is read through REST v2,
    with the same result (all 60 labels too: v2 carries 50 with the page; blog posts too, which v2 serves
    apart); after the first 410 the client goes to v2 directly. Server/DC has no such fallback."""
    from confluence_mcp.sandbox.runner import SandboxOptions, start_sandbox

    for flavor in ("cloud", "server"):
        with start_sandbox(SandboxOptions(flavor=flavor)) as sandbox, \
                httpx.Client(base_url=sandbox.admin_url) as admin, \
                httpx.Client(base_url=sandbox.base_url + "/rest/api", auth=(USER, TOKEN)) as api:
            many = [{"prefix": "global", "name": f"tag-{n:02d}"} for n in range(58)]
            assert api.post("/content/65539/label", json=many).status_code == 200
            settings = make_settings(sandbox.base_url)
            async with mcp_client(settings) as client:
                before = await call(client, "read_page_by_id", {"page_id": "65539"})
                blog_before = await call(client, "read_page_by_id", {"page_id": "65546"})  # a blog post
            admin.post("/faults", json={"fail_next": 100, "status": 410, "match": "/rest/api/content/65539?"})
            admin.post("/reset-stats")
            async with mcp_client(settings) as client:
                if flavor == "server":
                    with pytest.raises(ToolFailed, match="410"):
                        await call(client, "read_page_by_id", {"page_id": "65539"})
                    continue
                after = [await call(client, "read_page_by_id", {"page_id": "65539"}) for _ in range(2)]
                blog_after = await call(client, "read_page_by_id", {"page_id": "65546"})
            routes = admin.get("/stats").json()["by_route"]
        assert len(before["labels"]) == 60
        assert after == [before, before] and blog_after == blog_before
        assert routes["GET /wiki/rest/api/content/{id}"] == 1  # the 410, once
        assert routes["GET /wiki/api/v2/pages/{id}/ancestors"] == 2
        assert routes["GET /wiki/api/v2/pages/{id}"] == 3 and routes["GET /wiki/api/v2/blogposts/{id}"] == 1


async def test_attachment_pages_keep_their_filters(flavor_sandbox: Any, settings: Any) -> None:
    with httpx.Client(base_url=flavor_sandbox.base_url.rstrip("/") + "/rest/api", auth=(USER, TOKEN)) as http:
        page = http.post("/content", json={"type": "page", "title": f"Files {uuid.uuid4().hex[:8]}",
                                           "space": {"key": "DEMO"}}).json()
        for name in ("a.png", "b.png", "c.txt"):
            http.post(f"/content/{page['id']}/child/attachment", files={"file": (name, b"x", None)},
                      headers={"X-Atlassian-Token": "no-check"}).raise_for_status()
    async with mcp_client(settings) as client:
        first = await call(client, "get_page_attachments", {"page_id": page["id"], "limit": 1,
                                                              "media_type": "image/png"})
        rest = await call(client, "get_page_attachments", {"page_id": page["id"], "limit": 5,
                                                             "media_type": "image/png", "cursor": first["next"]})
        assert [a["title"] for a in first["attachments"] + rest["attachments"]] == ["a.png", "b.png"]
        # A filter the cursor was not issued for would be ignored: refused instead of answering c.txt.
        with pytest.raises(ToolFailed, match="other filters"):
            await call(client, "get_page_attachments", {"page_id": page["id"], "cursor": first["next"],
                                                        "media_type": "text/plain"})


async def test_mentions_read_as_display_names_and_write_back_as_ids(flavor_sandbox: Any) -> None:
    async with mcp_client(make_settings(flavor_sandbox.base_url)) as client:
        home = await call(client, "read_page_by_id", {"page_id": "65537"})
        owner = next(line for line in home["markdown"].splitlines() if line.startswith("Owner:"))
        assert owner.startswith("Owner: [@Alice Example](confluence-user")  # a name, not an account id
        scheme = next(s for s in USER_SCHEMES if f"]({s}" in owner)
        ident = owner.split(f"]({scheme}", 1)[1].rstrip(")")
        unknown = '<ac:link><ri:user ri:account-id="no-such-user"/></ac:link>' if "account" in scheme else \
            '<ac:link><ri:user ri:userkey="no-such-user"/></ac:link>'
        page = await call(client, "create_page", {"title": f"Mentions {uuid.uuid4().hex[:8]}", "body_format": "storage",
                                                  "body": f"<p>Ask {owner_storage(scheme, ident)} or {unknown}.</p>"})
        read = await call(client, "read_page_by_id", {"page_id": page["id"]})
        assert "[@Alice Example]" in read["markdown"] and "[@no-such-user]" in read["markdown"]  # unknown: the id
        same = await call(client, "update_page_by_id", {"page_id": page["id"], "new_body": read["markdown"]})
        assert "No change" in same["note"]
        await call(client, "delete_page", {"page_id": page["id"], "purge": True})  # the shared sandbox's tree stays


def owner_storage(scheme: str, ident: str) -> str:
    return f'<ac:link><ri:user {USER_SCHEMES[scheme]}="{ident}"/></ac:link>'
