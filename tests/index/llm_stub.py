"""A tiny OpenAI-compatible server on 127.0.0.1 for tests: `/v1/chat/completions` and `/v1/embeddings`.

Chat answers are deterministic: a stepback request gets "General background on: <question>", a summary request gets
an answer citing excerpt [1] (or NO_ANSWER when the question mentions "unanswerable"). Embeddings are hashed
bag-of-words vectors of `EMBED_DIM` dimensions, so similar texts get similar vectors.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import numpy as np
from _stub_server import RunningServer, chat_completion, serve
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

__all__ = ["EMBED_DIM", "RunningServer", "start_stub"]

EMBED_DIM = 48


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


def start_stub() -> RunningServer:
    """Serve the stub on a free loopback port; `base_url` ends with /v1, as the openai package expects."""
    log: list[dict[str, Any]] = []

    async def chat(request: Request) -> JSONResponse:
        body = await request.json()
        log.append({"path": "chat", "body": body})
        messages = body.get("messages", [])
        system = " ".join(m.get("content", "") for m in messages if m.get("role") == "system")
        user = " ".join(m.get("content", "") for m in messages if m.get("role") == "user")
        return JSONResponse(chat_completion(body, _chat_answer(system, user)))

    async def embeddings(request: Request) -> JSONResponse:
        body = await request.json()
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        log.append({"path": "embeddings", "count": len(texts)})
        data = [{"object": "embedding", "index": i, "embedding": hashed_vector(str(t))} for i, t in enumerate(texts)]
        return JSONResponse({"object": "list", "data": data, "model": body.get("model", "stub"),
                             "usage": {"prompt_tokens": 1, "total_tokens": 1}})

    return serve([Route("/v1/chat/completions", chat, methods=["POST"]),
                  Route("/v1/embeddings", embeddings, methods=["POST"])], log, "/v1")
