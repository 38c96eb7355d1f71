"""Attachment routes: list, multipart upload (XSRF header required), new data, downloads."""

from __future__ import annotations

import hashlib
import hmac
import mimetypes
from urllib.parse import unquote, urlencode

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from confluence_mcp.sandbox.auth import MEDIA_PREFIX
from confluence_mcp.sandbox.http import endpoint, int_param, paged, serializer, state
from confluence_mcp.sandbox.model import Attachment, AttachmentVersion, SandboxError
from confluence_mcp.sandbox.serialize import parse_expand

__all__ = ["attachment_routes", "download_routes"]

API = "/rest/api"
_XSRF_VALUES = {"no-check", "nocheck"}


async def _uploads(request: Request) -> list[tuple[str, bytes, str, str]]:
    """(filename, data, media type, comment) per `file` part; 403 without the XSRF opt-out header."""
    if request.headers.get("x-atlassian-token", "").lower() not in _XSRF_VALUES:
        raise SandboxError(403, "XSRF check failed")
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise SandboxError(415, "Attachments must be uploaded as multipart/form-data")
    form = await request.form()
    files = [part for part in form.getlist("file") if isinstance(part, UploadFile)]
    if not files:
        raise SandboxError(400, "No file part named 'file' in the upload")
    comments = [str(c) for c in form.getlist("comment")]
    uploads = []
    for index, upload in enumerate(files):
        filename = upload.filename or "file"
        media_type = (upload.content_type if upload.content_type not in (None, "application/octet-stream")
                      else None) or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        comment = comments[index] if index < len(comments) else ""
        uploads.append((filename, await upload.read(), media_type, comment))
    return uploads


@endpoint
async def list_attachments(request: Request) -> Response:
    params = request.query_params
    store = state(request).store
    content_id = request.path_params["id"]
    items = store.list_attachments(content_id, filename=params.get("filename"),
                                   media_type=params.get("mediaType"))
    ser = serializer(request)
    expand = parse_expand(params.get("expand"))
    return JSONResponse(paged(request, items, start=int_param(request, "start", 0),
                              limit=int_param(request, "limit", 25, minimum=1, maximum=200),
                              self_path=f"{API}/content/{content_id}/child/attachment",
                              render=lambda a: ser.attachment(a, expand)))


async def _store_uploads(request: Request, *, replace: bool) -> Response:
    store = state(request).store
    content_id = request.path_params["id"]
    store.get(content_id)  # 404 before reading the body
    created: list[Attachment] = []
    for filename, data, media_type, comment in await _uploads(request):
        created.append(store.add_attachment(content_id, filename, data, media_type=media_type,
                                            comment=comment, replace=replace))
    ser = serializer(request)
    return JSONResponse({"results": [ser.attachment(a) for a in created], "size": len(created),
                         "_links": ser.envelope_links(f"{API}/content/{content_id}/child/attachment")})


@endpoint
async def create_attachments(request: Request) -> Response:
    return await _store_uploads(request, replace=False)


@endpoint
async def put_attachments(request: Request) -> Response:
    return await _store_uploads(request, replace=True)


@endpoint
async def update_data(request: Request) -> Response:
    store = state(request).store
    attachment = store.attachment(request.path_params["att"], request.path_params["id"])
    uploads = await _uploads(request)
    filename, data, media_type, comment = uploads[0]
    updated = store.add_attachment_version(attachment.id, data, media_type=media_type, comment=comment,
                                           filename=filename)
    return JSONResponse(serializer(request).attachment(updated))


@endpoint
async def delete_attachment(request: Request) -> Response:
    store = state(request).store
    store.attachment(request.path_params["att"], request.path_params["id"])
    store.delete_attachment(request.path_params["att"])
    return Response(status_code=204)


@endpoint
async def download_redirect(request: Request) -> Response:
    """Cloud's `/child/attachment/{attId}/download`: 302 to a signed media URL (Cloud's media host). Server/DC has
    no such endpoint: clients there download from the attachment's `_links.download`."""
    if state(request).flavor != "cloud":
        raise SandboxError(404, "No REST download endpoint on Confluence Server/Data Center: "
                                "use the attachment's _links.download.")
    attachment = state(request).store.attachment(request.path_params["att"], request.path_params["id"])
    version = _version(request, attachment).number
    token = _media_token(request, attachment.id, version)
    return RedirectResponse(f"{MEDIA_PREFIX}/{attachment.id}?{urlencode({'version': version, 'token': token})}",
                            status_code=302)


@endpoint
async def media_file(request: Request) -> Response:
    """A signed media URL: the binary without credentials; a wrong or missing signature is 401."""
    attachment = state(request).store.attachment(request.path_params["att"])
    version = _version(request, attachment)
    if not hmac.compare_digest(request.query_params.get("token", ""),
                               _media_token(request, attachment.id, version.number)):
        raise SandboxError(401, "The media token is missing, invalid or for another file.")
    return _binary(attachment, version)


@endpoint
async def download_file(request: Request) -> Response:
    """The binary at `/download/attachments/<pageId>/<file>` (relative to `_links.base`). Cloud stopped serving
    this browser path to API tokens in 2026 (401): API clients use the REST download endpoint there."""
    if state(request).flavor == "cloud":
        return PlainTextResponse("Unauthorized", status_code=401, headers={
            "WWW-Authenticate": f'OAuth realm="{serializer(request).base}"'})
    store = state(request).store
    content_id = request.path_params["id"]
    filename = unquote(request.path_params["filename"])
    attachment = store.find_attachment(content_id, filename)
    if attachment is None:
        raise SandboxError(404, f"No attachment {filename} on content {content_id}")
    return _binary(attachment, _version(request, attachment))


def _version(request: Request, attachment: Attachment) -> AttachmentVersion:
    """The `version` the request asks for (the current one when absent or unknown)."""
    number = int_param(request, "version", attachment.current.number, minimum=1)
    return next((v for v in attachment.versions if v.number == number), attachment.current)


def _binary(attachment: Attachment, version: AttachmentVersion) -> Response:
    return Response(version.data, media_type=attachment.media_type,
                    headers={"Content-Disposition": f'attachment; filename="{attachment.filename}"'})


def _media_token(request: Request, attachment_id: str, version: int) -> str:
    key = state(request).media_key
    return hmac.new(key, f"{attachment_id}:{version}".encode(), hashlib.sha256).hexdigest()[:32]


def attachment_routes() -> list[Route]:
    return [
        Route("/content/{id}/child/attachment", list_attachments, methods=["GET"]),
        Route("/content/{id}/child/attachment", create_attachments, methods=["POST"]),
        Route("/content/{id}/child/attachment", put_attachments, methods=["PUT"]),
        Route("/content/{id}/child/attachment/{att}/data", update_data, methods=["POST"]),
        Route("/content/{id}/child/attachment/{att}/download", download_redirect, methods=["GET"]),
        Route("/content/{id}/child/attachment/{att}", delete_attachment, methods=["DELETE"]),
    ]


def download_routes() -> list[Route]:
    return [Route("/download/attachments/{id}/{filename:path}", download_file, methods=["GET"])]


def media_routes() -> list[Route]:
    """At the origin's root, outside the site's context path, as a separate host would be."""
    return [Route(MEDIA_PREFIX + "/{att}", media_file, methods=["GET"])]
