"""The escape hatch: one raw REST request to the configured site, confined to relative paths.

Confinement happens before any request: absolute URLs, `//host`, backslashes and `..` segments (also when
percent-encoded, at any depth) are refused; methods other than GET are refused in read-only mode. The tool is
annotated destructive because it can DELETE. It is not confined to the toolkit's allowed spaces: disable it via
the toolkit's `tools` list when strict space confinement matters.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any
from urllib.parse import unquote

import httpx
from mcp.server.mcpserver import Context
from pydantic import Field

from confluence_mcp.errors import AuthenticationFailed, BadRequest, PolicyError
from confluence_mcp.tools.context import KitRuntime, current_kit
from confluence_mcp.tools.models import GenericResponse, JsonScalar, JsonValue
from confluence_mcp.tools.registry import tool

__all__ = ["MAX_RESPONSE_CHARS", "confine_path", "execute_generic_confluence", "strip_noise"]

MAX_RESPONSE_CHARS = 40_000
_METHODS = ("GET", "POST", "PUT", "DELETE")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_SERVLET = re.compile(r"^/download/(?:attachments|thumbnails)/")  # the web UI's file links
_REST_DOWNLOAD = re.compile(r"^/rest/api/content/[^/?#]+/child/attachment/[^/?#]+/download(?:[?#]|$)")


def confine_path(relative_url: str, site_url: str) -> str:
    """A safe path relative to the site, or BadRequest/PolicyError explaining why not."""
    raw = relative_url.strip()
    decoded = _unquote_fully(raw)
    # The path ends at the first literal ? or # (an encoded one is part of the path, and so are the dot segments
    # after it); `..;x` is `..` to Tomcat, which drops a segment's ;parameters. The query may hold anything (CQL
    # escapes with backslashes).
    path_part = _unquote_fully(re.split(r"[?#]", raw, maxsplit=1)[0])
    if _SCHEME.match(decoded) or decoded.startswith(("//", "\\")) or "\\" in path_part:
        raise PolicyError(f"Refused {relative_url!r}: only paths relative to the configured site are allowed "
                          "(e.g. /rest/api/content/123), not absolute URLs.")
    if any(seg.split(";", 1)[0] in ("..", ".") for seg in path_part.split("/")):
        raise PolicyError(f"Refused {relative_url!r}: '..' or '.' path segments are not allowed.")
    if re.search(r"[\x00-\x1f\x7f]", decoded):
        raise BadRequest(f"Refused {relative_url!r}: control characters are not allowed in a path.")
    path = raw if raw.startswith("/") else "/" + raw
    # Cloud sites live under /wiki; accept paths written either way.
    context = "/" + site_url.rstrip("/").split("/", 3)[3] if site_url.count("/") > 2 else ""
    if context not in ("", "/") and path.startswith(context + "/"):
        path = path[len(context):]
    return path


def _unquote_fully(text: str) -> str:
    for _ in range(4):  # double/triple encoding must not smuggle anything through
        once = unquote(text)
        if once == text:
            break
        text = once
    return text


def strip_noise(value: Any) -> Any:
    """Drop `_expandable` and keep only useful `_links` (webui, next, download) everywhere in a JSON value."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key == "_expandable":
                continue
            if key == "_links" and isinstance(item, dict):
                kept = {k: v for k, v in item.items() if k in ("webui", "next", "download", "tinyui")}
                if kept:
                    out[key] = kept
                continue
            out[key] = strip_noise(item)
        return out
    if isinstance(value, list):
        return [strip_noise(v) for v in value]
    return value


def _parse_json_arg(name: str, value: Any) -> Any:
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise BadRequest(f"`{name}` is not valid JSON: {exc}") from exc
    return value


def _truncate(body: Any) -> tuple[Any, bool, str | None]:
    text = json.dumps(body, ensure_ascii=False)
    if len(text) <= MAX_RESPONSE_CHARS:
        return body, False, None
    if isinstance(body, dict) and isinstance(body.get("results"), list):
        results = list(body["results"])
        total = len(results)
        while results and len(json.dumps({**body, "results": results}, ensure_ascii=False)) > MAX_RESPONSE_CHARS:
            results = results[: max(0, len(results) * 3 // 4)]
        if results:
            note = (f"Response truncated: showing {len(results)} of {total} results; ask for fewer "
                    "(limit=...) or page with start/cursor.")
            return {**body, "results": results}, True, note
    note = f"Response truncated to {MAX_RESPONSE_CHARS} of {len(text)} characters; narrow the request."
    return text[:MAX_RESPONSE_CHARS], True, note


@tool("generic", "Generic Confluence request", read_only=False, destructive=True, method_dependent=True)
async def execute_generic_confluence(
    # No `pattern`: the description says the same and the body refuses other methods with a clear message.
    method: Annotated[str, Field(description="GET, POST, PUT or DELETE.")],
    relative_url: Annotated[str, Field(min_length=1, max_length=2000, description="Site-relative path, e.g. "
                                       "/rest/api/content/123")],
    ctx: Context,
    params: Annotated[dict[str, Any] | list[dict[str, Any] | JsonScalar | None] | str | None, Field(
        description="Query parameters; for POST/PUT without body, the JSON body.")] = None,
    body: Annotated[JsonValue | None, Field(description="JSON body for POST/PUT, as a value or JSON text.")] = None,
) -> GenericResponse:
    """Send one REST request to the site and return its JSON (truncated if large). Non-GET can change or delete
    content and is refused in read-only mode."""
    kit: KitRuntime = current_kit(ctx)
    verb = method.upper()
    if verb not in _METHODS:
        raise BadRequest(f"Method {method!r} is not supported; use one of {', '.join(_METHODS)}.")
    if verb != "GET" and kit.toolkit.settings.read_only:
        raise PolicyError(f"Toolkit '{kit.name}' is read-only: {verb} requests are refused; only GET is allowed.")
    path = confine_path(relative_url, kit.client.site_url)
    query = _parse_json_arg("params", params)
    payload = _parse_json_arg("body", body)
    if verb == "GET" and payload is not None:
        raise BadRequest("GET requests carry no body: pass query parameters in `params` (or in relative_url).")
    # ELITEA sends `params` as the body of a write; DELETE endpoints take no body, so there they stay the query.
    if verb in ("POST", "PUT") and payload is None and isinstance(query, dict | list):
        query, payload = None, query
    if query is not None and not isinstance(query, dict):
        raise BadRequest("`params` must be a JSON object of query parameters.")
    try:
        # Cloud's attachment download answers 302 to its media host, followed without credentials. Other
        # redirects are reported, not followed: an open redirect on the site must not make this server fetch
        # arbitrary URLs.
        response = await kit.client.request(verb, path, params=query, json=payload, api="site",
                                            follow_redirects=verb == "GET" and bool(_REST_DOWNLOAD.match(path)))
    except AuthenticationFailed as exc:
        if kit.client.hosting == "cloud" and _SERVLET.match(path):
            raise AuthenticationFailed(
                f"Confluence Cloud answered HTTP 401 to GET {path}: Cloud does not serve /download/ links to API "
                "tokens. Fetch the file with GET /rest/api/content/<pageId>/child/attachment/<attachmentId>/download "
                "(ids from get_page_attachments).", detail=exc.detail) from None
        raise
    parsed, binary_note = _response_body(response)
    if response.is_redirect:
        binary_note = f"Redirect to {response.headers.get('location', '(no location)')}, not followed."
    shown, truncated, note = _truncate(strip_noise(parsed))
    return GenericResponse(status=response.status_code, method=verb, url=path, body=typed_body(shown),
                           truncated=truncated, note=note or binary_note)


def _response_body(response: httpx.Response) -> tuple[Any, str | None]:
    """JSON, or text for textual types; a binary body (an attachment, an image) is described, not dumped as
    mojibake into the model's context."""
    if not response.content:
        return None, None
    try:
        return response.json(), None
    except ValueError:
        pass
    kind = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind.startswith("text/") or kind.endswith(("xml", "json", "javascript")):
        return response.text, None
    if not kind:
        try:
            return response.content.decode("utf-8"), None
        except UnicodeDecodeError:
            pass
    return None, (f"Binary response ({kind or 'unknown type'}, {len(response.content):,} bytes) not shown: this "
                  "tool returns JSON and text only.")


def typed_body(body: Any) -> Any:
    """The body as the output schema types it: JSON it has no type for (arrays of arrays) travels as JSON text."""
    if isinstance(body, list) and any(isinstance(item, list) for item in body):
        return json.dumps(body, ensure_ascii=False)
    return body
