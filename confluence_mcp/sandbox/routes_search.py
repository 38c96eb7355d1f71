"""CQL search routes: `/content/search` (Content objects) and `/search` (SearchResult wrappers).

Cloud pages with an opaque `cursor`; Server/DC pages with `start` and applies its hard caps
(50 with a body expanded, 200 with other expansions, 1000 without).
"""

from __future__ import annotations

import base64
import html
import json
import time
import zlib
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from confluence_mcp.sandbox.http import endpoint, int_param, serializer, state
from confluence_mcp.sandbox.model import Attachment, Content, SandboxError
from confluence_mcp.sandbox.serialize import Serializer, parse_expand

__all__ = ["decode_cursor", "encode_cursor", "search_routes"]

API = "/rest/api"
CLOUD_MAX_LIMIT = 250


def encode_cursor(start: int, cql: str) -> str:
    raw = json.dumps({"s": start, "q": zlib.crc32(cql.encode())}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return int(json.loads(base64.urlsafe_b64decode(padded))["s"])
    except (ValueError, KeyError, TypeError) as error:
        raise SandboxError(400, f"Invalid cursor: {cursor}") from error


def _limit_cap(request: Request, expand: set[str]) -> int:
    if state(request).flavor == "cloud":
        return 50 if "body" in expand else CLOUD_MAX_LIMIT
    if "body" in expand:
        return 50
    return 200 if expand else 1000


def _window(request: Request, cql: str, expand: set[str]) -> tuple[int, int]:
    cap = _limit_cap(request, expand)
    limit = int_param(request, "limit", 25, minimum=1, maximum=cap)
    cursor = request.query_params.get("cursor")
    if cursor and state(request).flavor == "cloud":
        return decode_cursor(cursor), limit
    return int_param(request, "start", 0), limit


def _links(request: Request, path: str, cql: str, start: int, limit: int, total: int) -> dict[str, str]:
    ser = serializer(request)
    query = {k: v for k, v in request.query_params.items() if k not in ("start", "limit", "cursor")}
    links = ser.envelope_links(f"{path}?{urlencode(query)}")
    if start + limit < total:
        if state(request).flavor == "cloud":
            step = {"limit": limit, "cursor": encode_cursor(start + limit, cql)}
        else:
            step = {"limit": limit, "start": start + limit}
        links["next"] = f"{path}?{urlencode({**query, **step})}"
    return links


def _run(request: Request) -> tuple[str, list[tuple[Content | Attachment, float]]]:
    cql = request.query_params.get("cql", "")
    if not cql.strip():
        raise SandboxError(400, "CQL query parameter is required: cql")
    return cql, state(request).store.search(cql)


def _render(ser: Serializer, item: Content | Attachment, expand: set[str]) -> dict[str, Any]:
    if isinstance(item, Attachment):
        return ser.attachment(item, expand)
    return ser.content(item, expand)


@endpoint
async def content_search(request: Request) -> Response:
    expand = parse_expand(request.query_params.get("expand"))
    cql, hits = _run(request)
    start, limit = _window(request, cql, expand)
    ser = serializer(request)
    chosen = [_render(ser, item, expand) for item, _ in hits[start:start + limit]]
    body: dict[str, Any] = {"results": chosen, "start": start, "limit": limit, "size": len(chosen),
                            "totalSize": len(hits),
                            "_links": _links(request, f"{API}/content/search", cql, start, limit, len(hits))}
    if state(request).flavor == "cloud":
        body["cqlQuery"] = cql
    return JSONResponse(body)


@endpoint
async def search(request: Request) -> Response:
    began = time.perf_counter()
    expand = {e.removeprefix("content.") for e in parse_expand(request.query_params.get("expand"))}
    cql, hits = _run(request)
    start, limit = _window(request, cql, expand)
    mode = request.query_params.get("excerpt", "highlight")
    store = state(request).store
    ser = serializer(request)
    results: list[dict[str, Any]] = []
    for item, score in hits[start:start + limit]:
        content = _render(ser, item, expand)
        content.setdefault("childTypes", {})
        content.setdefault("macroRenderedOutput", {})
        content.setdefault("restrictions", {})
        excerpt = "" if mode == "none" else store.excerpt(item.id, cql, highlight=mode.startswith("highlight"))
        if not mode.endswith("_unescaped"):  # `highlight` and `indexed` excerpts come HTML-encoded
            excerpt = html.escape(excerpt)
        space = store.spaces[item.space_key]
        modified = item.version.when if isinstance(item, Content) else item.current.when
        title = item.title if isinstance(item, Content) else item.filename
        url = ser.webui(item) if isinstance(item, Content) else content["_links"]["webui"]
        results.append({
            "content": content, "title": title, "excerpt": excerpt, "url": url,
            "resultGlobalContainer": {"title": space.name, "displayUrl": ser.space_webui(space)},
            "breadcrumbs": [], "entityType": "content",
            "iconCssClass": "aui-iconfont-page-default" if isinstance(item, Content)
            else "aui-iconfont-file-generic",
            "lastModified": ser.when(modified), "friendlyLastModified": modified.strftime("%b %d, %Y"),
            "score": score,
        })
    return JSONResponse({
        "results": results, "start": start, "limit": limit, "size": len(results), "totalSize": len(hits),
        "cqlQuery": cql, "searchDuration": int((time.perf_counter() - began) * 1000),
        "_links": _links(request, f"{API}/search", cql, start, limit, len(hits)),
    })


def search_routes() -> list[Route]:
    return [
        Route("/content/search", content_search, methods=["GET"]),
        Route("/search", search, methods=["GET"]),
    ]
