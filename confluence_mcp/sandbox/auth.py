"""Authentication middleware: Basic (`email:api_token`) or Bearer (PAT); 401 in the flavour's style."""

from __future__ import annotations

import base64
import binascii
import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from confluence_mcp.sandbox.model import Flavor

__all__ = ["ADMIN_PREFIX", "GATEWAY_PREFIX", "MEDIA_PREFIX", "AuthMiddleware", "credentials_ok"]

ADMIN_PREFIX = "/__sandbox__"
MEDIA_PREFIX = "/__media__"  # stands for Cloud's media host: signed URLs, no credentials
GATEWAY_PREFIX = "/ex/confluence"  # stands for api.atlassian.com/ex/confluence/<cloud id>
PUBLIC_PATHS = (ADMIN_PREFIX, MEDIA_PREFIX, "/_edge/")
CLOUD_401 = ("Basic authentication with passwords is deprecated.  For more information, see: "
             "https://developer.atlassian.com/cloud/confluence/deprecation-notice-basic-auth/")
SERVER_401 = """<!doctype html><html lang="en"><head><title>HTTP Status 401 – Unauthorized</title></head>
<body><h1>HTTP Status 401 – Unauthorized</h1><hr class="line" /><p><b>Type</b> Status Report</p>
<p><b>Message</b> Basic Authentication Failure - Reason : AUTHENTICATED_FAILED</p>
<p><b>Description</b> The request has not been applied to the target resource because it lacks valid
authentication credentials for that resource.</p><hr class="line" /><h3>Apache Tomcat</h3></body></html>"""


def credentials_ok(header: str, *, user: str, token: str, allow_username: bool = False) -> bool:
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return hmac.compare_digest(value.strip(), token)
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return False
    name, _, secret = decoded.partition(":")
    # Server users log in with a username; there the e-mail's local part is accepted as that username.
    names = (user, user.split("@", 1)[0]) if allow_username else (user,)
    return name in names and hmac.compare_digest(secret, token)


class AuthMiddleware:
    """Guards every route except the sandbox admin API, the signed media URLs and the public tenant info. A scoped
    token is accepted through the API gateway only, as on Cloud (the site itself answers it 401)."""

    def __init__(self, app: ASGIApp, *, flavor: Flavor, user: str, token: str, scoped_token: str) -> None:
        self.app, self.flavor, self.user, self.token, self.scoped = app, flavor, user, token, scoped_token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(PUBLIC_PATHS):
            await self.app(scope, receive, send)
            return
        header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
        gateway = self.flavor == "cloud" and scope["path"].startswith(GATEWAY_PREFIX + "/")
        if header and any(credentials_ok(header, user=self.user, token=token, allow_username=self.flavor == "server")
                          for token in ((self.token, self.scoped) if gateway else (self.token,))):
            await self.app(scope, receive, send)
            return
        if self.flavor == "cloud":
            body, content_type = CLOUD_401.encode(), b"text/plain;charset=UTF-8"
            extra: list[tuple[bytes, bytes]] = []
        else:
            body, content_type = SERVER_401.encode(), b"text/html;charset=utf-8"
            extra = [(b"www-authenticate", b'Basic realm="Confluence"'),
                     (b"x-seraph-loginreason", b"AUTHENTICATED_FAILED")]
        await send({"type": "http.response.start", "status": 401,
                    "headers": [(b"content-type", content_type),
                                (b"content-length", str(len(body)).encode()), *extra]})
        await send({"type": "http.response.body", "body": body})
