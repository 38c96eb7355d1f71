"""A bounded log of the requests the sandbox received, so tests can check what a client actually sends.

Always on and cheap: the last `capacity` requests (admin calls excluded), each as method, path, query pairs (in
order, repeated names kept), content type, headers (names lower-cased; `authorization` reduced to its scheme,
cookies left out) and, for a JSON request, the parsed body (for a multipart one, the names of its parts). Read it
with
`GET /__sandbox__/requests`, clear it with `POST /__sandbox__/reset-requests`.
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import Message, Receive, Scope

__all__ = ["MAX_BODY_BYTES", "RequestLog"]

MAX_BODY_BYTES = 1 << 20  # a larger body is logged without its content (`body_omitted`), to bound memory
_PART_NAME = re.compile(rb'content-disposition:\s*form-data;\s*name="([^"]*)"', re.IGNORECASE)


class RequestLog:
    """The last `capacity` requests, oldest first; `total` counts every request since the last reset."""

    def __init__(self, capacity: int = 5000) -> None:
        self.entries: deque[dict[str, Any]] = deque(maxlen=capacity)
        self.total = 0
        self.lock = threading.Lock()

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {"total": self.total, "kept": len(self.entries), "requests": list(self.entries)}

    def reset(self) -> None:
        with self.lock:
            self.total = 0
            self.entries.clear()

    async def capture(self, scope: Scope, receive: Receive) -> Receive:
        """Log the request in `scope`; returns the `receive` the app must use (a JSON or multipart body is read
        here and replayed, so the app still sees it)."""
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        entry: dict[str, Any] = {"method": scope["method"], "path": scope["path"],
                                 "query": [list(pair) for pair in query],
                                 "content_type": headers.get("content-type", ""), "headers": _shown(headers)}
        with self.lock:
            self.total += 1
            self.entries.append(entry)
        multipart = entry["content_type"].startswith("multipart/form-data")
        if "json" not in entry["content_type"] and not multipart:
            return receive
        if int(headers.get("content-length") or 0) > MAX_BODY_BYTES:
            entry["body_omitted"] = True
            return receive
        body = await _read_body(receive)
        if multipart:
            entry["form"] = [name.decode("utf-8", "replace") for name in _PART_NAME.findall(body)]
            return _replay(body, receive)
        try:
            entry["json"] = json.loads(body) if body else None
        except ValueError as error:
            entry["json_error"] = f"not valid JSON: {error}"
        return _replay(body, receive)


def _shown(headers: dict[str, str]) -> dict[str, str]:
    """The headers as logged: no secrets (the credentials' scheme only) and no cookies."""
    shown = {name: value for name, value in headers.items() if name != "cookie"}
    if "authorization" in shown:
        shown["authorization"] = shown["authorization"].split(" ", 1)[0]
    return shown


async def _read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if message["type"] != "http.request" or not message.get("more_body"):
            return body


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()  # after the body: wait for the disconnect as usual
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed
