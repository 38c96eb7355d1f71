"""Helpers for the content-management tests: MCP client in memory, raw REST checks against the sandbox.

The tools are reached through `mcp.Client` exactly as an agent would; what landed in Confluence is checked with
plain HTTP against the sandbox's REST API, independent of our own client.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from mcp import Client

from confluence_mcp.config import Settings, load_settings
from confluence_mcp.sandbox.runner import RunningSandbox
from confluence_mcp.server import build_server

USER, TOKEN = "sandbox@example.com", "sandbox-token"


class Rest:
    """Plain REST calls to the sandbox, to see what a tool really stored (and to play the other editor)."""

    def __init__(self, sandbox: RunningSandbox) -> None:
        self.sandbox = sandbox
        self.http = httpx.Client(base_url=sandbox.base_url.rstrip("/") + "/rest/api", auth=(USER, TOKEN),
                                 timeout=10)

    def page(self, page_id: str, expand: str = "body.storage,version,space,ancestors,metadata.labels",
             **params: Any) -> dict[str, Any]:
        response = self.http.get(f"/content/{page_id}", params={"expand": expand, **params})
        response.raise_for_status()
        return response.json()

    def status(self, page_id: str, **params: Any) -> int:
        return self.http.get(f"/content/{page_id}", params=params).status_code

    def storage(self, page_id: str) -> str:
        return self.page(page_id)["body"]["storage"]["value"]

    def version(self, page_id: str) -> int:
        return int(self.page(page_id, expand="version")["version"]["number"])

    def labels(self, page_id: str) -> list[str]:
        return sorted(item["name"] for item in self.http.get(f"/content/{page_id}/label").json()["results"])

    def titled(self, space: str, title: str) -> list[dict[str, Any]]:
        response = self.http.get("/content", params={"spaceKey": space, "title": title, "expand": "version"})
        return list(response.json()["results"])

    def create(self, title: str, storage: str, space: str = "DEMO") -> dict[str, Any]:
        response = self.http.post("/content", json={"type": "page", "title": title, "space": {"key": space},
                                                    "body": {"storage": {"value": storage,
                                                                         "representation": "storage"}}})
        response.raise_for_status()
        return response.json()

    def edit(self, page_id: str, storage: str) -> None:
        """Another user's edit: read the current version and save on top of it."""
        current = self.page(page_id, expand="version")
        response = self.http.put(f"/content/{page_id}", json={
            "id": page_id, "type": "page", "title": current["title"],
            "version": {"number": current["version"]["number"] + 1},
            "body": {"storage": {"value": storage, "representation": "storage"}}})
        response.raise_for_status()

    def space_pages(self, space: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        start = 0
        while True:
            data = self.http.get("/content", params={"spaceKey": space, "type": "page", "start": start,
                                                     "limit": 50}).json()
            out += data["results"]
            if len(data["results"]) < 50:
                return out
            start += 50

    def faults(self, **body: Any) -> None:
        httpx.post(self.sandbox.admin_url.rstrip("/") + "/faults", json=body, timeout=10).raise_for_status()

    def reset_stats(self) -> None:
        httpx.post(self.sandbox.admin_url.rstrip("/") + "/reset-stats", timeout=10).raise_for_status()

    def requests_by_route(self) -> dict[str, int]:
        """Requests per route since the last `reset_stats` ("PUT /wiki/rest/api/content/{id}": n)."""
        response = httpx.get(self.sandbox.admin_url.rstrip("/") + "/stats", timeout=10)
        response.raise_for_status()
        return dict(response.json()["by_route"])


def make_settings(sandbox: RunningSandbox, credential: dict[str, Any] | None = None, **toolkit: Any) -> Settings:
    kit: dict[str, Any] = {"space": "DEMO", "hosting": sandbox_flavor(sandbox), "retries": 4,
                           "retry_min_seconds": 0, "retry_max_seconds": 0.05, "labels": ["via-mcp"]}
    kit.update(toolkit)
    cred = {"base_url": sandbox.base_url, "username": USER, "api_token": TOKEN, **(credential or {})}
    return load_settings(environ={}, overrides={"credentials": {"default": cred}, "toolkits": {"default": kit}})


def sandbox_flavor(sandbox: RunningSandbox) -> str:
    return "cloud" if sandbox.base_url.rstrip("/").endswith("/wiki") else "server"


@asynccontextmanager
async def connect(sandbox: RunningSandbox, credential: dict[str, Any] | None = None,
                  **toolkit: Any) -> AsyncIterator[Client]:
    async with Client(build_server(make_settings(sandbox, credential, **toolkit))) as client:
        yield client


def unique(prefix: str = "Page") -> str:
    return f"{prefix} {uuid.uuid4().hex[:10]}"


async def call(client: Client, name: str, **arguments: Any) -> dict[str, Any]:
    """Call a tool that must succeed; returns its structured result."""
    result = await client.call_tool(name, arguments)
    text = " ".join(getattr(part, "text", "") for part in result.content)
    assert not result.is_error, f"{name} failed: {text}"
    assert result.structured_content is not None
    return dict(result.structured_content)


async def refused(client: Client, name: str, **arguments: Any) -> str:
    """Call a tool that must fail; returns the error text the agent sees."""
    result = await client.call_tool(name, arguments)
    text = " ".join(getattr(part, "text", "") for part in result.content)
    assert result.is_error, f"{name} unexpectedly succeeded: {text}"
    return text
