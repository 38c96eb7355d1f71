"""Labels, attachments (multipart upload, XSRF, duplicates, versions, downloads), spaces and users."""

from __future__ import annotations

import uuid

import httpx
from sandbox_helpers import message, new_page, page_id

from confluence_mcp.sandbox.runner import RunningSandbox

XSRF = {"X-Atlassian-Token": "no-check"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def fresh_page(client: httpx.Client) -> str:
    return str(new_page(client, f"Scratch {uuid.uuid4().hex[:8]}")["id"])


def test_labels_add_list_delete(client: httpx.Client) -> None:
    cid = fresh_page(client)
    added = client.post(f"/rest/api/content/{cid}/label",
                        json=[{"prefix": "global", "name": "alpha"}, {"prefix": "global", "name": "beta"}])
    assert added.status_code == 200 and {lb["name"] for lb in added.json()["results"]} == {"alpha", "beta"}
    single = client.post(f"/rest/api/content/{cid}/label", json={"prefix": "global", "name": "gamma"})
    assert single.json()["size"] == 3  # POST merges, never replaces
    listing = client.get(f"/rest/api/content/{cid}/label").json()
    assert listing["limit"] == 200 and listing["results"][0]["label"] == listing["results"][0]["name"]
    assert client.delete(f"/rest/api/content/{cid}/label/alpha").status_code == 204
    assert client.delete(f"/rest/api/content/{cid}/label", params={"name": "beta"}).status_code == 204
    assert [lb["name"] for lb in client.get(f"/rest/api/content/{cid}/label").json()["results"]] == ["gamma"]
    assert client.delete(f"/rest/api/content/{cid}/label/missing").status_code == 404
    assert client.delete(f"/rest/api/content/{cid}/label/a/b").status_code == 400  # use ?name= for "/"
    assert client.post(f"/rest/api/content/{cid}/label", json=[{"name": "two words"}]).status_code == 400
    hits = client.get("/rest/api/content/search", params={"cql": f"label = gamma and id = {cid}"}).json()
    assert hits["size"] == 1  # label changes reach the search index


def test_upload_requires_xsrf_header(client: httpx.Client) -> None:
    cid = fresh_page(client)
    response = client.post(f"/rest/api/content/{cid}/child/attachment", files={"file": ("a.txt", b"x")})
    assert response.status_code == 403 and "XSRF check failed" in message(response)
    legacy = client.post(f"/rest/api/content/{cid}/child/attachment", files={"file": ("a.txt", b"x")},
                         headers={"X-Atlassian-Token": "nocheck"})
    assert legacy.status_code == 200


def test_upload_duplicate_new_version_and_download(client: httpx.Client, sandbox: RunningSandbox) -> None:
    cid = fresh_page(client)
    url = f"/rest/api/content/{cid}/child/attachment"
    first = client.post(url, files={"file": ("notes.txt", b"v1", "text/plain")}, data={"comment": "first"},
                        headers=XSRF)
    assert first.status_code == 200, first.text
    attachment = first.json()["results"][0]
    att_id = attachment["id"]
    assert attachment["title"] == "notes.txt" and attachment["extensions"]["fileSize"] == 2
    assert attachment["metadata"]["mediaType"] == "text/plain"
    assert att_id.startswith("att") == (sandbox.options.flavor == "cloud")
    duplicate = client.post(url, files={"file": ("notes.txt", b"again")}, headers=XSRF)
    assert duplicate.status_code == 400
    assert "Cannot add a new attachment with same file name as an existing attachment: notes.txt" in message(
        duplicate)
    second = client.post(f"{url}/{att_id}/data", files={"file": ("notes.txt", b"v2-data")}, headers=XSRF)
    assert second.status_code == 200 and second.json()["version"]["number"] == 2
    third = client.put(url, files={"file": ("notes.txt", b"v3")}, headers=XSRF)
    assert third.json()["results"][0]["version"]["number"] == 3
    listing = client.get(url, params={"filename": "notes.txt"}).json()
    assert listing["size"] == 1
    download = listing["results"][0]["_links"]["download"]
    assert download.startswith(f"/download/attachments/{cid}/notes.txt")
    binary = client.get(sandbox.base_url + download)  # relative to _links.base
    if sandbox.options.flavor == "server":
        assert binary.status_code == 200 and binary.content == b"v3"
        assert client.get(sandbox.base_url + f"/download/attachments/{cid}/notes.txt?version=1").content == b"v1"
    else:  # Cloud no longer serves this browser path to API tokens: the REST endpoint redirects to the media host
        assert binary.status_code == 401 and binary.headers["www-authenticate"].startswith("OAuth realm=")
        redirect = client.get(f"{url}/{att_id}/download", follow_redirects=False)
        media = redirect.headers["location"]
        assert redirect.status_code == 302 and media.startswith("/__media__/")
        assert httpx.get(sandbox.origin + media).content == b"v3"  # signed: no credentials needed
        assert httpx.get(sandbox.origin + media.replace("token=", "token=x")).status_code == 401
        assert client.get(f"{url}/{att_id}/download", params={"version": 1}, follow_redirects=True).content == b"v1"
        assert client.get(f"{url}/{att_id}/download", follow_redirects=True).content == b"v3"
    assert client.get(f"/rest/api/content/{att_id}").json()["type"] == "attachment"
    assert client.delete(f"/rest/api/content/{att_id}").status_code == 204
    assert client.get(url).json()["size"] == 0


def test_attachment_pagination_and_media_type_filter(client: httpx.Client) -> None:
    cid = fresh_page(client)
    url = f"/rest/api/content/{cid}/child/attachment"
    files = [("file", (f"f{i}.txt", b"x", "text/plain")) for i in range(5)]
    files.append(("file", ("pic.png", PNG_MAGIC, "image/png")))
    assert client.post(url, files=files, headers=XSRF).json()["size"] == 6
    seen, next_url = [], f"{url}?limit=4"
    while next_url:
        page = client.get(next_url).json()
        seen += [a["title"] for a in page["results"]]
        next_url = page["_links"].get("next")
    assert len(seen) == 6 and len(set(seen)) == 6
    only_png = client.get(url, params={"mediaType": "image/png"}).json()
    assert [a["title"] for a in only_png["results"]] == ["pic.png"]


def test_demo_images_are_real_pngs(client: httpx.Client, sandbox: RunningSandbox) -> None:
    home = page_id(client, "Demo Home")
    attachment = client.get(f"/rest/api/content/{home}/child/attachment").json()["results"][0]
    rest = client.get(f"/rest/api/content/{home}/child/attachment/{attachment['id']}/download",
                      follow_redirects=True)
    if sandbox.options.flavor == "server":  # the REST download is Cloud's; Server/DC serves the web link only
        assert rest.status_code == 404
        rest = client.get(sandbox.base_url + attachment["_links"]["download"])
    data = rest.content
    assert data.startswith(PNG_MAGIC) and b"IHDR" in data[:20] and data.endswith(b"IEND\xaeB`\x82")
    view = client.get(f"/rest/api/content/{home}", params={"expand": "body.view"}).json()
    assert "sandbox-logo.png" in view["body"]["view"]["value"]


def test_spaces(client: httpx.Client, sandbox: RunningSandbox) -> None:
    spaces = client.get("/rest/api/space").json()
    keys = [s["key"] for s in spaces["results"]]
    assert keys == sorted(keys) and "DEMO" in keys
    demo = client.get("/rest/api/space/DEMO", params={"expand": "homepage,description.plain"}).json()
    assert demo["homepage"]["title"] == "Demo Home" and demo["description"]["plain"]["value"]
    assert isinstance(demo["id"], int)
    assert client.get("/rest/api/space", params={"spaceKey": "DEMO"}).json()["size"] == 1
    missing = client.get("/rest/api/space/NOPE")
    assert missing.status_code == 404 and "No space with key : NOPE" in message(missing)
    content = client.get("/rest/api/space/DEMO/content").json()
    assert content["page"]["size"] >= 5 and content["blogpost"]["size"] == 1
    roots = client.get("/rest/api/space/DEMO/content/page", params={"depth": "root"}).json()
    assert [r["title"] for r in roots["results"]] == ["Demo Home"] or "Demo Home" in {
        r["title"] for r in roots["results"]}


def test_users(client: httpx.Client, sandbox: RunningSandbox) -> None:
    me = client.get("/rest/api/user/current").json()
    if sandbox.options.flavor == "cloud":
        assert me["accountId"] and me["email"] == "sandbox@example.com"
        other = client.get("/rest/api/user", params={"accountId": "557058:alice-0002"}).json()
    else:
        assert me["username"] == "sandbox" and me["userKey"]
        other = client.get("/rest/api/user", params={"username": "alice"}).json()
    assert other["displayName"] == "Alice Example"
    assert client.get("/rest/api/user", params={"username": "nobody"}).status_code == 404


def test_comments_and_replies(client: httpx.Client) -> None:
    cid = fresh_page(client)

    def comment(text: str, reply_to: str | None = None) -> dict:
        body = {"type": "comment", "container": {"id": cid, "type": "page"},
                "body": {"storage": {"value": f"<p>{text}</p>", "representation": "storage"}}}
        if reply_to:
            body["ancestors"] = [{"id": reply_to}]
        response = client.post("/rest/api/content", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    first = comment("First thought")
    reply = comment("A reply", reply_to=first["id"])
    assert first["type"] == "comment" and first["title"].startswith("Re: ")
    assert "focusedCommentId" in first["_links"]["webui"]
    top = client.get(f"/rest/api/content/{cid}/child/comment").json()["results"]
    every = client.get(f"/rest/api/content/{cid}/child/comment",
                       params={"depth": "all", "expand": "body.storage,history,container"}).json()["results"]
    assert [c["id"] for c in top] == [first["id"]] and [c["id"] for c in every] == [first["id"], reply["id"]]
    assert every[1]["body"]["storage"]["value"] == "<p>A reply</p>" and every[1]["container"]["id"] == cid
    assert every[0]["history"]["createdBy"]["displayName"]
    found = client.get("/rest/api/content/search",
                       params={"cql": f'container = "{cid}" and type = comment'}).json()["results"]
    assert sorted(c["id"] for c in found) == sorted([first["id"], reply["id"]])
    assert client.get(f"/rest/api/content/{cid}/child/page").json()["results"] == []  # comments are not pages
    for bad in ({"container": {"id": cid}, "ancestors": [{"id": "1"}]},  # replying to nothing
                {"container": {"id": cid}, "ancestors": [{}]}, {"container": cid}):
        body = {"type": "comment", "body": {"storage": {"value": "<p>x</p>", "representation": "storage"}}, **bad}
        assert client.post("/rest/api/content", json=body).status_code in (400, 404)
    empty = client.post("/rest/api/content", json={"type": "comment", "container": {"id": cid}, "body": {}})
    assert empty.status_code == 400


def test_comments_follow_their_page(client: httpx.Client) -> None:
    cid = fresh_page(client)
    made = [client.post("/rest/api/content", json={
        "type": "comment", "container": {"id": cid, "type": "page"},
        "body": {"storage": {"value": f"<p>note {n}</p>", "representation": "storage"}}}).json() for n in (1, 2)]
    for comment in made:  # two comments share their "Re: <page>" title: editing them is no title clash
        edited = client.put(f"/rest/api/content/{comment['id']}", json={
            "type": "comment", "title": comment["title"], "version": {"number": 2},
            "body": {"storage": {"value": "<p>edited</p>", "representation": "storage"}}})
        assert edited.status_code == 200, edited.text
    assert client.put(f"/rest/api/content/{made[0]['id']}/move/append/{cid}").status_code == 400
    kinds = client.get(f"/rest/api/content/{cid}", params={"expand": "childTypes.all,children.comment"}).json()
    assert kinds["childTypes"]["comment"]["value"] is True and len(kinds["children"]["comment"]["results"]) == 2

    def listed() -> int:
        cql = f"container = {cid} and type = comment"
        return int(client.get("/rest/api/content/search", params={"cql": cql}).json()["size"])

    assert listed() == 2
    assert client.delete(f"/rest/api/content/{cid}").status_code == 204
    assert listed() == 0  # trashed with the page
    restored = client.put(f"/rest/api/content/{cid}", params={"status": "current"}, json={
        "type": "page", "title": kinds["title"], "version": {"number": 2}, "status": "current"})
    assert restored.status_code == 200 and listed() == 2
    client.delete(f"/rest/api/content/{cid}")
    assert client.delete(f"/rest/api/content/{cid}", params={"status": "trashed"}).status_code == 204
    assert listed() == 0 and client.get(f"/rest/api/content/{made[0]['id']}").status_code == 404
