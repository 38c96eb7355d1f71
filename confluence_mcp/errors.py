"""Typed errors, translated once at each boundary.

    ConfluenceMCPError                 every error this package raises on purpose
    ├── ConfigError                    bad configuration; raised at start, one line per problem
    ├── PolicyError                    refused by the toolkit's policy (read-only, space not allowed, tool disabled)
    ├── ConfluenceError                anything that went wrong talking to Confluence
    │   ├── ConfluenceConnectionError  DNS, refused connection, TLS, timeout (after retries)
    │   └── ConfluenceHTTPError        an HTTP status >= 400 (after retries), with `status`
    │       ├── BadRequest             400 (bad CQL, duplicate title, invalid XHTML, ...)
    │       ├── AuthenticationFailed   401
    │       ├── PermissionDenied       403
    │       ├── NotFound               404 (missing or hidden by permissions)
    │       ├── VersionConflict        409 (someone else saved first)
    │       ├── PayloadTooLarge        413
    │       ├── RateLimited            429
    │       └── ServerError            5xx
    └── IndexStoreError                the semantic index (Postgres, embedders)
        └── EmbedderMismatch           a collection queried with another embedder than it was built with

The MCP layer turns every ConfluenceMCPError into a ToolError carrying `str(error)`, so messages must say what
failed and what to check; they never contain secrets.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationFailed",
    "BadRequest",
    "ConfigError",
    "ConfluenceConnectionError",
    "ConfluenceError",
    "ConfluenceHTTPError",
    "ConfluenceMCPError",
    "EmbedderMismatch",
    "IndexStoreError",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "PolicyError",
    "RateLimited",
    "ServerError",
    "VersionConflict",
    "error_for_status",
]


class ConfluenceMCPError(Exception):
    """Base of every deliberate error in confluence-mcp."""


class ConfigError(ConfluenceMCPError):
    """Configuration is invalid; `problems` lists one line per problem."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class PolicyError(ConfluenceMCPError):
    """The toolkit's policy refuses the request."""


class IndexStoreError(ConfluenceMCPError):
    """The semantic index cannot serve the request."""


class EmbedderMismatch(IndexStoreError):
    """A collection was built with a different embedder than the one configured."""


class ConfluenceError(ConfluenceMCPError):
    """Talking to Confluence failed."""


class ConfluenceConnectionError(ConfluenceError):
    """The site could not be reached."""


class ConfluenceHTTPError(ConfluenceError):
    """Confluence answered with an error status."""

    status: int = 0

    def __init__(self, message: str, *, status: int | None = None, detail: str = "") -> None:
        if status is not None:
            self.status = status
        self.detail = detail
        super().__init__(message)


class BadRequest(ConfluenceHTTPError):
    status = 400


class AuthenticationFailed(ConfluenceHTTPError):
    status = 401


class PermissionDenied(ConfluenceHTTPError):
    status = 403


class NotFound(ConfluenceHTTPError):
    status = 404


class VersionConflict(ConfluenceHTTPError):
    status = 409

    def __init__(
        self,
        message: str,
        *,
        current_version: int | None = None,
        changed_by: str | None = None,
        detail: str = "",
    ) -> None:
        self.current_version = current_version
        self.changed_by = changed_by
        super().__init__(message, detail=detail)


class PayloadTooLarge(ConfluenceHTTPError):
    status = 413


class RateLimited(ConfluenceHTTPError):
    status = 429


class ServerError(ConfluenceHTTPError):
    status = 500


_BY_STATUS: dict[int, type[ConfluenceHTTPError]] = {
    400: BadRequest,
    401: AuthenticationFailed,
    403: PermissionDenied,
    404: NotFound,
    409: VersionConflict,
    413: PayloadTooLarge,
    429: RateLimited,
}


def error_for_status(status: int) -> type[ConfluenceHTTPError]:
    """The error class for an HTTP status (5xx → ServerError, other 4xx → ConfluenceHTTPError)."""
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, ConfluenceHTTPError)
