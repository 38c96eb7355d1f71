"""v1 content endpoints in both flavours: reads with expand, writes and their Confluence rules."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
from sandbox_helpers import message, new_page, page_id

from confluence_mcp.sandbox.runner import RunningSandbox


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def test_get_content_default_expansions_and_links(client: httpx.Client, sandbox: RunningSandbox) -> None:
    home = page_id(client, "Demo Home")
    data = client.get(f"/rest/api/content/{home}").json()
    assert {"space", "history", "version"} <= data.keys()
    assert "body" not in data and data["_expandable"]["body"] == ""
    links = data["_links"]
    assert links["base"] == sandbox.base_url
    if sandbox.options.flavor == "cloud":
        assert links["context"] == "/wiki"
        assert links["webui"] == f"/spaces/DEMO/pages/{home}/Demo+Home"
        assert "accountId" in data["version"]["by"] and data["version"]["when"].endswith("Z")
    else:
        assert links["context"] == "/confluence"
        assert links["webui"] == "/display/DEMO/Demo+Home"
        assert "username" in data["version"]["by"] and data["version"]["when"].endswith("+00:00")
    assert client.get(links["tinyui"].replace("/x/", "/x/"), follow_redirects=False).status_code == 302


def test_expand_everything(client: httpx.Client) -> None:
    install = page_id(client, "Installation Guide")
    expand = "body.storage,body.view,ancestors,metadata.labels,children.page,children.attachment,history,space"
    data = client.get(f"/rest/api/content/{install}", params={"expand": expand}).json()
    assert [a["title"] for a in data["ancestors"]] == ["Demo Home", "Getting Started"]
    assert "ac:structured-macro" in data["body"]["storage"]["value"]
    assert data["body"]["storage"]["representation"] == "storage"
    view = data["body"]["view"]["value"]
    assert "ac:structured-macro" not in view and "pip install" in view
    assert {lb["name"] for lb in data["metadata"]["labels"]["results"]} == {"onboarding", "install"}
    assert [c["title"] for c in data["children"]["page"]["results"]] == ["Troubleshooting"]
    assert data["children"]["attachment"]["results"][0]["title"] == "install-notes.txt"
    assert data["history"]["createdBy"]["displayName"]


def test_too_many_expansions_is_400(client: httpx.Client) -> None:
    home = page_id(client, "Demo Home")
    expand = ",".join(["space", "version", "history", "ancestors", "body.storage", "body.view",
                       "metadata.labels", "children.page", "children.attachment"])
    response = client.get(f"/rest/api/content/{home}", params={"expand": expand})
    assert response.status_code == 400
    assert "sub-expansions" in message(response)


def test_missing_content_is_404_in_flavour_envelope(client: httpx.Client, sandbox: RunningSandbox) -> None:
    response = client.get("/rest/api/content/999999999")
    assert response.status_code == 404
    body = response.json()
    assert body["statusCode"] == 404 and "No content found with id" in body["message"]
    if sandbox.options.flavor == "server":
        assert body["reason"] == "Not Found" and body["data"]["allowedInReadOnlyMode"] is True
    else:
        assert body["message"].startswith("com.atlassian.confluence.api.service.exceptions.NotFoundException")


def test_unparseable_id_is_400(client: httpx.Client) -> None:
    response = client.get("/rest/api/content/not-a-number")
    assert response.status_code == 400 and "ContentId" in message(response)


def test_list_content_filters_and_pagination_walk(client: httpx.Client, sandbox: RunningSandbox) -> None:
    exact = client.get("/rest/api/content", params={"spaceKey": "DEMO", "title": "Configuration"}).json()
    assert [r["title"] for r in exact["results"]] == ["Configuration"]
    assert client.get("/rest/api/content", params={"spaceKey": "DEMO", "title": "configuration"}).json()[
        "size"] == 0  # title match is case-sensitive
    blog = client.get("/rest/api/content", params={"spaceKey": "DEMO", "type": "blogpost"}).json()
    assert [r["title"] for r in blog["results"]] == ["Welcome to the sandbox"]
    seen: list[str] = []
    url: str | None = "/rest/api/content?spaceKey=DEMO&limit=2"
    pages = 0
    while url:
        data = client.get(url).json()
        assert data["size"] == len(data["results"]) <= 2
        seen += [r["id"] for r in data["results"]]
        url = data["_links"].get("next")
        pages += 1
    everything = client.get("/rest/api/content", params={"spaceKey": "DEMO", "limit": 100}).json()
    assert seen == [r["id"] for r in everything["results"]] and pages == (len(seen) + 1) // 2
    assert "next" not in everything["_links"]


def test_create_update_versions_and_history(client: httpx.Client) -> None:
    parent = page_id(client, "Getting Started")
    title = unique("Created")
    created = new_page(client, title, "<p>one</p>", parent=parent)
    cid = created["id"]
    assert created["version"]["number"] == 1 and created["body"]["storage"]["value"] == "<p>one</p>"
    full = client.get(f"/rest/api/content/{cid}", params={"expand": "ancestors"}).json()
    assert full["ancestors"][-1]["id"] == parent
    update = {"type": "page", "title": title, "version": {"number": 2, "message": "second"},
              "body": {"storage": {"value": "<p>two</p>", "representation": "storage"}}}
    response = client.put(f"/rest/api/content/{cid}", json=update)
    assert response.status_code == 200 and response.json()["version"]["number"] == 2
    stale = client.put(f"/rest/api/content/{cid}", json=update)
    assert stale.status_code == 409
    assert "Version must be incremented on update. Current version is: 2" in message(stale)
    same = {**update, "version": {"number": 3}}
    assert client.put(f"/rest/api/content/{cid}", json=same).json()["version"]["number"] == 2  # no-op
    old = client.get(f"/rest/api/content/{cid}", params={"version": 1, "expand": "body.storage"}).json()
    assert old["body"]["storage"]["value"] == "<p>one</p>"
    versions = client.get(f"/rest/api/content/{cid}/version").json()
    assert [v["number"] for v in versions["results"]] == [2, 1]
    assert client.get(f"/rest/api/content/{cid}/version/1").json()["number"] == 1
    assert client.get(f"/rest/api/content/{cid}/history").json()["latest"] is True


def test_nested_tasks_in_the_editors_shape_are_stored_verbatim(client: httpx.Client) -> None:
    # A task list nested beside its parent task, as Server (newlines) and Cloud (uuids, list ids) store it.
    fixtures = Path(__file__).parents[1] / "fixtures" / "storage"
    for name in ("42_server_nested_tasks.xml", "43_cloud_nested_tasks.xml"):
        storage = (fixtures / name).read_text(encoding="utf-8")
        created = new_page(client, unique("Nested tasks"), storage)
        data = client.get(f"/rest/api/content/{created['id']}", params={"expand": "body.storage,body.view"}).json()
        assert created["body"]["storage"]["value"] == data["body"]["storage"]["value"] == storage
        assert '<ul class="inline-task-list"><li class="checked">☑ ' in data["body"]["view"]["value"]


def test_move_by_ancestors(client: httpx.Client) -> None:
    first, second = page_id(client, "Getting Started"), page_id(client, "Architecture Overview")
    title = unique("Mover")
    cid = new_page(client, title, parent=first)["id"]
    moved = client.put(f"/rest/api/content/{cid}", json={"type": "page", "title": title, "version": {
        "number": 2}, "ancestors": [{"id": second}]})
    assert moved.status_code == 200
    kids = client.get(f"/rest/api/content/{second}/child/page", params={"limit": 100}).json()
    assert cid in [k["id"] for k in kids["results"]]


def test_move_before_after_append(client: httpx.Client) -> None:
    parent = new_page(client, unique("Move parent"))["id"]
    a, b, c = (new_page(client, unique(name), parent=parent)["id"] for name in ("A", "B", "C"))

    def order() -> list[str]:
        kids = client.get(f"/rest/api/content/{parent}/child/page").json()["results"]
        return [k["id"] for k in kids]

    assert order() == [a, b, c]
    assert client.put(f"/rest/api/content/{c}/move/before/{a}").json() == {"pageId": c}
    assert order() == [c, a, b]
    client.put(f"/rest/api/content/{c}/move/after/{b}")
    assert order() == [a, b, c]
    client.put(f"/rest/api/content/{a}/move/append/{b}")
    assert order() == [b, c]
    assert client.get(f"/rest/api/content/{a}", params={"expand": "ancestors"}).json()["ancestors"][-1]["id"] == b
    assert client.put(f"/rest/api/content/{b}/move/append/{a}").status_code == 400  # a cycle
    assert client.put(f"/rest/api/content/{b}/move/sideways/{c}").status_code == 400


def test_duplicate_title_is_400_case_insensitive(client: httpx.Client) -> None:
    response = client.post("/rest/api/content", json={
        "type": "page", "title": "demo HOME", "space": {"key": "DEMO"},
        "body": {"storage": {"value": "<p>x</p>", "representation": "storage"}}})
    assert response.status_code == 400
    assert ("A page with this title already exists: A page already exists with the title demo HOME in the "
            "space with key DEMO") in message(response)


def test_malformed_bodies_are_400(client: httpx.Client) -> None:
    assert client.post("/rest/api/content", content=b"{not json").status_code == 400
    assert client.post("/rest/api/content", json={"type": "page", "title": "x", "space": "DEMO"}).status_code == 400
    assert client.post("/rest/api/content", json=["a"]).status_code == 400
    home = page_id(client, "Demo Home")
    assert client.put(f"/rest/api/content/{home}", json={"title": "Demo Home", "version": 2}).status_code == 400


def test_invalid_storage_is_400(client: httpx.Client) -> None:
    response = client.post("/rest/api/content", json={
        "type": "page", "title": unique("Broken"), "space": {"key": "DEMO"},
        "body": {"storage": {"value": "<p><strong>bad</p>", "representation": "storage"}}})
    assert response.status_code == 400
    assert "Error parsing xhtml: " in message(response)


def test_oversized_body_is_413(client: httpx.Client) -> None:
    huge = "<p>" + "x" * 5_300_000 + "</p>"
    response = client.post("/rest/api/content", json={
        "type": "page", "title": unique("Huge"), "space": {"key": "DEMO"},
        "body": {"storage": {"value": huge, "representation": "storage"}}})
    assert response.status_code == 413


def test_trash_restore_and_purge(client: httpx.Client) -> None:
    title = unique("Trash me")
    cid = new_page(client, title)["id"]
    assert client.delete(f"/rest/api/content/{cid}").status_code == 204
    assert client.get(f"/rest/api/content/{cid}").status_code == 404
    trashed = client.get(f"/rest/api/content/{cid}", params={"status": "trashed"})
    assert trashed.status_code == 200 and trashed.json()["status"] == "trashed"
    hits = client.get("/rest/api/content/search", params={"cql": f'title = "{title}"'}).json()
    assert hits["size"] == 0
    restored = client.put(f"/rest/api/content/{cid}", params={"status": "current"},
                          json={"type": "page", "title": title, "version": {"number": 2}})
    assert restored.status_code == 200 and restored.json()["status"] == "current"
    assert client.delete(f"/rest/api/content/{cid}").status_code == 204
    assert client.delete(f"/rest/api/content/{cid}", params={"status": "trashed"}).status_code == 204
    assert client.get(f"/rest/api/content/{cid}", params={"status": "trashed"}).status_code == 404
    # the title is free again once the page is gone
    assert new_page(client, title)["title"] == title


def test_children_descendants_and_child_map(client: httpx.Client) -> None:
    home = page_id(client, "Demo Home")
    kids = client.get(f"/rest/api/content/{home}/child/page", params={"limit": 100}).json()
    assert {"Getting Started", "Architecture Overview", "Team Directory"} <= {k["title"] for k in kids["results"]}
    everything = client.get(f"/rest/api/content/{home}/descendant/page", params={"limit": 200}).json()
    titles = {d["title"] for d in everything["results"]}
    assert {"Installation Guide", "Troubleshooting", "Components"} <= titles
    root_only = client.get(f"/rest/api/content/{home}/descendant/page", params={"depth": "root"}).json()
    assert "Troubleshooting" not in {d["title"] for d in root_only["results"]}
    child_map = client.get(f"/rest/api/content/{home}/child", params={"expand": "page,attachment"}).json()
    assert child_map["page"]["size"] >= 3 and child_map["attachment"]["results"][0]["title"] == "sandbox-logo.png"


def test_hidden_space_is_404_and_read_only_space_is_403(client: httpx.Client) -> None:
    assert client.get("/rest/api/space/PRIVATE").status_code == 404
    assert client.get("/rest/api/content", params={"spaceKey": "PRIVATE"}).json()["size"] == 0
    assert "PRIVATE" not in {s["key"] for s in client.get("/rest/api/space").json()["results"]}
    response = client.post("/rest/api/content", json={
        "type": "page", "title": unique("Nope"), "space": {"key": "ARCHIVE"},
        "body": {"storage": {"value": "<p>x</p>", "representation": "storage"}}})
    assert response.status_code == 403
    old = page_id(client, "Old Roadmap", "ARCHIVE")
    assert client.get(f"/rest/api/content/{old}").status_code == 200
    assert client.put(f"/rest/api/content/{old}", json={"type": "page", "title": "Old Roadmap",
                                                         "version": {"number": 2}}).status_code == 403
    assert client.post(f"/rest/api/content/{old}/label", json=[{"name": "x"}]).status_code == 403


def test_page_restrictions_are_empty_and_missing_pages_404(client: httpx.Client) -> None:
    home = page_id(client, "Demo Home")
    data = client.get(f"/rest/api/content/{home}/restriction/byOperation").json()
    assert data["read"]["restrictions"]["user"]["results"] == []
    assert data["read"]["restrictions"]["group"]["results"] == []
    assert client.get(f"/rest/api/content/{home}/restriction/byOperation/update").json()["operation"] == "update"
    assert client.get(f"/rest/api/content/{home}/restriction/byOperation/teleport").status_code == 400
    assert client.get("/rest/api/content/999999999/restriction/byOperation").status_code == 404
