"""v1 content routes: list, get (with expand and historical versions), create, update, delete, children."""

from __future__ import annotations

import dataclasses
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from confluence_mcp.sandbox.http import endpoint, int_param, json_body, paged, serializer, state
from confluence_mcp.sandbox.model import Content, SandboxError
from confluence_mcp.sandbox.serialize import parse_expand

__all__ = ["content_routes", "storage_from_payload"]

DEFAULT_SINGLE_EXPAND = "space,history,version"
API = "/rest/api"


def storage_from_payload(payload: dict[str, Any]) -> str | None:
    """The storage value of a v1 body (`body.storage.value`); other representations are refused."""
    body = payload.get("body")
    if not body:
        return None
    storage = body.get("storage") if isinstance(body, dict) else None
    if not isinstance(storage, dict):
        raise SandboxError(400, "Only the storage representation is supported for body")
    if storage.get("representation", "storage") != "storage":
        raise SandboxError(400, f"Unsupported representation: {storage.get('representation')}")
    return str(storage.get("value", ""))


def _parent_from(payload: dict[str, Any]) -> str | None:
    ancestors = payload.get("ancestors") or []
    if not isinstance(ancestors, list) or not ancestors:
        return None
    return str(ancestors[-1].get("id"))  # only the last ancestor (the parent) is honoured


def _at_version(content: Content, number: int) -> Content:
    if not 1 <= number <= len(content.versions):
        raise SandboxError(404, f"No content found with id : {content.id} and version {number}")
    return dataclasses.replace(content, versions=content.versions[:number])


@endpoint
async def list_content(request: Request) -> Response:
    params = request.query_params
    store = state(request).store
    items = store.list_content(space_key=params.get("spaceKey"), title=params.get("title"),
                               content_type=params.get("type", "page"), status=params.get("status", "current"))
    return _content_page(request, items, f"{API}/content")


@endpoint
async def get_content(request: Request) -> Response:
    params = request.query_params
    statuses = params.getlist("status") or ["current"]
    store = state(request).store
    if request.path_params["id"] in store.attachments:  # attachments are content too
        attachment = store.attachment(request.path_params["id"])
        return JSONResponse(serializer(request).attachment(attachment, parse_expand(params.get("expand"))))
    content = store.get(request.path_params["id"], statuses)
    if params.get("version"):
        content = _at_version(content, int_param(request, "version", 1, minimum=1))
    expand = parse_expand(params.get("expand", DEFAULT_SINGLE_EXPAND))
    return JSONResponse(serializer(request).content(content, expand, top_level=True))


@endpoint
async def create_content(request: Request) -> Response:
    payload = await json_body(request)
    if not isinstance(payload, dict):
        raise SandboxError(400, "Request body must be a JSON object")
    content_type = payload.get("type", "page")
    if content_type == "comment":
        return _create_comment(request, payload)
    space_key = (payload.get("space") or {}).get("key")
    if not space_key:
        raise SandboxError(400, "Space key is required to create content")
    if content_type not in ("page", "blogpost"):
        raise SandboxError(400, f"Unsupported content type: {content_type}")
    labels = [label.get("name", "") for label in (payload.get("metadata") or {}).get("labels", [])]
    store = state(request).store
    content = store.create(
        space_key=space_key, title=str(payload.get("title") or ""), body=storage_from_payload(payload) or "",
        content_type=content_type, parent_id=_parent_from(payload),
        status=request.query_params.get("status") or payload.get("status", "current"), labels=labels)
    expand = _written_expand(request)
    return JSONResponse(serializer(request).content(content, expand, top_level=True))


def _written_expand(request: Request) -> set[str]:
    """What a write's answer expands: the request's `expand` (default: a single read's), always with the body."""
    return parse_expand(request.query_params.get("expand", DEFAULT_SINGLE_EXPAND)) | parse_expand("body.storage")


def _create_comment(request: Request, payload: dict[str, Any]) -> Response:
    """A footer comment: `container` names the page, `ancestors` (optional) the comment it replies to."""
    container = payload.get("container")
    if not isinstance(container, dict) or not container.get("id"):
        raise SandboxError(400, "A comment needs a container (the page it is on)")
    ancestors = payload.get("ancestors") or []
    if not isinstance(ancestors, list) or not all(isinstance(a, dict) and a.get("id") for a in ancestors):
        raise SandboxError(400, "ancestors must be a list of {id} objects (the comment replied to last)")
    reply_to = str(ancestors[-1]["id"]) if ancestors else None
    comment = state(request).store.add_comment(str(container["id"]), storage_from_payload(payload) or "",
                                               reply_to=reply_to)
    expand = _written_expand(request)
    return JSONResponse(serializer(request).content(comment, expand, top_level=True))


@endpoint
async def update_content(request: Request) -> Response:
    payload = await json_body(request)
    if not isinstance(payload, dict):
        raise SandboxError(400, "Request body must be a JSON object")
    version = (payload.get("version") or {}).get("number")
    if not payload.get("title") or not isinstance(version, int):
        raise SandboxError(400, "title, type and version.number are required to update content")
    store = state(request).store
    content = store.update(
        request.path_params["id"], title=str(payload["title"]), version=version,
        body=storage_from_payload(payload), parent_id=_parent_from(payload),
        status=request.query_params.get("status") or payload.get("status", "current"),
        message=str((payload.get("version") or {}).get("message") or ""),
        minor_edit=bool((payload.get("version") or {}).get("minorEdit", False)))
    labels = (payload.get("metadata") or {}).get("labels")
    if isinstance(labels, list):  # a content PUT carrying labels replaces them all
        with store.lock:
            content.labels = []
            store.add_labels(content.id, [(lb.get("prefix", "global"), lb.get("name", "")) for lb in labels])
    expand = _written_expand(request)
    return JSONResponse(serializer(request).content(content, expand, top_level=True))


@endpoint
async def delete_content(request: Request) -> Response:
    purge = request.query_params.get("status") == "trashed"
    store = state(request).store
    if request.path_params["id"] in store.attachments:  # attachments skip the trash
        store.delete_attachment(request.path_params["id"])
    else:
        store.delete(request.path_params["id"], purge=purge)
    return Response(status_code=204)


@endpoint
async def move_content(request: Request) -> Response:
    params = request.path_params
    content = state(request).store.move(params["id"], params["position"], params["target"])
    return JSONResponse({"pageId": content.id})


@endpoint
async def child_map(request: Request) -> Response:
    content = state(request).store.get(request.path_params["id"])
    expand = parse_expand(request.query_params.get("expand"))
    ser = serializer(request)
    data = ser.children(content, {f"children.{e}" for e in expand} | {"children"})
    data["_links"] = ser.envelope_links(f"{API}/content/{content.id}/child")
    return JSONResponse(data)


@endpoint
async def child_pages(request: Request) -> Response:
    store = state(request).store
    content = store.get(request.path_params["id"])
    kind = request.path_params["kind"]
    if kind not in ("page", "comment"):
        raise SandboxError(400, f"Unsupported child type: {kind}")
    if kind == "page":
        items = store.children(content.id)
    else:  # the page's comments: top-level ones, or every reply too with depth=all
        items = store.comments(content.id, replies=request.query_params.get("depth") == "all")
    return _content_page(request, items, f"{API}/content/{content.id}/child/{kind}")


@endpoint
async def descendants(request: Request) -> Response:
    store = state(request).store
    content = store.get(request.path_params["id"])
    kind = request.path_params.get("kind", "page")
    raw_depth = request.query_params.get("depth", "all")
    depth = None if raw_depth == "all" else 1 if raw_depth == "root" else int_param(request, "depth", 1,
                                                                                    minimum=1, maximum=100)
    items = store.descendants(content.id, depth) if kind == "page" else []
    return _content_page(request, items, f"{API}/content/{content.id}/descendant/{kind}")


def _content_page(request: Request, items: list[Any], self_path: str) -> Response:
    """One start/limit page of content objects, expanded as the request asks."""
    expand = parse_expand(request.query_params.get("expand"))
    ser = serializer(request)
    return JSONResponse(paged(request, items, start=int_param(request, "start", 0),
                              limit=int_param(request, "limit", 25, minimum=1, maximum=200),
                              self_path=self_path, render=lambda c: ser.content(c, expand)))


@endpoint
async def versions(request: Request) -> Response:
    content = state(request).store.get(request.path_params["id"], ("current", "trashed"))
    ser = serializer(request)
    history = list(reversed(content.versions))  # newest first, as Confluence lists them
    return JSONResponse(paged(request, history, start=int_param(request, "start", 0),
                              limit=int_param(request, "limit", 200, minimum=1, maximum=200),
                              self_path=f"{API}/content/{content.id}/version",
                              render=lambda v: ser.version(content.id, v)))


@endpoint
async def one_version(request: Request) -> Response:
    content = state(request).store.get(request.path_params["id"], ("current", "trashed"))
    number = int(request.path_params["number"])
    snapshot = _at_version(content, number)
    return JSONResponse(serializer(request).version(content.id, snapshot.version))


@endpoint
async def history(request: Request) -> Response:
    content = state(request).store.get(request.path_params["id"])
    data = serializer(request).content(content, {"history"})["history"]
    return JSONResponse(data)


_RESTRICTION_OPERATIONS = ("read", "update")


@endpoint
async def restrictions(request: Request) -> Response:
    """Read/update restrictions of a page. The sandbox restricts whole spaces, never single pages, so the lists
    are empty; the routes exist because loaders (LangChain's among them) ask once per page before indexing it."""
    content = state(request).store.get(request.path_params["id"])
    operation = request.path_params.get("operation")
    if operation is not None and operation not in _RESTRICTION_OPERATIONS:
        raise SandboxError(400, f"Unsupported operation key: {operation}")
    ser = serializer(request)
    base = f"{API}/content/{content.id}/restriction/byOperation"

    def one(op: str) -> dict[str, Any]:
        empty = {"results": [], "start": 0, "limit": 200, "size": 0}
        return {"operation": op, "restrictions": {"user": dict(empty), "group": dict(empty)},
                "_expandable": {"content": f"{API}/content/{content.id}"},
                "_links": {"self": ser.base + f"{base}/{op}"}}

    if operation is not None:
        return JSONResponse(one(operation))
    data: dict[str, Any] = {op: one(op) for op in _RESTRICTION_OPERATIONS}
    data["_links"] = ser.envelope_links(base)
    return JSONResponse(data)


@endpoint
async def properties(request: Request) -> Response:
    """A page's content properties. The sandbox stores none, so the list is empty; the route exists because
    clients (mcp-atlassian among them) read it with every page, and a 404 there would be a fidelity gap."""
    content = state(request).store.get(request.path_params["id"])
    ser = serializer(request)
    limit = int_param(request, "limit", 10, minimum=1, maximum=200)
    return JSONResponse({"results": [], "start": 0, "limit": limit, "size": 0,
                         "_links": ser.envelope_links(f"{API}/content/{content.id}/property")})


def content_routes() -> list[Route]:
    return [
        Route("/content", list_content, methods=["GET"]),
        Route("/content", create_content, methods=["POST"]),
        Route("/content/{id}", get_content, methods=["GET"]),
        Route("/content/{id}", update_content, methods=["PUT"]),
        Route("/content/{id}", delete_content, methods=["DELETE"]),
        Route("/content/{id}/move/{position}/{target}", move_content, methods=["PUT"]),
        Route("/content/{id}/child", child_map, methods=["GET"]),
        Route("/content/{id}/child/{kind:str}", child_pages, methods=["GET"]),
        Route("/content/{id}/descendant", descendants, methods=["GET"]),
        Route("/content/{id}/descendant/{kind:str}", descendants, methods=["GET"]),
        Route("/content/{id}/version", versions, methods=["GET"]),
        Route("/content/{id}/version/{number:int}", one_version, methods=["GET"]),
        Route("/content/{id}/history", history, methods=["GET"]),
        Route("/content/{id}/restriction/byOperation", restrictions, methods=["GET"]),
        Route("/content/{id}/restriction/byOperation/{operation:str}", restrictions, methods=["GET"]),
        Route("/content/{id}/property", properties, methods=["GET"]),
    ]
