"""Opaque, tamper-proof cursors for paginated listings.

A cursor wraps the server's `_links.next` as an origin-relative path (`/wiki/rest/api/search?cql=...&cursor=...`
or `/rest/api/content/search?cql=...&start=25`). Callers (and the models behind them) hand it back verbatim, so
it is signed with a per-client random key: a forged or edited cursor cannot widen a search's space scope or
point the client at an arbitrary endpoint. Decoding also checks the path is under our API and has no dot
segments, so even a valid signature can only ever lead back into Confluence's REST API.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["CursorCodec", "InvalidCursor", "cursor_query"]

_SIGNATURE_BYTES = 12


class InvalidCursor(ValueError):
    """The cursor was not issued by this client for this listing."""


class CursorCodec:
    def __init__(self, allowed_prefixes: tuple[str, ...], key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)
        self._allowed = allowed_prefixes

    def encode(self, link: str) -> str:
        payload = link.encode("utf-8")
        return f"{_b64(payload)}.{_b64(self._sign(payload))}"

    def decode(self, cursor: str, *, expected_path: str | None = None) -> str:
        """The origin-relative link inside `cursor`; InvalidCursor when forged, foreign or for another listing."""
        try:
            body, signature = cursor.strip().split(".", 1)
            payload = _unb64(body)
            given = _unb64(signature)
        except ValueError:
            raise InvalidCursor("cursor is malformed; pass back the `next` value exactly as returned") from None
        if not hmac.compare_digest(given, self._sign(payload)):
            raise InvalidCursor("cursor was not issued by this server (or has expired after a restart); "
                                "start the listing again without a cursor")
        link = payload.decode("utf-8")
        path = urlsplit(link).path
        decoded = unquote(path)
        if (not link.startswith("/") or link.startswith("//") or re.search(r"(^|/)\.\.?(/|$)", decoded)
                or not any(path.startswith(prefix) for prefix in self._allowed)):
            raise InvalidCursor("cursor does not point into the Confluence REST API")
        if expected_path is not None and path.rstrip("/") != expected_path.rstrip("/"):
            raise InvalidCursor("cursor belongs to a different listing; start again without a cursor")
        return link

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:_SIGNATURE_BYTES]


def cursor_query(link: str) -> dict[str, list[str]]:
    """The query parameters of a decoded cursor link."""
    return parse_qs(urlsplit(link).query, keep_blank_values=True)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not urlsafe base64")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
