"""Request helpers shared by the route modules: state, error envelopes, paging, parameters."""

from __future__ import annotations

import functools
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from confluence_mcp.sandbox.model import Flavor, SandboxError
from confluence_mcp.sandbox.serialize import Serializer
from confluence_mcp.sandbox.store import Store

__all__ = [
    "SandboxState",
    "endpoint",
    "error_response",
    "int_param",
    "json_body",
    "paged",
    "serializer",
    "state",
]

_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
            413: "Request Entity Too Large", 429: "Too Many Requests", 500: "Internal Server Error"}
_CLOUD_EXCEPTIONS = {400: "BadRequestException", 403: "PermissionException", 404: "NotFoundException",
                     409: "ConflictException", 413: "BadRequestException"}
_V2_CODES = {400: "INVALID_REQUEST_PARAMETER", 403: "FORBIDDEN", 404: "NOT_FOUND", 409: "CONFLICT",
             413: "PAYLOAD_TOO_LARGE"}


@dataclass
class SandboxState:
    store: Store
    flavor: Flavor
    context: str  # "/wiki" on Cloud, the context path ("" or "/confluence") on Server
    media_key: bytes = field(default_factory=lambda: secrets.token_bytes(16))  # signs media URLs


def state(request: Request) -> SandboxState:
    sandbox: SandboxState = request.app.state.sandbox
    return sandbox


def site_base(request: Request) -> str:
    host = request.headers.get("host") or f"{request.url.hostname}:{request.url.port}"
    return f"{request.url.scheme}://{host}{state(request).context}"


def serializer(request: Request) -> Serializer:
    sandbox = state(request)
    return Serializer(sandbox.store, site_base(request), sandbox.context)


def error_response(request: Request, status: int, message: str) -> Response:
    """The flavour's error envelope: v2 `errors` array, Cloud v1 (exception-prefixed) or DC v1."""
    sandbox = state(request)
    if "/api/v2/" in request.url.path:
        return JSONResponse({"errors": [{"status": status, "code": _V2_CODES.get(status, "ERROR"),
                                         "title": message, "detail": None}]}, status_code=status)
    if sandbox.flavor == "cloud":
        exception = _CLOUD_EXCEPTIONS.get(status, "ServiceException")
        return JSONResponse({"statusCode": status,
                             "data": {"authorized": True, "valid": True, "errors": [], "successful": False},
                             "message": f"com.atlassian.confluence.api.service.exceptions.{exception}: {message}"},
                            status_code=status)
    return JSONResponse({"statusCode": status,
                         "data": {"authorized": False, "valid": True, "allowedInReadOnlyMode": True,
                                  "errors": [], "successful": False},
                         "message": message, "reason": _REASONS.get(status, "Error")}, status_code=status)


def endpoint(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """Turn SandboxError raised by a handler into the flavour's error envelope."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except SandboxError as error:
            return error_response(request, error.status, error.message)
        except (AttributeError, TypeError, KeyError) as error:
            if request.method not in ("POST", "PUT"):
                raise
            # A body of the wrong shape (e.g. "space": "KEY"); Confluence answers with a mapping error.
            return error_response(request, 400, f"Unable to map the request body: {error!r}")

    return wrapped


def int_param(request: Request, name: str, default: int, *, minimum: int = 0,
              maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as error:
        raise SandboxError(400, f"Invalid value for parameter {name}: {raw}") from error
    value = max(value, minimum)
    return min(value, maximum) if maximum is not None else value


async def json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw or b"null")
    except ValueError as error:
        raise SandboxError(400, f"Unable to parse request body as JSON: {error}") from error


def paged(request: Request, items: list[Any], *, start: int, limit: int, self_path: str,
          render: Callable[[Any], Any] | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The v1 offset envelope; `_links.next` only when more results exist (relative to `_links.base`)."""
    ser = serializer(request)
    chosen = [render(item) if render else item for item in items[start:start + limit]]
    query = {k: v for k, v in request.query_params.items() if k not in ("start", "limit")}
    links = ser.envelope_links(self_path + (f"?{urlencode(query)}" if query else ""))
    if start + limit < len(items):
        links["next"] = f"{self_path}?{urlencode({**query, 'limit': limit, 'start': start + limit})}"
    if start > 0:
        links["prev"] = f"{self_path}?{urlencode({**query, 'limit': limit, 'start': max(0, start - limit)})}"
    return {"results": chosen, "start": start, "limit": limit, "size": len(chosen), **(extra or {}),
            "_links": links}
