"""Small HTTP helpers shared by the sandbox tests."""

from __future__ import annotations

import os
from pathlib import Path

import httpx

__all__ = ["DEPRECATED_V1_LISTING_ROUTES", "DEPRECATED_V1_PAGE_ROUTES", "REPO_ROOT", "message", "new_page", "page_id",
           "shared_dir"]

REPO_ROOT = Path(__file__).resolve().parents[2]

# The deprecated Cloud v1 page routes our client falls back from (on a 410) to REST v2, as the sandbox's
# statistics and fault plan name them.
DEPRECATED_V1_PAGE_ROUTES = [
    "GET /wiki/rest/api/content", "POST /wiki/rest/api/content", "GET /wiki/rest/api/content/{id}",
    "PUT /wiki/rest/api/content/{id}", "DELETE /wiki/rest/api/content/{id}", "GET /wiki/rest/api/content/{id}/label"]
# ... and the listings under a page (to CQL or v2), with the DEMO space's read (to v2 /spaces).
DEPRECATED_V1_LISTING_ROUTES = [
    "GET /wiki/rest/api/content/{id}/child/page", "GET /wiki/rest/api/content/{id}/descendant/page",
    "GET /wiki/rest/api/content/{id}/child/comment", "GET /wiki/rest/api/content/{id}/child/attachment",
    "GET /wiki/rest/api/space/DEMO", "GET /wiki/rest/api/space/DEMO/content/page"]


def shared_dir() -> Path:
    """`../shared` next to the repository (reference specs and corpora), or $CONFLUENCE_MCP_SHARED."""
    return Path(os.environ.get("CONFLUENCE_MCP_SHARED") or REPO_ROOT / ".." / "shared").resolve()


def page_id(http: httpx.Client, title: str, space: str = "DEMO") -> str:
    found = http.get("/rest/api/content", params={"spaceKey": space, "title": title}).json()["results"]
    assert found, f"no page {title!r} in {space}"
    return str(found[0]["id"])


def new_page(http: httpx.Client, title: str, body: str = "<p>hello</p>", *, space: str = "DEMO",
             parent: str | None = None) -> dict:
    payload: dict = {"type": "page", "title": title, "space": {"key": space},
                     "body": {"storage": {"value": body, "representation": "storage"}}}
    if parent:
        payload["ancestors"] = [{"id": parent}]
    response = http.post("/rest/api/content", json=payload)
    assert response.status_code == 200, response.text
    return response.json()


def message(response: httpx.Response) -> str:
    """The error text in either envelope (v1 message or v2 errors[0].title)."""
    data = response.json()
    if "errors" in data and data["errors"] and "title" in data["errors"][0]:
        return str(data["errors"][0]["title"])
    return str(data["message"])
