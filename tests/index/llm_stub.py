"""A tiny OpenAI-compatible server on 127.0.0.1 for tests: `/v1/chat/completions` and `/v1/embeddings`.

Chat answers are deterministic: a stepback request gets "General background on: <question>", a summary request gets
an answer citing excerpt [1] (or NO_ANSWER when the question mentions "unanswerable"). Embeddings are hashed
bag-of-words vectors of `EMBED_DIM` dimensions, so similar texts get similar vectors.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

__all__ = ["EMBED_DIM", "RunningStub", "start_stub"]

EMBED_DIM = 48


@dataclass
class RunningStub:
    base_url: str  # ends with /v1, as the openai package expects
    server: uvicorn.Server
    thread: threading.Thread
    requests: list[dict[str, Any]] = field(default_factory=list)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def hashed_vector(text: str) -> list[float]:
    vector = np.zeros(EMBED_DIM, dtype=np.float32)
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % EMBED_DIM] += 1.0
    norm = float(np.linalg.norm(vector)) or 1.0
    return [float(v) for v in vector / norm]


def _chat_answer(system: str, user: str) -> str:
    question = user.rsplit("Question:", 1)[-1].split("\n", 1)[0].strip()
    if "step-back" in system.lower():
        return f"General background on: {question}"
    if "unanswerable" in question.lower() or "(no excerpts were found)" in user:
        return "NO_ANSWER"
    return f"According to the wiki, the answer is in the first excerpt [1]. Question was: {question}"


def _app(log: list[dict[str, Any]]) -> Starlette:
    async def chat(request: Request) -> JSONResponse:
        body = await request.json()
        log.append({"path": "chat", "body": body})
        messages = body.get("messages", [])
        system = " ".join(m.get("content", "") for m in messages if m.get("role") == "system")
        user = " ".join(m.get("content", "") for m in messages if m.get("role") == "user")
        return JSONResponse({
            "id": "chatcmpl-stub", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "stub"),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": _chat_answer(system, user)}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        })

    async def embeddings(request: Request) -> JSONResponse:
        body = await request.json()
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        log.append({"path": "embeddings", "count": len(texts)})
        data = [{"object": "embedding", "index": i, "embedding": hashed_vector(str(t))} for i, t in enumerate(texts)]
        return JSONResponse({"object": "list", "data": data, "model": body.get("model", "stub"),
                             "usage": {"prompt_tokens": 1, "total_tokens": 1}})

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"]),
                             Route("/v1/embeddings", embeddings, methods=["POST"])])


def start_stub() -> RunningStub:
    """Serve the stub on a free loopback port in a background thread; returns once it accepts requests."""
    log: list[dict[str, Any]] = []
    config = uvicorn.Config(_app(log), host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not (server.started and server.servers):
        if time.monotonic() > deadline:
            raise RuntimeError("LLM stub did not start within 10 s")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return RunningStub(f"http://127.0.0.1:{port}/v1", server, thread, log)
