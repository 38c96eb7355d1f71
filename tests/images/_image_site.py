"""Fixtures and helpers for the image-description tests: a cloud sandbox with extra image pages, stubs, settings.

A uniquely named module (not conftest) so tests can import its helpers when the whole suite runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from _vision_stub import RunningServer, start_image_host, start_vision_stub

from confluence_mcp.config import Settings, load_settings
from confluence_mcp.sandbox.demo import make_png

__all__ = ["Site", "anyio_backend", "image_host", "make_settings", "site", "vision"]

USER, TOKEN = "sandbox@example.com", "sandbox-token"
FOREIGN_PNG = make_png(8, 8, (200, 0, 0), (0, 0, 0))


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def image_host() -> Iterator[RunningServer]:
    host = start_image_host(FOREIGN_PNG)
    yield host
    host.stop()


@pytest.fixture(scope="session")
def vision() -> Iterator[RunningServer]:
    stub = start_vision_stub()
    yield stub
    stub.stop()


class Site:
    """The sandbox plus the ids of the pages the tests read."""

    def __init__(self, sandbox: Any, pages: dict[str, str]) -> None:
        self.sandbox, self.pages = sandbox, pages
        self.base_url: str = sandbox.base_url

    def stats(self) -> dict[str, Any]:
        return dict(httpx.get(f"{self.sandbox.admin_url}/stats", timeout=10).json())

    def reset_stats(self) -> None:
        httpx.post(f"{self.sandbox.admin_url}/reset-stats", timeout=10)


def _page_id(http: httpx.Client, space: str, title: str) -> str:
    found = http.get("/rest/api/content", params={"spaceKey": space, "title": title}).json()["results"]
    return str(found[0]["id"])


def _create(http: httpx.Client, space: str, title: str, storage: str) -> str:
    body = {"type": "page", "title": title, "space": {"key": space},
            "body": {"storage": {"value": storage, "representation": "storage"}}}
    response = http.post("/rest/api/content", json=body)
    response.raise_for_status()
    return str(response.json()["id"])


def _upload(http: httpx.Client, page_id: str, filename: str, data: bytes, media_type: str) -> None:
    response = http.post(f"/rest/api/content/{page_id}/child/attachment", files={"file": (filename, data, media_type)},
                         headers={"X-Atlassian-Token": "no-check"})
    response.raise_for_status()


@pytest.fixture(scope="session")
def site(image_host: RunningServer) -> Iterator[Site]:
    from confluence_mcp.sandbox.runner import SandboxOptions, start_sandbox

    with start_sandbox(SandboxOptions(flavor="cloud")) as sandbox, \
            httpx.Client(base_url=sandbox.base_url, auth=(USER, TOKEN), timeout=30) as http:
        pages = {"architecture": _page_id(http, "DEMO", "Architecture Overview"),
                 "home": _page_id(http, "DEMO", "Demo Home"),
                 "archive": _page_id(http, "ARCHIVE", "Old Roadmap")}
        # Multi-line markup, an external image, a same-site URL image, a non-image, a missing file, an attachment
        # of another page in a space the restricted toolkit may not read.
        mixed = _create(http, "DEMO", "Image Gallery", (
            "<p>The gallery starts with our chart.</p>"
            '<ac:image ac:alt="Quarterly chart"\n  ac:width="300">\n  <ri:attachment\n    ri:filename="chart.png"/>'
            "\n</ac:image><p>Sales grew in <strong>every</strong> quarter.</p>"
            f'<p>Partner logo: <ac:image><ri:url ri:value="{image_host.base_url}/partner/logo.png"/></ac:image></p>'
            f'<p>Same site: <ac:image><ri:url ri:value="{sandbox.base_url}/download/attachments/'
            f'{pages["architecture"]}/architecture.png"/></ac:image></p>'
            '<ac:image><ri:attachment ri:filename="notes.txt"/></ac:image>'
            '<ac:image><ri:attachment ri:filename="missing.png"/></ac:image>'
            '<ac:image><ri:attachment ri:filename="old.png"><ri:page ri:content-title="Old Roadmap" '
            'ri:space-key="ARCHIVE"/></ri:attachment></ac:image>'))
        _upload(http, mixed, "chart.png", make_png(40, 20, (10, 120, 200), (250, 250, 250)), "image/png")
        _upload(http, mixed, "notes.txt", b"not an image at all, just some text", "text/plain")
        _upload(http, pages["archive"], "old.png", make_png(10, 10, (1, 2, 3), (4, 5, 6)), "image/png")
        pages["mixed"] = mixed
        yield Site(sandbox, pages)


def make_settings(site: Site, *, llm_url: str | None = None, **toolkit: Any) -> Settings:
    """One toolkit on the sandbox (space DEMO), with the vision stub as [llm] when llm_url is given."""
    overrides: dict[str, Any] = {
        "credentials": {"default": {"base_url": site.base_url, "username": USER, "api_token": TOKEN}},
        "toolkits": {"default": {"space": "DEMO", "retries": 0, **toolkit}},
    }
    if llm_url:
        overrides["llm"] = {"base_url": llm_url, "model": "vision-stub", "api_key": "stub-key"}
    return load_settings(None, environ={}, overrides=overrides)
