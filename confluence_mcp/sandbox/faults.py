"""Fault injection, request statistics and the request log (ASGI middleware) plus the `/__sandbox__/` admin API.

Faults: a random `rate` (429 with Retry-After and X-RateLimit-*, 500/502/503, slow responses, dropped
connections) and a deterministic `fail_next` queue set through `POST /__sandbox__/faults`, optionally only for
requests whose path and decoded query contain `match` (and, given `routes`, whose route is listed).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from confluence_mcp.sandbox.auth import ADMIN_PREFIX
from confluence_mcp.sandbox.request_log import RequestLog

__all__ = ["DroppedConnection", "FaultMiddleware", "FaultPlan", "quiet_dropped_connections", "route_key"]

FAULT_KINDS = ("429", "500", "502", "503", "slow", "drop")
_ID_SEGMENT = re.compile(r"^(att)?\d+$")


class DroppedConnection(ConnectionAbortedError):
    """Raised mid-response on purpose, so the server aborts the connection."""


class _HideDroppedConnections(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], DroppedConnection))


def quiet_dropped_connections() -> None:
    """Keep uvicorn from logging a traceback for every deliberately dropped connection."""
    server_log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _HideDroppedConnections) for f in server_log.filters):
        server_log.addFilter(_HideDroppedConnections())


def route_key(method: str, path: str) -> str:
    """`GET /wiki/rest/api/content/{id}`: ids collapsed so counts group by endpoint."""
    parts = ["{id}" if _ID_SEGMENT.match(part) else part for part in path.split("/")]
    return f"{method} {'/'.join(parts)}"


@dataclass
class FaultPlan:
    """Mutable fault settings and counters, shared by the middleware and the admin API."""

    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    fail_next: int = 0
    fail_status: int = 503
    fail_match: str = ""  # fail_next applies only to requests whose path?query contains this
    fail_routes: tuple[str, ...] = ()  # ... and, when given, whose route ("PUT /wiki/rest/api/content/{id}") is one
    retry_after: str = "1"
    slow_seconds: float = 1.0
    seed: int | None = None
    total: int = 0
    by_route: Counter[str] = field(default_factory=Counter)
    faults_injected: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)

    def configure(self, payload: dict[str, Any]) -> None:
        with self.lock:
            if "rate" in payload:
                self.rate = max(0.0, min(1.0, float(payload["rate"])))
            if "kinds" in payload:
                self.kinds = tuple(k for k in payload["kinds"] if k in FAULT_KINDS) or FAULT_KINDS
            if "fail_next" in payload:
                self.fail_next = max(0, int(payload["fail_next"]))
            if "status" in payload:
                self.fail_status = int(payload["status"])
            if "match" in payload:
                self.fail_match = str(payload["match"] or "")
            if "routes" in payload:
                self.fail_routes = tuple(str(route) for route in payload["routes"] or ())
            if "retry_after" in payload:
                self.retry_after = str(payload["retry_after"])
            if "slow_seconds" in payload:
                self.slow_seconds = max(0.0, float(payload["slow_seconds"]))

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {"rate": self.rate, "kinds": list(self.kinds), "fail_next": self.fail_next,
                    "status": self.fail_status, "match": self.fail_match,
                    "routes": list(self.fail_routes), "retry_after": self.retry_after,
                    "slow_seconds": self.slow_seconds}

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {"total": self.total, "by_route": dict(self.by_route),
                    "faults": dict(self.faults_injected)}

    def reset_stats(self) -> None:
        with self.lock:
            self.total = 0
            self.by_route.clear()
            self.faults_injected.clear()

    def next_fault(self, key: str, target: str = "") -> str | None:
        """Count the request and decide its fault: a status code as text, "slow", "drop" or None.

        `target` is the request's path and decoded query, checked against `fail_match`."""
        with self.lock:
            self.total += 1
            self.by_route[key] += 1
            fault: str | None = None
            if self.fail_next > 0 and self.fail_match in target and (not self.fail_routes or key in self.fail_routes):
                self.fail_next -= 1
                fault = str(self.fail_status) if self.fail_status else "drop"
            elif self.rate and self.random.random() < self.rate:
                fault = self.random.choice(self.kinds)
            if fault:
                self.faults_injected[fault] += 1
            return fault


async def _send_json(send: Send, status: int, payload: Any, headers: list[tuple[bytes, bytes]] = ()) -> None:  # type: ignore[assignment]
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


class FaultMiddleware:
    """Outermost middleware: serves the admin API, logs and counts requests, injects faults."""

    def __init__(self, app: ASGIApp, plan: FaultPlan, log: RequestLog | None = None) -> None:
        self.app, self.plan = app, plan
        self.log = log or RequestLog()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith(ADMIN_PREFIX):
            await self._admin(scope, receive, send, path[len(ADMIN_PREFIX):])
            return
        receive = await self.log.capture(scope, receive)  # before any fault: the log shows what was sent
        target = f"{path}?{unquote_plus(scope.get('query_string', b'').decode('latin-1'))}"
        fault = self.plan.next_fault(route_key(scope["method"], path), target)
        if fault is None:
            await self.app(scope, receive, send)
        elif fault == "slow":
            await asyncio.sleep(self.plan.slow_seconds)
            await self.app(scope, receive, send)
        elif fault == "drop":
            # Promise a body, then abort: the server closes the connection mid-response.
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")]})
            await send({"type": "http.response.body", "body": b'{"results": [', "more_body": True})
            raise DroppedConnection("sandbox fault: dropped connection")
        else:
            await self._fail(send, int(fault))

    async def _fail(self, send: Send, status: int) -> None:
        headers: list[tuple[bytes, bytes]] = []
        if status in (429, 503):
            headers.append((b"retry-after", self.plan.retry_after.encode()))
        if status == 429:
            reset = (datetime.now(UTC) + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%MZ")
            headers += [(b"x-ratelimit-limit", b"100"), (b"x-ratelimit-remaining", b"0"),
                        (b"x-ratelimit-reset", reset.encode()), (b"x-ratelimit-nearlimit", b"true"),
                        (b"x-ratelimit-interval-seconds", b"60"), (b"x-ratelimit-fillrate", b"10")]
        message = {429: "Rate limit exceeded", 500: "Internal server error (sandbox fault)",
                   502: "Bad gateway (sandbox fault)", 503: "Service unavailable (sandbox fault)"}
        await _send_json(send, status, {"statusCode": status, "message": message.get(status, "Sandbox fault")},
                         headers)

    async def _admin(self, scope: Scope, receive: Receive, send: Send, sub_path: str) -> None:
        method = scope["method"]
        body = b""
        while True:
            message: Message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            await _send_json(send, 400, {"message": "admin payload must be JSON"})
            return
        if sub_path == "/faults" and method == "POST":
            try:
                self.plan.configure(payload)
            except (TypeError, ValueError) as error:
                await _send_json(send, 400, {"message": f"bad fault settings: {error}"})
                return
            await _send_json(send, 200, self.plan.snapshot())
        elif sub_path == "/faults" and method == "GET":
            await _send_json(send, 200, self.plan.snapshot())
        elif sub_path == "/stats" and method == "GET":
            await _send_json(send, 200, self.plan.stats())
        elif sub_path == "/reset-stats" and method == "POST":
            self.plan.reset_stats()
            await _send_json(send, 200, self.plan.stats())
        elif sub_path == "/requests" and method == "GET":
            await _send_json(send, 200, self.log.snapshot())
        elif sub_path == "/reset-requests" and method == "POST":
            self.log.reset()
            await _send_json(send, 200, {"total": 0, "kept": 0, "requests": []})
        else:
            await _send_json(send, 404, {"message": f"unknown admin endpoint {method} {sub_path}"})
