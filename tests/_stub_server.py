"""Serve a test stub's Starlette routes on a free 127.0.0.1 port in a background thread.

Shared by the local OpenAI-compatible stubs (`images/_vision_stub.py`, `index/llm_stub.py`); each keeps only its
routes. The folders that use it put `tests/` on sys.path in their conftest.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.routing import BaseRoute

__all__ = ["RunningServer", "chat_completion", "serve"]


@dataclass
class RunningServer:
    base_url: str
    server: uvicorn.Server
    thread: threading.Thread
    requests: list[dict[str, Any]] = field(default_factory=list)  # what the stub's routes chose to log

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def serve(routes: Sequence[BaseRoute], requests: list[dict[str, Any]], path: str = "") -> RunningServer:
    """Start the routes and return once they accept requests; `base_url` ends with `path` (e.g. "/v1")."""
    app = Starlette(routes=list(routes))
    # port=0: the OS picks a free port, read back from the bound socket below.
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not (server.started and server.servers):
        if time.monotonic() > deadline:
            raise RuntimeError("stub server did not start within 10 s")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return RunningServer(f"http://127.0.0.1:{port}{path}", server, thread, requests)


def chat_completion(body: dict[str, Any], content: str) -> dict[str, Any]:
    """An OpenAI chat.completion response answering `content` to the request `body`."""
    return {
        "id": "chatcmpl-stub", "object": "chat.completion", "created": int(time.time()),
        "model": body.get("model", "stub"),
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
