"""read_page_by_id with include_comments: a page's comments and replies, oldest first, as markdown, bounded; none
(and no request for them) unless asked. Against the sandbox over HTTP, both flavours, and a Cloud site whose v1
comment listing is gone (CQL stand-in)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from _mcp_fixtures import TOKEN, USER, ToolFailed, call, make_settings, mcp_client

from confluence_mcp.sandbox.runner import SandboxOptions, start_sandbox
from confluence_mcp.tools.comments import COMMENT_CHARS, MAX_COMMENTS, comment_entry, oldest_first

pytestmark = pytest.mark.anyio

ALICE = "557058:alice-0002"  # the demo seed's Alice Example (account id; user key 8a7f8081alice0002)
COMMENT_ROUTE = "GET /wiki/rest/api/content/{id}/child/comment"


@pytest.fixture
def rest(flavor_sandbox: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=flavor_sandbox.base_url + "/rest/api", auth=(USER, TOKEN), timeout=30) as http:
        yield http


def new_page(http: httpx.Client, body: str = "<p>Draft for review.</p>") -> str:
    page = http.post("/content", json={"type": "page", "title": f"Reviewed {uuid.uuid4().hex[:8]}",
                                       "space": {"key": "DEMO"},
                                       "body": {"storage": {"value": body, "representation": "storage"}}})
    page.raise_for_status()
    return str(page.json()["id"])


def purge(http: httpx.Client, page_id: str) -> None:
    """The page and its comments leave the shared sandbox (its page-tree tests count pages)."""
    http.delete(f"/content/{page_id}").raise_for_status()
    http.delete(f"/content/{page_id}", params={"status": "trashed"}).raise_for_status()


def add_comment(http: httpx.Client, page_id: str, storage: str, reply_to: str | None = None) -> str:
    payload: dict[str, Any] = {"type": "comment", "container": {"id": page_id, "type": "page"},
                               "body": {"storage": {"value": storage, "representation": "storage"}}}
    if reply_to:
        payload["ancestors"] = [{"id": reply_to}]
    created = http.post("/content", json=payload)
    created.raise_for_status()
    return str(created.json()["id"])


def mention_alice(flavor: str) -> str:
    ident = f'ri:account-id="{ALICE}"' if flavor == "cloud" else 'ri:userkey="8a7f8081alice0002"'
    return f"<ac:link><ri:user {ident}/></ac:link>"


def requests_log(sandbox: Any) -> list[dict[str, Any]]:
    return list(httpx.get(f"{sandbox.admin_url}/requests", timeout=10).json()["requests"])


def reset_log(sandbox: Any) -> None:
    httpx.post(f"{sandbox.admin_url}/reset-requests", timeout=10).raise_for_status()


def comment_requests(sandbox: Any) -> list[str]:
    return [r["path"] for r in requests_log(sandbox) if "/child/comment" in r["path"]
            or any(k == "cql" and "container" in v for k, v in r["query"])]


async def test_comments_and_replies_come_oldest_first_with_authors_and_markdown(flavor_sandbox: Any,
                                                                               rest: httpx.Client) -> None:
    me = rest.get("/user/current").json()["displayName"]
    page_id = new_page(rest)
    try:
        first = add_comment(rest, page_id, f"<p>Please check this with {mention_alice(flavor_sandbox.options.flavor)}."
                                           "</p>")
        second = flavor_sandbox.store.add_comment(page_id, "<p>Looks <strong>good</strong> to me.</p>",
                                                  author=ALICE).id
        reply = add_comment(rest, page_id, "<ul><li>done</li><li>and <code>tested</code></li></ul>", reply_to=first)
        async with mcp_client(make_settings(flavor_sandbox.base_url)) as client:
            plain = await call(client, "read_page_by_id", {"page_id": page_id})
            read = await call(client, "read_page_by_id", {"page_id": page_id, "include_comments": True})
    finally:
        purge(rest, page_id)
    assert "comments" not in plain and "note" not in read
    assert read["markdown"] == plain["markdown"] == "Draft for review."
    comments = read["comments"]
    assert [c["id"] for c in comments] == [first, second, reply]
    assert [c["author"] for c in comments] == [me, "Alice Example", me]
    assert comments[0]["markdown"].startswith("Please check this with [@Alice Example](")  # a name, not an id
    assert comments[1]["markdown"] == "Looks **good** to me."
    assert comments[2]["markdown"] == "- done\n- and `tested`"
    assert "reply_to" not in comments[0] and "reply_to" not in comments[1] and comments[2]["reply_to"] == first
    assert all(c["created"] for c in comments)
    assert not any({"location", "resolved"} & set(c) for c in comments)  # footer comments


async def test_comments_cost_nothing_unless_asked_and_follow_the_space_policy(flavor_sandbox: Any) -> None:
    reset_log(flavor_sandbox)
    async with mcp_client(make_settings(flavor_sandbox.base_url)) as client:
        plain = await call(client, "read_page_by_id", {"page_id": "65539"})
        assert "comments" not in plain and not comment_requests(flavor_sandbox)
        none = await call(client, "read_page_by_id", {"page_id": "65539", "include_comments": True})
    assert none["comments"] == [] and none["markdown"] == plain["markdown"]
    assert len(comment_requests(flavor_sandbox)) == 1
    reset_log(flavor_sandbox)
    outside = make_settings(flavor_sandbox.base_url, space="DOCS", allowed_spaces=["DOCS"])
    async with mcp_client(outside) as client:
        with pytest.raises(ToolFailed, match="outside this toolkit's allowed spaces"):
            await call(client, "read_page_by_id", {"page_id": "65539", "include_comments": True})
    assert not comment_requests(flavor_sandbox)


async def test_many_and_long_comments_are_capped_with_a_note(flavor_sandbox: Any, rest: httpx.Client) -> None:
    paragraphs = "".join(f"<p>Point {n}: " + "detail " * 30 + "</p>" for n in range(40))  # ~9,000 characters
    page_id = new_page(rest, paragraphs)
    store = flavor_sandbox.store
    try:
        long_one = store.add_comment(page_id, paragraphs).id
        for n in range(MAX_COMMENTS + 2):
            store.add_comment(page_id, f"<p>Note {n}</p>")
        async with mcp_client(make_settings(flavor_sandbox.base_url)) as client:
            read = await call(client, "read_page_by_id", {"page_id": page_id, "include_comments": True,
                                                          "max_chars": 2000})
            later = await call(client, "read_page_by_id", {"page_id": page_id, "include_comments": True,
                                                           "max_chars": 2000, "offset": read["next_offset"]})
    finally:
        purge(rest, page_id)
    comments = read["comments"]
    assert len(comments) == MAX_COMMENTS and comments[0]["id"] == long_one
    assert comments[-1]["markdown"] == f"Note {MAX_COMMENTS - 2}"  # the oldest are kept
    cut, marker = comments[0]["markdown"].split("\n\n[Comment cut: ")
    assert len(cut) <= COMMENT_CHARS and cut.endswith("detail") and marker.endswith("characters shown.]")
    assert "offset=" in read["note"] and "newer ones were left out" in read["note"]  # both notes
    assert "comments" not in later and "Comments come with the first part" in later["note"]
    assert "part" in later["note"].split("Comments")[0]  # the part note stays first


async def test_comments_are_listed_by_cql_once_the_v1_listing_is_gone() -> None:
    """A Cloud site answering 410 to v1 `child/comment` (deprecated there): the same comments come from CQL
    `container = id`, and the gone listing is asked once."""
    with start_sandbox(SandboxOptions(flavor="cloud")) as sandbox, \
            httpx.Client(base_url=sandbox.base_url + "/rest/api", auth=(USER, TOKEN), timeout=30) as http:
        page_id = new_page(http)
        first = add_comment(http, page_id, f"<p>Ask {mention_alice('cloud')}</p>")
        add_comment(http, page_id, "<p>Asked.</p>", reply_to=first)
        settings = make_settings(sandbox.base_url)
        async with mcp_client(settings) as client:
            before = await call(client, "read_page_by_id", {"page_id": page_id, "include_comments": True})
        httpx.post(f"{sandbox.admin_url}/faults", json={"fail_next": 100, "status": 410, "routes": [COMMENT_ROUTE]},
                   timeout=10).raise_for_status()
        httpx.post(f"{sandbox.admin_url}/reset-stats", timeout=10).raise_for_status()
        async with mcp_client(settings) as client:
            after = [await call(client, "read_page_by_id", {"page_id": page_id, "include_comments": True})
                     for _ in range(2)]
        routes = httpx.get(f"{sandbox.admin_url}/stats", timeout=10).json()["by_route"]
    assert after == [before, before] and len(before["comments"]) == 2
    assert before["comments"][0]["markdown"].startswith("Ask [@Alice Example](")
    assert before["comments"][1]["reply_to"] == first
    assert routes[COMMENT_ROUTE] == 1 and routes["GET /wiki/rest/api/content/search"] == 2


def test_inline_comments_carry_location_selection_and_state() -> None:
    """Real Cloud v1 lists inline comments with the footer ones, `extensions.location = "inline"` (the public
    fixture the reference cites, mcp-atlassian tests/fixtures/confluence_mocks.py), the highlighted text and the
    thread's state in the expanded `inlineProperties` and `resolution`. The sandbox has no inline comments."""
    listed = {"id": "456789123", "type": "comment", "history": {"createdDate": "2024-01-01T10:00:00.000Z"},
              "ancestors": [],
              "extensions": {"location": "inline",
                             "inlineProperties": {"markerRef": "abc", "originalSelection": "the retry policy"},
                             "resolution": {"status": "resolved"}}}
    entry = comment_entry(listed, "123456789", "John Doe", "Why 3?")
    assert entry.model_dump(exclude_none=True) == {
        "id": "456789123", "author": "John Doe", "created": "2024-01-01T10:00:00.000Z",
        "markdown": "> the retry policy\n\nWhy 3?", "location": "inline", "resolved": True}
    unexpanded = comment_entry({**listed, "extensions": {"location": "inline", "_expandable": {
        "inlineProperties": "", "resolution": ""}}}, "123456789", None, "Why?")
    assert unexpanded.markdown == "Why?" and unexpanded.location == "inline" and unexpanded.resolved is None
    reopened = comment_entry({**listed, "extensions": {**listed["extensions"], "resolution": {"status": "reopened"}},
                              "ancestors": [{"id": "456789000", "type": "comment"}]}, "123456789", None, "Still?")
    assert reopened.resolved is False and reopened.reply_to == "456789000"


def test_comments_sort_by_creation_time_across_offsets() -> None:
    utc = {"id": "1", "history": {"createdDate": "2025-05-05T14:00:00.000Z"}}
    offset = {"id": "2", "history": {"createdDate": "2025-05-05T15:05:36.632+02:00"}}  # DC style: 13:05 UTC
    undated = {"id": "3"}
    assert [c["id"] for c in oldest_first([utc, offset])] == ["2", "1"]
    assert [c["id"] for c in oldest_first([utc, undated, offset])] == ["1", "3", "2"]  # the listing's order kept


async def test_a_draft_reads_with_no_comments_instead_of_failing(flavor_sandbox: Any, rest: httpx.Client) -> None:
    """An unpublished page has no comments, and Confluence answers 404 to its comment listing: the read still
    returns the draft (with no comments), without asking for them."""
    created = rest.post("/content", json={"type": "page", "status": "draft", "title": f"Draft {uuid.uuid4().hex[:8]}",
                                           "space": {"key": "DEMO"},
                                           "body": {"storage": {"value": "<p>Unpublished.</p>",
                                                                "representation": "storage"}}})
    created.raise_for_status()
    draft_id = str(created.json()["id"])
    reset_log(flavor_sandbox)
    try:
        async with mcp_client(make_settings(flavor_sandbox.base_url)) as client:
            read = await call(client, "read_page_by_id", {"page_id": draft_id, "include_comments": True})
    finally:
        rest.delete(f"/content/{draft_id}", params={"status": "draft"}).raise_for_status()
    assert read["status"] == "draft" and read["markdown"] == "Unpublished." and read["comments"] == []
    assert not comment_requests(flavor_sandbox)



def test_a_broken_comment_body_does_not_hide_the_others() -> None:
    """Confluence validates on save, but imported or old comments may hold broken XML (the sandbox refuses to store
    such a body, so this converts directly)."""
    from confluence_mcp.tools.comments import _convert_all

    broken, fine = _convert_all(["<p>Broken <b>markup</p>", "<p>Fine.</p>"], [(), ()], "https://x.test/wiki",
                                "DEMO", "1")
    assert "not well-formed XML" in broken and fine == "Fine."
