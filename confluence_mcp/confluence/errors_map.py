"""Turn Confluence error responses and transport failures into typed errors with actionable text.

Messages name the method and the path (never the query string's secrets, never headers) and say what to check.
"""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx

from confluence_mcp.confluence.retry import parse_retry_after
from confluence_mcp.errors import (
    ConfluenceConnectionError,
    ConfluenceHTTPError,
    RateLimited,
    VersionConflict,
    error_for_status,
)

__all__ = ["AuthDescription", "connection_error", "current_version_from", "http_error", "server_message"]

_JAVA_PREFIX = re.compile(r"^(?:[A-Za-z_$][\w$]*\.)+[A-Za-z_$][\w$]*(?:Exception|Error)\s*:\s*")
_CURRENT_VERSION = re.compile(r"current\s+version(?:\s+is)?\s*:?\s*\[?\s*(\d+)", re.IGNORECASE)
_MAX_MESSAGE = 400


class AuthDescription:
    """What the client authenticates with, for 401 hints (no secret material)."""

    def __init__(self, kind: Literal["basic", "bearer"], username: str | None, has_secret: bool,
                 hosting: Literal["cloud", "server"], site_url: str, *, scoped: bool = False) -> None:
        self.scoped = scoped
        self.kind = kind
        self.username = username
        self.has_secret = has_secret
        self.hosting = hosting
        self.site_url = site_url

    def describe(self) -> str:
        if not self.has_secret:
            return "no credentials (anonymous)"
        if self.kind == "basic":
            token = ("a scoped API token, through Atlassian's API gateway" if self.scoped
                     else "an API token" if self.hosting == "cloud" else "a password or API token")
            return f"Basic auth as {self.username or '(no username)'} with {token}"
        return "Bearer token (personal access token)"


def server_message(response: httpx.Response) -> str:
    """The most useful human text in an error body: v1 `message`, v2 `errors[0].title`, translations, raw text."""
    text = response.text if response.content else ""
    body: Any = None
    if text:
        try:
            body = json.loads(text)
        except ValueError:
            body = None
    found = _message_from_json(body) if body is not None else None
    if found is None:
        found = _plain(text)
    cleaned = found.strip()
    while _JAVA_PREFIX.match(cleaned):
        cleaned = _JAVA_PREFIX.sub("", cleaned, count=1).strip()
    if len(cleaned) > _MAX_MESSAGE:
        cleaned = cleaned[:_MAX_MESSAGE].rstrip() + "…"
    return cleaned


def _message_from_json(body: Any) -> str | None:
    if isinstance(body, str):
        return body
    if not isinstance(body, dict):
        return None
    message = body.get("message")
    if isinstance(message, str) and message.strip():
        return message
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        parts = [str(first[k]) for k in ("title", "detail") if first.get(k)]
        if parts:
            return ": ".join(parts)
    data = body.get("data")
    if isinstance(data, dict) and isinstance(data.get("errors"), list):
        translations = []
        for item in data["errors"]:
            msg = item.get("message") if isinstance(item, dict) else None
            if isinstance(msg, dict) and msg.get("translation"):
                translations.append(str(msg["translation"]))
            elif isinstance(msg, str):
                translations.append(msg)
        if translations:
            return "; ".join(translations)
    reason = body.get("reason")
    return reason if isinstance(reason, str) and reason else None


def _plain(text: str) -> str:
    """Raw text, with HTML error pages (Tomcat, proxies) reduced to their words."""
    if "<" in text and ">" in text:
        text = re.sub(r"(?is)<(script|style)[^>]*>.*?</\1>", " ", text)
        text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    return " ".join(text.split())


def current_version_from(message: str) -> int | None:
    """The page's current version from a 409 text (`Current version is: 5`, `Current Version: [5]`)."""
    match = _CURRENT_VERSION.search(message)
    return int(match.group(1)) if match else None


def _scope_hint(auth: AuthDescription, status: int) -> str:
    if auth.scoped:
        return (" A scoped token also needs the scopes of the operation (such as read:page:confluence, "
                "write:page:confluence, read:space:confluence, read:attachment:confluence, search:confluence).")
    if status == 401 and auth.hosting == "cloud" and auth.kind == "basic":
        return (" If it is a scoped API token, which Cloud refuses on the site itself, set scoped_token = true "
                "(CONFLUENCE_SCOPED_TOKEN=true) to go through Atlassian's API gateway.")
    return ""


def http_error(response: httpx.Response, *, auth: AuthDescription, attempts: int = 1) -> ConfluenceHTTPError:
    """The typed error for an error response, with the server's words and what to check."""
    status = response.status_code
    request = response.request
    where = f"{request.method} {request.url.path}"
    said = server_message(response)
    said_part = f": {said}" if said else ""
    head = f"Confluence answered HTTP {status} to {where}{said_part}."
    detail = said
    if status == 401:
        return error_for_status(401)(
            f"{head} Authentication failed using {auth.describe()}. Check the token (expired or revoked?) and "
            f"the auth method: Basic = username (the account e-mail on Cloud) + API token, Bearer = personal "
            f"access token (Server/Data Center). Also check the hosting option (configured: {auth.hosting})."
            f"{_scope_hint(auth, 401)}", detail=detail)
    if status == 403:
        hint = (" Uploads also need attachments enabled on the space." if "attachment" in where else "")
        return error_for_status(403)(
            f"{head} The account is authenticated but not permitted to do this: check the account's "
            f"permissions on that space (view, add/edit pages, labels, attachments).{hint}{_scope_hint(auth, 403)}",
            detail=detail)
    if status == 404:
        return error_for_status(404)(
            f"{head} Not found, or hidden by permissions: check the id or space key (keys are short codes "
            f"like DOCS, not space names) and that the account can see it.", detail=detail)
    if status == 409:
        version = current_version_from(said)
        known = f" The current version is {version}." if version is not None else ""
        return VersionConflict(
            f"{head} Someone else saved this page first.{known} Re-read the page and apply your change to "
            f"the latest version (send current version + 1).", current_version=version, detail=detail)
    if status == 413:
        return error_for_status(413)(
            f"{head} The request is too large (Confluence accepts bodies up to 5 MB).", detail=detail)
    if status == 429:
        return _rate_limited(response, head, attempts, detail)
    if status >= 500:
        retried = f" after {attempts} attempts" if attempts > 1 else ""
        return error_for_status(status)(
            f"{head} The Confluence server failed{retried}; try again later or check the site's health.",
            status=status, detail=detail)
    return error_for_status(status)(head, status=status, detail=detail)


def _rate_limited(response: httpx.Response, head: str, attempts: int, detail: str) -> RateLimited:
    after = parse_retry_after(response.headers.get("retry-after"))
    tried = f" after {attempts} attempt{'s' if attempts != 1 else ''}"
    if after is None or after <= 0:
        when = "Wait a little (e.g. a minute) before retrying, or lower the request rate."
    elif after > 24 * 3600:
        when = (f"The server's Retry-After ({response.headers.get('retry-after')}) is implausible; "
                "wait a minute or two before retrying.")
    else:
        at = (datetime.now(UTC) + timedelta(seconds=after)).strftime("%H:%M:%S UTC")
        when = f"Retry after {after:.0f} s (around {at})."
    return RateLimited(f"{head} Rate limited by Confluence{tried}. {when}", detail=detail)


def connection_error(error: httpx.HTTPError, *, method: str, path: str, site_url: str,
                     hosting: str, attempts: int = 1) -> ConfluenceConnectionError:
    """A typed error for DNS/connect/TLS/timeout failures, pointing at base_url and the network."""
    where = f"{method} {path}"
    retried = f" after {attempts} attempts" if attempts > 1 else ""
    if isinstance(error, httpx.TimeoutException):
        what = f"timed out ({type(error).__name__})"
        hint = "The site is slow or unreachable; check the network/proxy or raise timeout_seconds."
    else:
        what = f"failed ({type(error).__name__}: {error})" if str(error) else f"failed ({type(error).__name__})"
        hint = ("Check base_url (Cloud needs the /wiki path, e.g. https://your-site.atlassian.net/wiki; "
                "Server/Data Center may need its context path such as /confluence), the network or proxy, "
                "and TLS settings (verify_ssl).")
    return ConfluenceConnectionError(
        f"Could not reach Confluence at {site_url} ({hosting}): {where} {what}{retried}. {hint}")
