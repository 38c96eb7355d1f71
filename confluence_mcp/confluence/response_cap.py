"""A cap on how many bytes any one response may bring into memory.

Pages and attachments are content other people control: an image tag pointing at a multi-gigabyte attachment,
or a generic GET of one, must not exhaust the server's memory. The hook refuses a response whose Content-Length is
over the cap before reading it, and stops a response without one as soon as it passes the cap.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx

from confluence_mcp.errors import ConfluenceError

__all__ = ["MAX_RESPONSE_BYTES", "ResponseTooLarge", "response_cap"]

MAX_RESPONSE_BYTES = 200 * 1024 * 1024  # far above any page body; what an attachment download may hold in memory


class ResponseTooLarge(ConfluenceError):
    """A response was larger than the server reads into memory."""


def _too_large(request: httpx.Request, limit: int) -> ResponseTooLarge:
    return ResponseTooLarge(f"{request.method} {request.url.path} answered more than {limit // (1024 * 1024)} MB, "
                            "more than this server reads into memory; nothing of it was used. For a large "
                            "attachment, download it outside the assistant.")


class _CappedStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, request: httpx.Request, limit: int) -> None:
        self.inner, self.request, self.limit = inner, request, limit

    async def __aiter__(self) -> AsyncIterator[bytes]:
        seen = 0
        async for chunk in self.inner:
            seen += len(chunk)
            if seen > self.limit:
                raise _too_large(self.request, self.limit)
            yield chunk

    async def aclose(self) -> None:
        await self.inner.aclose()


def response_cap(limit: int = MAX_RESPONSE_BYTES) -> Callable[[httpx.Response], Awaitable[None]]:
    """An httpx response hook (it runs once the headers are in, before the body is read) capping the body at
    `limit` bytes as sent, before any decompression: every transport the client uses, proxies included."""

    async def cap(response: httpx.Response) -> None:
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            raise _too_large(response.request, limit)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _CappedStream(response.stream, response.request, limit)

    return cap
