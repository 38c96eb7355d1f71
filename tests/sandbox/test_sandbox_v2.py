"""Cloud REST v2: pages with cursor + Link header, page reads, children, labels, spaces, writes, errors."""

from __future__ import annotations

import re
import uuid

import httpx
from sandbox_helpers import message, page_id

from confluence_mcp.sandbox.runner import RunningSandbox


def demo_space_id(cloud: httpx.Client) -> str:
    spaces = cloud.get("/api/v2/spaces", params={"keys": "DEMO"}).json()["results"]
    assert [s["key"] for s in spaces] == ["DEMO"]
    return str(spaces[0]["id"])


def test_pages_cursor_walk_with_link_header(cloud: httpx.Client, cloud_sandbox: RunningSandbox) -> None:
    space_id = demo_space_id(cloud)
    everything = cloud.get("/api/v2/pages", params={"space-id": space_id, "limit": 250}).json()
    expected = [p["id"] for p in everything["results"]]
    assert "next" not in everything["_links"]
    seen: list[str] = []
    response = cloud.get("/api/v2/pages", params={"space-id": space_id, "limit": 3})
    hops = 0
    while True:
        data = response.json()
        seen += [p["id"] for p in data["results"]]
        hops += 1
        if "next" not in data["_links"]:
            assert "link" not in response.headers
            break
        next_link = data["_links"]["next"]
        assert next_link.startswith("/wiki/api/v2/pages?") and "cursor=" in next_link
        header = response.headers["link"]
        assert re.match(r'^<(/wiki/api/v2/pages\?[^>]+)>; rel="next", <[^>]+>; rel="base"$', header)
        response = cloud.get(cloud_sandbox.origin + next_link)  # v2 next already holds /wiki
    assert seen == expected and hops == -(-len(expected) // 3)


def test_page_body_formats_and_labels(cloud: httpx.Client) -> None:
    install = page_id(cloud, "Installation Guide")
    storage = cloud.get(f"/api/v2/pages/{install}", params={"body-format": "storage"}).json()
    assert storage["body"]["storage"]["representation"] == "storage"
    assert "ac:structured-macro" in storage["body"]["storage"]["value"]
    assert storage["spaceId"] == demo_space_id(cloud) and storage["version"]["number"] >= 1
    assert storage["_links"]["base"].endswith("/wiki") and storage["parentType"] == "page"
    view = cloud.get(f"/api/v2/pages/{install}", params={"body-format": "view"}).json()
    assert "pip install" in view["body"]["view"]["value"] and "ac:" not in view["body"]["view"]["value"]
    labels = cloud.get(f"/api/v2/pages/{install}/labels").json()
    assert {lb["name"] for lb in labels["results"]} == {"onboarding", "install"}
    attachments = cloud.get(f"/api/v2/pages/{install}/attachments").json()["results"]
    assert attachments[0]["title"] == "install-notes.txt" and attachments[0]["downloadLink"]


def test_children_and_ancestors(cloud: httpx.Client) -> None:
    getting = page_id(cloud, "Getting Started")
    kids = cloud.get(f"/api/v2/pages/{getting}/direct-children").json()["results"]
    assert {k["title"] for k in kids} >= {"Installation Guide", "Configuration"}
    assert all(k["type"] == "page" for k in kids)
    trouble = page_id(cloud, "Troubleshooting")
    chain = cloud.get(f"/api/v2/pages/{trouble}/ancestors").json()["results"]
    assert [a["id"] for a in chain] == [page_id(cloud, "Demo Home"), getting, page_id(cloud,
                                                                                     "Installation Guide")]


def test_spaces_listing(cloud: httpx.Client) -> None:
    spaces = cloud.get("/api/v2/spaces").json()["results"]
    assert "PRIVATE" not in {s["key"] for s in spaces}
    ids = [int(s["id"]) for s in spaces]
    assert ids == sorted(ids)
    one = cloud.get(f"/api/v2/spaces/{demo_space_id(cloud)}").json()
    assert one["key"] == "DEMO" and one["homepageId"] == page_id(cloud, "Demo Home")
    pages = cloud.get(f"/api/v2/spaces/{demo_space_id(cloud)}/pages", params={"depth": "root"}).json()
    assert "Demo Home" in {p["title"] for p in pages["results"]}


def test_v2_writes_and_errors(cloud: httpx.Client) -> None:
    title = f"V2 page {uuid.uuid4().hex[:6]}"
    created = cloud.post("/api/v2/pages", json={
        "spaceId": demo_space_id(cloud), "status": "current", "title": title,
        "parentId": page_id(cloud, "Demo Home"), "body": {"representation": "storage", "value": "<p>v2</p>"}})
    assert created.status_code == 200, created.text
    pid = created.json()["id"]
    conflict = cloud.put(f"/api/v2/pages/{pid}", json={
        "id": pid, "status": "current", "title": title, "version": {"number": 1},
        "body": {"representation": "storage", "value": "<p>x</p>"}})
    assert conflict.status_code == 409
    error = conflict.json()["errors"][0]
    assert error["status"] == 409 and error["code"] == "CONFLICT"
    assert "Current Version: [1]. Provided version: [1]" in error["title"]
    updated = cloud.put(f"/api/v2/pages/{pid}", json={
        "id": pid, "status": "current", "title": title, "version": {"number": 2},
        "body": {"representation": "storage", "value": "<p>y</p>"}})
    assert updated.json()["version"]["number"] == 2
    missing = cloud.get("/api/v2/pages/999999999")
    assert missing.status_code == 404 and missing.json()["errors"][0]["code"] == "NOT_FOUND"
    assert cloud.delete(f"/api/v2/pages/{pid}").status_code == 204
    assert cloud.delete(f"/api/v2/pages/{pid}", params={"purge": "true"}).status_code == 204
    assert message(cloud.get(f"/api/v2/pages/{pid}")) == "No content found with id : " + pid


def test_server_has_no_v2(server: httpx.Client) -> None:
    assert server.get("/api/v2/pages").status_code == 404
