"""v1 routes for labels, spaces and users."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from confluence_mcp.sandbox.http import endpoint, int_param, json_body, paged, serializer, state
from confluence_mcp.sandbox.model import Content, SandboxError
from confluence_mcp.sandbox.serialize import parse_expand

__all__ = ["misc_routes"]

API = "/rest/api"


# -- labels ----------------------------------------------------------------------------------------
@endpoint
async def get_labels(request: Request) -> Response:
    content = state(request).store.get(request.path_params["id"])
    prefix = request.query_params.get("prefix")
    ser = serializer(request)
    start = int_param(request, "start", 0)
    limit = int_param(request, "limit", 200, minimum=1, maximum=200)
    data = ser.labels(content, f"{API}/content/{content.id}/label", start, limit)
    if prefix:
        data["results"] = [lb for lb in data["results"] if lb["prefix"] == prefix]  # type: ignore[attr-defined]
        data["size"] = len(data["results"])  # type: ignore[arg-type]
    return JSONResponse(data)


@endpoint
async def add_labels(request: Request) -> Response:
    payload = await json_body(request)
    entries = payload if isinstance(payload, list) else [payload]
    pairs: list[tuple[str, str]] = []
    for entry in entries:
        if isinstance(entry, str):
            pairs.append(("global", entry))
        elif isinstance(entry, dict) and entry.get("name"):
            pairs.append((str(entry.get("prefix") or "global"), str(entry["name"])))
        else:
            raise SandboxError(400, "Labels must be objects with a name")
    content = state(request).store.add_labels(request.path_params["id"], pairs)
    return JSONResponse(serializer(request).labels(content, f"{API}/content/{content.id}/label"))


@endpoint
async def delete_label(request: Request) -> Response:
    name = request.path_params.get("name") or request.query_params.get("name")
    if not name:
        raise SandboxError(400, "Label name is required")
    if "/" in request.path_params.get("name", ""):
        raise SandboxError(400, "Label names containing '/' must be deleted with ?name=")
    state(request).store.remove_label(request.path_params["id"], name)
    return Response(status_code=204)


# -- spaces ----------------------------------------------------------------------------------------
@endpoint
async def list_spaces(request: Request) -> Response:
    params = request.query_params
    spaces = state(request).store.visible_spaces()
    keys = set(params.getlist("spaceKey")) | {k for v in params.getlist("keys") for k in v.split(",") if k}
    if keys:
        spaces = [s for s in spaces if s.key in keys]
    if params.get("type"):
        spaces = [s for s in spaces if s.type == params["type"]]
    if params.get("status"):
        spaces = [s for s in spaces if s.status == params["status"]]
    expand = parse_expand(params.get("expand"))
    ser = serializer(request)
    return JSONResponse(paged(request, spaces, start=int_param(request, "start", 0),
                              limit=int_param(request, "limit", 25, minimum=1, maximum=500),
                              self_path=f"{API}/space", render=lambda s: ser.space(s, expand)))


@endpoint
async def get_space(request: Request) -> Response:
    space = state(request).store.space(request.path_params["key"])
    expand = parse_expand(request.query_params.get("expand"))
    data = serializer(request).space(space, expand)
    return JSONResponse(data)


@endpoint
async def space_content(request: Request) -> Response:
    store = state(request).store
    space = store.space(request.path_params["key"])
    params = request.query_params
    depth = params.get("depth", "all")
    expand = parse_expand(params.get("expand"))
    ser = serializer(request)
    start = int_param(request, "start", 0)
    limit = int_param(request, "limit", 25, minimum=1, maximum=200)

    def of_type(kind: str) -> list[Content]:
        if depth == "root" and kind == "page":
            return [c for c in store.children(None, space.key) if c.type == "page"]  # blog posts have no parent
        return store.list_content(space_key=space.key, content_type=kind)

    base_path = f"{API}/space/{space.key}/content"
    kind = request.path_params.get("kind")
    if kind:
        return JSONResponse(paged(request, of_type(kind), start=start, limit=limit,
                                  self_path=f"{base_path}/{kind}", render=lambda c: ser.content(c, expand)))
    data = {k: paged(request, of_type(k), start=start, limit=limit, self_path=f"{base_path}/{k}",
                     render=lambda c: ser.content(c, expand)) for k in ("page", "blogpost")}
    return JSONResponse({**data, "_links": ser.envelope_links(base_path)})


# -- users -----------------------------------------------------------------------------------------
@endpoint
async def current_user(request: Request) -> Response:
    return JSONResponse(serializer(request).user(state(request).store.current_user))


@endpoint
async def get_user(request: Request) -> Response:
    params = request.query_params
    ident = params.get("accountId") or params.get("username") or params.get("key")
    if not ident:
        raise SandboxError(400, "One of accountId, username or key is required")
    user = state(request).store.find_user(ident)
    if user is None:
        raise SandboxError(404, f"No user found with identifier : {ident}")
    return JSONResponse(serializer(request).user(user))


def misc_routes() -> list[Route]:
    return [
        Route("/content/{id}/label", get_labels, methods=["GET"]),
        Route("/content/{id}/label", add_labels, methods=["POST"]),
        Route("/content/{id}/label", delete_label, methods=["DELETE"]),
        Route("/content/{id}/label/{name:path}", delete_label, methods=["DELETE"]),
        Route("/space", list_spaces, methods=["GET"]),
        Route("/space/{key}", get_space, methods=["GET"]),
        Route("/space/{key}/content", space_content, methods=["GET"]),
        Route("/space/{key}/content/{kind}", space_content, methods=["GET"]),
        Route("/user/current", current_user, methods=["GET"]),
        Route("/user", get_user, methods=["GET"]),
    ]
