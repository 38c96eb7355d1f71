"""A Cloud REST v2 page as the v1 Content JSON the rest of the code reads.

Atlassian has deprecated v1 `GET /content/{id}` on Cloud (it still answers); when a site answers it with
410 Gone, `ConfluenceClient.get_page` reads the page through v2 instead: `GET /pages/{id}` (or
`/blogposts/{id}`: v1 served both) plus, when the v1 `expand` asked for them, every label, the space
(`GET /spaces/{id}`, for its key) and the ancestors (`GET /pages/{id}/ancestors`, ids only). Only the fields
our callers read are mapped.
"""

from __future__ import annotations

from typing import Any

__all__ = ["expand_parts", "v2_query", "v2_to_v1_page"]


def expand_parts(expand: str) -> set[str]:
    """The fields a v1 `expand` names, e.g. {"body.storage", "space"}."""
    return {part.strip() for part in expand.split(",")}


def v2_query(parts: set[str]) -> dict[str, str]:
    """The `GET /pages/{id}` parameters that cover a v1 `expand` (its `expand_parts`)."""
    query = {}
    if "body.storage" in parts:
        query["body-format"] = "storage"
    if "metadata.labels" in parts:
        query["include-labels"] = "true"
    return query


def v2_to_v1_page(page: dict[str, Any], *, kind: str = "page", space: dict[str, Any] | None = None,
                  ancestors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The v1 shape of a v2 page: id, type, status, title, version, body.storage, space, ancestors,
    metadata.labels and _links, each when the v2 answer (or the extra reads) carried it."""
    version = page.get("version") or {}
    content: dict[str, Any] = {
        "id": str(page.get("id", "")), "type": kind, "status": page.get("status", "current"),
        "title": page.get("title", ""),
        "version": {"number": version.get("number"), "when": version.get("createdAt"),
                    "message": version.get("message", ""), "minorEdit": version.get("minorEdit", False)},
        "_links": dict(page.get("_links") or {}),
    }
    storage = ((page.get("body") or {}).get("storage") or {}).get("value")
    if storage is not None:
        content["body"] = {"storage": {"value": storage, "representation": "storage"}}
    if space is not None:
        content["space"] = {"id": space.get("id"), "key": space.get("key"), "name": space.get("name")}
    if ancestors is not None:
        content["ancestors"] = [{"id": str(item["id"]), "type": item.get("type", "page")} for item in ancestors]
    labels = page.get("labels")
    if isinstance(labels, dict):
        content["metadata"] = {"labels": {"results": [
            {"id": label.get("id"), "name": label.get("name"), "prefix": label.get("prefix", "global")}
            for label in labels.get("results") or []]}}
    return content
