"""The sandbox's request log (`/__sandbox__/requests`): what a client sent, bounded, resettable."""

from __future__ import annotations

import httpx
import pytest

from confluence_mcp.sandbox.request_log import RequestLog
from confluence_mcp.sandbox.runner import RunningSandbox


def _log(sandbox: RunningSandbox) -> dict:
    return dict(httpx.get(f"{sandbox.admin_url}/requests", timeout=10).json())


def test_log_keeps_query_pairs_content_type_and_json(cloud_sandbox: RunningSandbox, cloud: httpx.Client) -> None:
    httpx.post(f"{cloud_sandbox.admin_url}/reset-requests", timeout=10).raise_for_status()
    cloud.get("/rest/api/space", params=[("spaceKey", "DEMO"), ("spaceKey", "ARCHIVE"), ("expand", "")])
    created = cloud.post("/rest/api/content", json={"type": "page", "title": "Logged", "space": {"key": "DEMO"},
                                                    "body": {"storage": {"value": "<p>x</p>",
                                                                         "representation": "storage"}}})
    assert created.status_code == 200, created.text  # the app still read the body the log had read first
    cloud.post(f"/rest/api/content/{created.json()['id']}/child/attachment", headers={"X-Atlassian-Token": "no-check"},
               data={"minorEdit": "true"}, files={"file": ("a.txt", b"a", "text/plain")})
    cloud.post("/rest/api/content", content=b"{broken", headers={"Content-Type": "application/json"})
    cloud.delete(f"/rest/api/content/{created.json()['id']}")
    httpx.get(f"{cloud_sandbox.admin_url}/stats", timeout=10)  # admin calls are not logged

    log = _log(cloud_sandbox)
    space, create, upload, broken, delete = log["requests"]
    assert log["total"] == log["kept"] == 5
    headers = space.pop("headers")
    assert space == {"method": "GET", "path": "/wiki/rest/api/space", "content_type": "",
                     "query": [["spaceKey", "DEMO"], ["spaceKey", "ARCHIVE"], ["expand", ""]]}
    assert headers["authorization"] == "Basic"  # the scheme, never the credentials
    assert upload["headers"]["x-atlassian-token"] == "no-check"
    assert create["json"]["title"] == "Logged" and create["content_type"] == "application/json"
    assert upload["content_type"].startswith("multipart/form-data") and "json" not in upload
    assert upload["form"] == ["minorEdit", "file"]
    assert "not valid JSON" in broken["json_error"]
    assert delete["method"] == "DELETE" and delete["query"] == []

    httpx.post(f"{cloud_sandbox.admin_url}/reset-requests", timeout=10).raise_for_status()
    assert _log(cloud_sandbox) == {"total": 0, "kept": 0, "requests": []}


@pytest.mark.anyio
async def test_log_is_bounded() -> None:
    log = RequestLog(capacity=3)

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    for number in range(5):
        await log.capture({"method": "GET", "path": f"/p{number}", "headers": [], "query_string": b""}, receive)
    snapshot = log.snapshot()
    assert snapshot["total"] == 5 and [r["path"] for r in snapshot["requests"]] == ["/p2", "/p3", "/p4"]
