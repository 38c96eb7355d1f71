"""Minimal web UI so `_links.webui` URLs open something readable: page views, space index, tiny links."""

from __future__ import annotations

import html

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from confluence_mcp.confluence.convert import storage_to_view
from confluence_mcp.sandbox.http import endpoint, serializer, state
from confluence_mcp.sandbox.model import Content, SandboxError
from confluence_mcp.sandbox.serialize import tiny_code_id

__all__ = ["web_routes"]


def _document(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
                        f"</head><body>{body}</body></html>")


def _page_view(request: Request, content: Content) -> HTMLResponse:
    ser = serializer(request)
    crumbs = " / ".join(f"<a href='{ser.base}{ser.webui(a)}'>{html.escape(a.title)}</a>"
                        for a in state(request).store.ancestors(content))
    view = storage_to_view(content.body, links=ser.link_context(content))
    return _document(content.title, f"<nav>{content.space_key} / {crumbs}</nav>"
                                    f"<h1>{html.escape(content.title)}</h1>{view}")


@endpoint
async def page_by_id(request: Request) -> Response:
    page_id = request.path_params.get("id") or request.query_params.get("pageId", "")
    return _page_view(request, state(request).store.get(page_id))


@endpoint
async def page_by_title(request: Request) -> Response:
    title = request.path_params["title"].replace("+", " ")
    found = state(request).store.list_content(space_key=request.path_params["key"], title=title)
    if not found:
        raise SandboxError(404, f"No page titled {title}")
    return _page_view(request, found[0])


@endpoint
async def space_home(request: Request) -> Response:
    store = state(request).store
    space = store.space(request.path_params["key"])
    ser = serializer(request)
    items = "".join(f"<li><a href='{ser.base}{ser.webui(c)}'>{html.escape(c.title)}</a></li>"
                    for c in store.list_content(space_key=space.key))
    return _document(space.name, f"<h1>{html.escape(space.name)}</h1><ul>{items}</ul>")


@endpoint
async def index(request: Request) -> Response:
    ser = serializer(request)
    items = "".join(f"<li><a href='{ser.base}{ser.space_webui(s)}'>{s.key}: {html.escape(s.name)}</a></li>"
                    for s in state(request).store.visible_spaces())
    return _document("Confluence sandbox", f"<h1>Confluence sandbox</h1><ul>{items}</ul>")


@endpoint
async def tiny_link(request: Request) -> Response:
    content_id = tiny_code_id(request.path_params["code"])
    if content_id is None:
        raise SandboxError(404, "Unknown tiny link")
    content = state(request).store.get(content_id)
    ser = serializer(request)
    return RedirectResponse(ser.base + ser.webui(content), status_code=302)


def web_routes() -> list[Route]:
    return [
        Route("/", index, methods=["GET"]),
        Route("/spaces/{key}", space_home, methods=["GET"]),
        Route("/spaces/{key}/pages/{id}", page_by_id, methods=["GET"]),
        Route("/spaces/{key}/pages/{id}/{title}", page_by_id, methods=["GET"]),
        Route("/display/{key}", space_home, methods=["GET"]),
        Route("/display/{key}/{title}", page_by_title, methods=["GET"]),
        Route("/pages/viewpage.action", page_by_id, methods=["GET"]),
        Route("/x/{code}", tiny_link, methods=["GET"]),
    ]
