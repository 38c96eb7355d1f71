"""Cloud REST v2 (`/wiki/api/v2`): pages, children, ancestors, labels, attachments and spaces.

Lists page with an opaque cursor in `_links.next` (which already contains `/wiki`) and a `Link` header.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from confluence_mcp.confluence.convert import storage_to_view
from confluence_mcp.sandbox.http import endpoint, int_param, json_body, serializer, state
from confluence_mcp.sandbox.model import Attachment, Content, Label, SandboxError, Space
from confluence_mcp.sandbox.routes_search import decode_cursor, encode_cursor
from confluence_mcp.sandbox.serialize import Serializer, tiny_code

__all__ = ["v2_routes"]

V2 = "/api/v2"


def _page(ser: Serializer, content: Content, body_format: str | None = None,
          *, single: bool = False) -> dict[str, Any]:
    store = ser.store
    version = content.version
    data: dict[str, Any] = {
        "id": content.id, "status": content.status, "title": content.title,
        "spaceId": str(store.spaces[content.space_key].id), "parentId": content.parent_id,
        "parentType": "page" if content.parent_id else None, "position": content.position,
        "authorId": content.creator, "ownerId": content.creator, "lastOwnerId": None,
        "createdAt": ser.when(content.created),
        "version": {"createdAt": ser.when(version.when), "message": version.message, "number": version.number,
                    "minorEdit": version.minor_edit, "authorId": version.by},
        "body": {},
    }
    if body_format == "storage":
        data["body"] = {"storage": {"representation": "storage", "value": content.body}}
    elif body_format in ("view", "export_view", "styled_view", "anonymous_export_view"):
        view = storage_to_view(content.body, links=ser.link_context(content))
        data["body"] = {body_format: {"representation": body_format, "value": view}}
    elif body_format not in (None, ""):
        raise SandboxError(400, f"Unsupported body-format: {body_format}")
    links = {"webui": ser.webui(content), "editui": f"/pages/resumedraft.action?draftId={content.id}",
             "tinyui": f"/x/{tiny_code(content.id)}"}
    if single:
        links["base"] = ser.base
    data["_links"] = links
    return _without_nulls(data)


def _label(label: Label) -> dict[str, Any]:
    return {"id": label.id, "name": label.name, "prefix": label.prefix}


def _without_nulls(data: dict[str, Any]) -> dict[str, Any]:
    """The spec types these fields as plain strings, so absent beats null (clients use .get anyway)."""
    return {key: value for key, value in data.items() if value is not None}


def _space(ser: Serializer, space: Space) -> dict[str, Any]:
    return _without_nulls({"id": str(space.id), "key": space.key, "name": space.name, "type": space.type,
            "status": space.status, "authorId": space.creator, "createdAt": ser.when(space.created),
            "homepageId": space.homepage_id, "_links": {"webui": ser.space_webui(space)}})


def _attachment(ser: Serializer, attachment: Attachment) -> dict[str, Any]:
    current = attachment.current
    download = ser.download_link(attachment)
    container = "blogPostId" if ser.store.contents[attachment.container_id].type == "blogpost" else "pageId"
    return {"id": attachment.id, "status": attachment.status, "title": attachment.filename,
            "createdAt": ser.when(attachment.versions[0].when), container: attachment.container_id,
            "mediaType": attachment.media_type, "mediaTypeDescription": attachment.media_type,
            "comment": current.comment, "fileId": attachment.id, "fileSize": len(current.data),
            "webuiLink": f"/pages/viewpageattachments.action?pageId={attachment.container_id}",
            "downloadLink": download,
            "version": {"createdAt": ser.when(current.when), "message": current.comment,
                        "number": current.number, "minorEdit": False, "authorId": current.by},
            "_links": {"webui": f"/pages/viewpageattachments.action?pageId={attachment.container_id}",
                       "download": download}}


def _listing(request: Request, items: list[Any], render: Callable[[Any], dict[str, Any]],
             *, default_limit: int = 25) -> Response:
    """Cursor page of `items`; `next` and the `Link` header only when more results exist."""
    limit = int_param(request, "limit", default_limit, minimum=1, maximum=250)
    cursor = request.query_params.get("cursor")
    start = decode_cursor(cursor) if cursor else 0
    chosen = items[start:start + limit]
    ser = serializer(request)
    links: dict[str, str] = {"base": ser.base}
    headers: dict[str, str] = {}
    if start + limit < len(items):
        query = {k: v for k, v in request.query_params.items() if k not in ("cursor", "limit")}
        query.update(limit=str(limit), cursor=encode_cursor(start + limit, request.url.path))
        links["next"] = f"{state(request).context}{V2}{request.url.path.split(V2, 1)[1]}?{urlencode(query)}"
        headers["Link"] = f'<{links["next"]}>; rel="next", <{ser.base}>; rel="base"'
    return JSONResponse({"results": [render(item) for item in chosen], "_links": links}, headers=headers)


def _ids(raw: str | None) -> set[str]:
    return {part.strip() for part in (raw or "").split(",") if part.strip()}


def _statuses(request: Request) -> set[str]:
    """`status` given repeated (the spec's array form) or comma-separated."""
    return {status for raw in request.query_params.getlist("status") for status in _ids(raw)}


@endpoint
async def list_pages(request: Request) -> Response:
    params = request.query_params
    store = state(request).store
    statuses = _ids(params.get("status")) or {"current", "archived"}
    space_ids = _ids(params.get("space-id"))
    ids = _ids(params.get("id"))
    pages = [c for status in statuses for c in store.list_content(content_type="page", status=status)]
    pages = [c for c in pages if (not space_ids or str(store.spaces[c.space_key].id) in space_ids)
             and (not ids or c.id in ids) and (not params.get("title") or c.title == params["title"])]
    sort = params.get("sort", "id")
    keys: dict[str, Callable[[Content], Any]] = {
        "id": lambda c: int(c.id), "title": lambda c: c.title, "created-date": lambda c: c.created,
        "modified-date": lambda c: c.version.when}
    key = keys.get(sort.lstrip("-"))
    if key is None:
        raise SandboxError(400, f"Unsupported sort: {sort}")
    pages.sort(key=key, reverse=sort.startswith("-"))
    ser = serializer(request)
    body_format = params.get("body-format")
    return _listing(request, pages, lambda c: _page(ser, c, body_format))


@endpoint
async def get_page(request: Request) -> Response:
    return _single(request, "page", {"current", "archived"})


@endpoint
async def get_blogpost(request: Request) -> Response:
    return _single(request, "blogpost", {"current"})


def _single(request: Request, kind: str, statuses: set[str]) -> Response:
    """GET /pages/{id} or /blogposts/{id}: one item of that type, labels (50 at most) on request."""
    content = _typed(request, kind, _statuses(request) or statuses)
    data = _page(serializer(request), content, request.query_params.get("body-format"), single=True)
    if request.query_params.get("include-labels") == "true":
        data["labels"] = {"results": [_label(lb) for lb in content.labels[:50]],
                          "meta": {"hasMore": len(content.labels) > 50}}
    return JSONResponse(data)


def _body_value(payload: dict[str, Any]) -> str | None:
    body = payload.get("body")
    if not isinstance(body, dict):
        return None
    if isinstance(body.get("storage"), dict):
        body = body["storage"]
    if body.get("representation", "storage") != "storage":
        raise SandboxError(400, f"Unsupported representation: {body.get('representation')}")
    return str(body.get("value", ""))


def _typed(request: Request, kind: str, statuses: Iterable[str]) -> Content:
    """The item at /pages/{id} or /blogposts/{id}: 404 when that id is the other kind."""
    content = state(request).store.get(request.path_params["id"], statuses)
    if content.type != kind:
        raise SandboxError(404, "Not Found")
    return content


@endpoint
async def create_page(request: Request) -> Response:
    payload = await json_body(request)
    store = state(request).store
    space = store.space_by_id(int(payload.get("spaceId") or 0)) if isinstance(payload, dict) else None
    if space is None:
        raise SandboxError(404, "Space not found")
    root_level = request.query_params.get("root-level") == "true"
    if root_level and payload.get("parentId"):
        raise SandboxError(400, "parentId cannot be given with root-level=true")
    # Without a parent, v2 files the page under the space's homepage unless asked for the root.
    parent = payload.get("parentId") or (None if root_level else space.homepage_id)
    content = store.create(space_key=space.key, title=str(payload.get("title") or ""),
                           body=_body_value(payload) or "", parent_id=parent,
                           status=payload.get("status", "current"))
    return JSONResponse(_page(serializer(request), content, "storage", single=True))


@endpoint
async def update_page(request: Request) -> Response:
    return await _update(request, "page")


@endpoint
async def update_blogpost(request: Request) -> Response:
    return await _update(request, "blogpost")


async def _update(request: Request, kind: str) -> Response:
    payload = await json_body(request)
    current = _typed(request, kind, ("current", "draft"))
    number = (payload.get("version") or {}).get("number")
    if not isinstance(number, int) or number != current.version.number + 1:
        raise SandboxError(409, "Version must be incremented when updating a page. Current Version: "
                                f"[{current.version.number}]. Provided version: [{number}]")
    content = state(request).store.update(
        current.id, title=str(payload.get("title") or current.title), version=number, body=_body_value(payload),
        parent_id=payload.get("parentId"), status=payload.get("status", "current"),
        message=str((payload.get("version") or {}).get("message") or ""))
    return JSONResponse(_page(serializer(request), content, "storage", single=True))


@endpoint
async def delete_page(request: Request) -> Response:
    return _delete(request, "page")


@endpoint
async def delete_blogpost(request: Request) -> Response:
    return _delete(request, "blogpost")


def _delete(request: Request, kind: str) -> Response:
    """To the trash; `purge=true` purges an item already in the trash."""
    content = _typed(request, kind, ("current", "draft", "trashed"))
    state(request).store.delete(content.id, purge=request.query_params.get("purge") == "true")
    return Response(status_code=204)


@endpoint
async def direct_children(request: Request) -> Response:
    store = state(request).store
    content = store.get(request.path_params["id"])
    return _listing(request, store.children(content.id), lambda c: {
        "id": c.id, "status": c.status, "title": c.title, "type": c.type, "spaceId": str(
            store.spaces[c.space_key].id), "childPosition": c.position})


@endpoint
async def page_children(request: Request) -> Response:
    store = state(request).store
    content = store.get(request.path_params["id"])
    return _listing(request, store.children(content.id), lambda c: {
        "id": c.id, "status": c.status, "title": c.title, "spaceId": str(store.spaces[c.space_key].id),
        "childPosition": c.position})


@endpoint
async def ancestors(request: Request) -> Response:
    store = state(request).store
    content = store.get(request.path_params["id"], ("current", "archived", "draft"))  # a draft has its parent too
    return _listing(request, store.ancestors(content), lambda c: {"id": c.id, "type": c.type})


@endpoint
async def page_labels(request: Request) -> Response:
    return _labels(request, _typed(request, "page", ("current", "archived", "draft")))


@endpoint
async def blogpost_labels(request: Request) -> Response:
    return _labels(request, _typed(request, "blogpost", ("current", "draft")))


def _labels(request: Request, content: Content) -> Response:
    prefix = request.query_params.get("prefix")
    labels = [lb for lb in content.labels if not prefix or lb.prefix == prefix]
    return _listing(request, labels, _label)


@endpoint
async def page_attachments(request: Request) -> Response:
    return _attachments(request, _typed(request, "page", ("current", "archived", "draft")))


@endpoint
async def blogpost_attachments(request: Request) -> Response:
    return _attachments(request, _typed(request, "blogpost", ("current", "draft")))


def _attachments(request: Request, content: Content) -> Response:
    params = request.query_params
    items = state(request).store.list_attachments(content.id, filename=params.get("filename"),
                                                  media_type=params.get("mediaType"))
    ser = serializer(request)
    return _listing(request, items, lambda a: _attachment(ser, a), default_limit=50)


@endpoint
async def list_spaces(request: Request) -> Response:
    params = request.query_params
    keys, ids = _ids(params.get("keys")), _ids(params.get("ids"))
    spaces = sorted(state(request).store.visible_spaces(), key=lambda s: s.id)
    spaces = [s for s in spaces if (not keys or s.key in keys) and (not ids or str(s.id) in ids)
              and (not params.get("type") or s.type == params["type"])]
    ser = serializer(request)
    return _listing(request, spaces, lambda s: _space(ser, s))


@endpoint
async def get_space(request: Request) -> Response:
    raw = request.path_params["id"]
    space = state(request).store.space_by_id(int(raw)) if raw.isdigit() else None
    if space is None:
        raise SandboxError(404, "Not Found")
    return JSONResponse(_space(serializer(request), space))


@endpoint
async def space_pages(request: Request) -> Response:
    raw = request.path_params["id"]
    store = state(request).store
    space = store.space_by_id(int(raw)) if raw.isdigit() else None
    if space is None:
        raise SandboxError(404, "Not Found")
    ser = serializer(request)
    depth = request.query_params.get("depth", "all")
    pages = ([c for c in store.children(None, space.key) if c.type == "page"] if depth == "root"
             else store.list_content(space_key=space.key, content_type="page"))
    body_format = request.query_params.get("body-format")
    return _listing(request, pages, lambda c: _page(ser, c, body_format))


def v2_routes() -> list[Route]:
    return [
        Route("/pages", list_pages, methods=["GET"]),
        Route("/pages", create_page, methods=["POST"]),
        Route("/pages/{id}", get_page, methods=["GET"]),
        Route("/pages/{id}", update_page, methods=["PUT"]),
        Route("/pages/{id}", delete_page, methods=["DELETE"]),
        Route("/pages/{id}/direct-children", direct_children, methods=["GET"]),
        Route("/pages/{id}/children", page_children, methods=["GET"]),
        Route("/pages/{id}/ancestors", ancestors, methods=["GET"]),
        Route("/pages/{id}/labels", page_labels, methods=["GET"]),
        Route("/pages/{id}/attachments", page_attachments, methods=["GET"]),
        Route("/blogposts/{id}", get_blogpost, methods=["GET"]),
        Route("/blogposts/{id}", update_blogpost, methods=["PUT"]),
        Route("/blogposts/{id}", delete_blogpost, methods=["DELETE"]),
        Route("/blogposts/{id}/labels", blogpost_labels, methods=["GET"]),
        Route("/blogposts/{id}/attachments", blogpost_attachments, methods=["GET"]),
        Route("/spaces", list_spaces, methods=["GET"]),
        Route("/spaces/{id}", get_space, methods=["GET"]),
        Route("/spaces/{id}/pages", space_pages, methods=["GET"]),
    ]
