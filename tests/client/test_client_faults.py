"""Retry, backoff and error translation, driven by httpx.MockTransport handlers (fault injection only)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest

from confluence_mcp.confluence.client import ConfluenceClient
from confluence_mcp.confluence.retry import RetryPolicy, parse_retry_after
from confluence_mcp.errors import (
    AuthenticationFailed,
    BadRequest,
    ConfluenceConnectionError,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
    VersionConflict,
)

pytestmark = pytest.mark.anyio
SITE = "https://acme.atlassian.net"


class Scripted:
    """A handler answering from a list of responses (or exceptions), recording every request."""

    def __init__(self, *answers: httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer) and not isinstance(answer, httpx.Response):
            return answer(request)
        return answer


def client_for(toolkit_factory: Any, handler: Scripted, **kit: Any) -> ConfluenceClient:
    return ConfluenceClient(toolkit_factory(kit.pop("base_url", SITE), **kit),
                            transport=httpx.MockTransport(handler))


def ok(body: Any = None) -> httpx.Response:
    return httpx.Response(200, json=body if body is not None else {"ok": True})


async def test_cloud_paths_auth_and_headers(toolkit_factory: Any) -> None:
    handler = Scripted(ok({"results": []}))
    client = ConfluenceClient(toolkit_factory(SITE, custom_headers={"X-Team": "docs"}),
                              transport=httpx.MockTransport(handler))
    async with client:
        assert client.site_url == "https://acme.atlassian.net/wiki"
        await client.get_json("content/1")
        await client.get_json("pages/1", api="v2")
    first, second = handler.requests
    assert first.url.path == "/wiki/rest/api/content/1"
    assert second.url.path == "/wiki/api/v2/pages/1"
    assert first.headers["authorization"].startswith("Basic ")
    assert first.headers["x-team"] == "docs"


async def test_server_context_path_and_bearer(toolkit_factory: Any) -> None:
    handler = Scripted(ok())
    client = ConfluenceClient(toolkit_factory("http://dc.local:8090/confluence/", "server", bearer=True),
                              transport=httpx.MockTransport(handler))
    async with client:
        await client.get_json("space/DOCS")
    assert handler.requests[0].url.path == "/confluence/rest/api/space/DOCS"
    assert handler.requests[0].headers["authorization"] == "Bearer sandbox-token"


async def test_ids_cannot_escape_their_path_segment(toolkit_factory: Any) -> None:
    handler = Scripted(ok())
    async with client_for(toolkit_factory, handler) as client:
        await client.get_page("../../admin")
    assert handler.requests[0].url.raw_path.startswith(b"/wiki/rest/api/content/..%2F..%2Fadmin")


async def test_503_then_success_is_retried(toolkit_factory: Any) -> None:
    handler = Scripted(httpx.Response(503), httpx.Response(503), ok({"id": "1"}))
    async with client_for(toolkit_factory, handler) as client:
        assert await client.get_json("content/1") == {"id": "1"}
    assert len(handler.requests) == 3


async def test_retries_are_bounded(toolkit_factory: Any) -> None:
    handler = Scripted(httpx.Response(502, text="Bad gateway"))
    async with client_for(toolkit_factory, handler, retries=3) as client:
        with pytest.raises(ServerError, match="after 4 attempts") as info:
            await client.get_json("content/1")
    assert info.value.status == 502
    assert len(handler.requests) == 4


@pytest.mark.parametrize("retries", [0, 2])
async def test_retry_is_logged_only_when_one_follows(toolkit_factory: Any, retries: int,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    handler = Scripted(httpx.Response(503))
    with caplog.at_level("INFO", logger="confluence_mcp.client"):
        async with client_for(toolkit_factory, handler, retries=retries) as client:
            with pytest.raises(ServerError):
                await client.get_json("content/1")
    announced = [r.getMessage() for r in caplog.records if r.getMessage().startswith("retrying GET")]
    assert len(handler.requests) == retries + 1
    assert [m.split("(attempt ")[1][:1] for m in announced] == [str(n) for n in range(1, retries + 1)]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 500])
async def test_no_retry_on_other_statuses(toolkit_factory: Any, status: int) -> None:
    handler = Scripted(httpx.Response(status, json={"message": "nope"}))
    async with client_for(toolkit_factory, handler) as client:
        with pytest.raises(Exception):  # noqa: B017 - the class per status is checked elsewhere
            await client.get_json("content/1")
    assert len(handler.requests) == 1


async def test_connect_errors_retry_then_explain_base_url(toolkit_factory: Any) -> None:
    handler = Scripted(httpx.ConnectError("Connection refused"))
    async with client_for(toolkit_factory, handler) as client:
        with pytest.raises(ConfluenceConnectionError, match=r"/wiki") as info:
            await client.get_json("content/1")
    assert len(handler.requests) == 3
    assert "sandbox-token" not in str(info.value)
    assert "GET /wiki/rest/api/content/1" in str(info.value)


async def test_read_timeout_retried_for_reads_not_for_writes(toolkit_factory: Any) -> None:
    handler = Scripted(httpx.ReadTimeout("slow"))
    async with client_for(toolkit_factory, handler) as client:
        with pytest.raises(ConfluenceConnectionError, match="timed out"):
            await client.get_json("content/1")
        assert len(handler.requests) == 3
        handler.requests.clear()
        with pytest.raises(ConfluenceConnectionError):
            await client.request("POST", "content", json={})
        assert len(handler.requests) == 1


async def test_writes_retry_only_when_surely_not_applied(toolkit_factory: Any) -> None:
    async def attempts(*answers: httpx.Response | Exception) -> int:
        handler = Scripted(*answers, ok())
        async with client_for(toolkit_factory, handler) as client:
            with contextlib.suppress(Exception):  # only the number of attempts matters here
                await client.request("PUT", "content/1", json={})
        return len(handler.requests)

    assert await attempts(httpx.Response(429)) == 2
    assert await attempts(httpx.Response(503, headers={"Retry-After": "0"})) == 2
    assert await attempts(httpx.ConnectError("refused")) == 2
    assert await attempts(httpx.Response(503)) == 1
    assert await attempts(httpx.Response(502)) == 1
    assert await attempts(httpx.Response(504)) == 1


async def test_huge_retry_after_is_capped_and_reported(toolkit_factory: Any) -> None:
    handler = Scripted(httpx.Response(429, headers={"Retry-After": "9223372036854775807",
                                                    "X-RateLimit-Limit": "0"}))
    started = time.monotonic()
    async with client_for(toolkit_factory, handler, retry_max=0.05) as client:
        with anyio.fail_after(5), pytest.raises(RateLimited, match="implausible") as info:
            await client.get_json("search", params={"cql": "type=page"})
    assert time.monotonic() - started < 2
    assert len(handler.requests) == 3
    assert "after 3 attempts" in str(info.value)


async def test_retry_after_zero_still_backs_off(toolkit_factory: Any) -> None:
    handler = Scripted(httpx.Response(429, headers={"Retry-After": "0"}))
    started = time.monotonic()
    async with client_for(toolkit_factory, handler, retries=2, retry_min=0.05, retry_max=0.05) as client:
        with pytest.raises(RateLimited, match="Wait a little"):
            await client.get_json("content/1")
    assert time.monotonic() - started >= 0.09  # two waits of retry_min, not a hot loop


async def test_retry_after_reported_when_plausible(toolkit_factory: Any) -> None:
    handler = Scripted(httpx.Response(429, headers={"Retry-After": "120"}))
    async with client_for(toolkit_factory, handler, retries=0) as client:
        with pytest.raises(RateLimited, match=r"Retry after 120 s \(around \d\d:\d\d:\d\d UTC\)"):
            await client.get_json("content/1")


def test_wait_policy() -> None:
    policy = RetryPolicy(retries=5, min_seconds=1, max_seconds=8)
    assert 1 <= policy.wait_seconds(1) <= 1.25
    assert 4 <= policy.wait_seconds(3) <= 5
    assert policy.wait_seconds(10) == 8
    assert policy.wait_seconds(1, retry_after=5) == 5
    assert policy.wait_seconds(1, retry_after=9223372036854775807) == 8
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
    assert parse_retry_after("12") == 12


@pytest.mark.parametrize(("status", "body", "error", "words"), [
    (401, "Basic authentication with passwords is deprecated.", AuthenticationFailed,
     ["Basic auth as sandbox@example.com", "Bearer = personal access token", "hosting option"]),
    (403, {"message": "Not permitted"}, PermissionDenied, ["permissions on that space", "Not permitted"]),
    (404, {"statusCode": 404, "message": "com.atlassian.confluence.api.service.exceptions.api.NotFoundException: "
                                         "No content found with id : 42"},
     NotFound, ["No content found with id : 42", "short codes like DOCS"]),
    (404, {"errors": [{"status": 404, "code": "NOT_FOUND", "title": "Not Found", "detail": None}]},
     NotFound, ["Not Found"]),
    (400, {"data": {"errors": [{"message": {"translation": "Could not parse cql : x"}}]}}, BadRequest,
     ["Could not parse cql : x"]),
    (401, "<html><body><h1>HTTP Status 401 – Unauthorized</h1></body></html>", AuthenticationFailed,
     ["HTTP Status 401 – Unauthorized"]),
])
async def test_error_translation(toolkit_factory: Any, status: int, body: Any, error: type[Exception],
                                 words: list[str]) -> None:
    answer = httpx.Response(status, json=body) if isinstance(body, dict) else httpx.Response(status, text=body)
    async with client_for(toolkit_factory, Scripted(answer)) as client:
        with pytest.raises(error) as info:
            await client.get_json("content/42", params={"expand": "version"})
    message = str(info.value)
    assert "GET /wiki/rest/api/content/42" in message
    assert "com.atlassian" not in message
    assert "sandbox-token" not in message and "Authorization" not in message
    for word in words:
        assert word in message


@pytest.mark.parametrize(("body", "version"), [
    ({"message": "Version must be incremented on update. Current version is: 5"}, 5),
    ({"errors": [{"status": 409, "title": "Version must be incremented when updating a page. "
                                          "Current Version: [7]. Provided version: [7]"}]}, 7),
    ({"message": "com.atlassian.confluence.api.service.exceptions.ConflictException: "
                 "javax.persistence.OptimisticLockException: row was updated"}, None),
])
async def test_version_conflict_parses_current_version(toolkit_factory: Any, body: Any, version: int | None) -> None:
    async with client_for(toolkit_factory, Scripted(httpx.Response(409, json=body))) as client:
        with pytest.raises(VersionConflict) as info:
            await client.update_page("1", title="T", storage="<p/>", version=5)
    assert info.value.current_version == version
    assert "PUT /wiki/rest/api/content/1" in str(info.value)


async def test_concurrency_is_bounded(toolkit_factory: Any) -> None:
    active = peak = 0

    class Slow(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            nonlocal active, peak
            active += 1
            peak = max(peak, active)
            await anyio.sleep(0.01)
            active -= 1
            return httpx.Response(200, json={})

    client = ConfluenceClient(toolkit_factory(SITE), transport=Slow(), max_concurrency=3)
    async with client, anyio.create_task_group() as group:
        for index in range(12):
            group.start_soon(client.get_json, f"content/{index}")
    assert peak == 3
