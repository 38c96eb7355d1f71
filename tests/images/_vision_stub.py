"""A tiny OpenAI-compatible chat server on 127.0.0.1 that describes images, and a plain image host.

The chat stub answers 400 unless the last user message carries an `image_url` part (a data URI or an http URL),
so a test passing through it proves an image was really sent. It logs every request body.
"""

from __future__ import annotations

from typing import Any

from _stub_server import RunningServer, chat_completion, serve
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = ["DESCRIPTION", "RunningServer", "image_urls", "start_image_host", "start_vision_stub"]

DESCRIPTION = "A striped test picture with two colours."


def image_urls(body: dict[str, Any]) -> list[str]:
    """The image_url URLs of a chat request's user messages."""
    urls = []
    for message in body.get("messages", []):
        content = message.get("content")
        if message.get("role") == "user" and isinstance(content, list):
            urls += [part["image_url"]["url"] for part in content if part.get("type") == "image_url"]
    return urls


def start_vision_stub() -> RunningServer:
    """The chat stub; `base_url` ends with /v1 as the openai package expects."""
    log: list[dict[str, Any]] = []

    async def chat(request: Request) -> JSONResponse:
        body = await request.json()
        log.append(body)
        if not image_urls(body):
            return JSONResponse({"error": {"message": "no image in the request"}}, status_code=400)
        return JSONResponse(chat_completion(body, DESCRIPTION))

    return serve([Route("/v1/chat/completions", chat, methods=["POST"])], log, "/v1")


def start_image_host(png: bytes) -> RunningServer:
    """A foreign host serving `png` at every path and logging requests (it must never be called)."""
    log: list[dict[str, Any]] = []

    async def image(request: Request) -> Response:
        log.append({"path": request.url.path, "headers": dict(request.headers)})
        return Response(png, media_type="image/png")

    return serve([Route("/{name:path}", image, methods=["GET"])], log)
