"""A tiny OpenAI-compatible chat server on 127.0.0.1 that describes images, and a plain image host.

The chat stub answers 400 unless the last user message carries an `image_url` part (a data URI or an http URL),
so a test passing through it proves an image was really sent. It logs every request body.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = ["DESCRIPTION", "RunningServer", "image_urls", "start_image_host", "start_vision_stub"]

DESCRIPTION = "A striped test picture with two colours."


@dataclass
class RunningServer:
    base_url: str
    server: uvicorn.Server
    thread: threading.Thread
    requests: list[dict[str, Any]] = field(default_factory=list)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def image_urls(body: dict[str, Any]) -> list[str]:
    """The image_url URLs of a chat request's user messages."""
    urls = []
    for message in body.get("messages", []):
        content = message.get("content")
        if message.get("role") == "user" and isinstance(content, list):
            urls += [part["image_url"]["url"] for part in content if part.get("type") == "image_url"]
    return urls


def _vision_app(log: list[dict[str, Any]]) -> Starlette:
    async def chat(request: Request) -> JSONResponse:
        body = await request.json()
        log.append(body)
        if not image_urls(body):
            return JSONResponse({"error": {"message": "no image in the request"}}, status_code=400)
        return JSONResponse({
            "id": "chatcmpl-vision", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "stub"),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": DESCRIPTION}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        })

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


def _image_host_app(log: list[dict[str, Any]], png: bytes) -> Starlette:
    async def image(request: Request) -> Response:
        log.append({"path": request.url.path, "headers": dict(request.headers)})
        return Response(png, media_type="image/png")

    return Starlette(routes=[Route("/{name:path}", image, methods=["GET"])])


def _serve(app: Starlette, log: list[dict[str, Any]], suffix: str) -> RunningServer:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not (server.started and server.servers):
        if time.monotonic() > deadline:
            raise RuntimeError("stub server did not start within 10 s")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return RunningServer(f"http://127.0.0.1:{port}{suffix}", server, thread, log)


def start_vision_stub() -> RunningServer:
    """The chat stub; `base_url` ends with /v1 as the openai package expects."""
    log: list[dict[str, Any]] = []
    return _serve(_vision_app(log), log, "/v1")


def start_image_host(png: bytes) -> RunningServer:
    """A foreign host serving `png` at every path and logging requests (it must never be called)."""
    log: list[dict[str, Any]] = []
    return _serve(_image_host_app(log, png), log, "")
