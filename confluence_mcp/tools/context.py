"""What a running tool can reach: its toolkit, the toolkit's Confluence client, the index service.

The server binds each registered tool to one toolkit by setting `CURRENT_TOOLKIT` around the call; tools ask
`current_kit(ctx)` for their `KitRuntime`. Policy checks that every tool needs live here, once.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from confluence_mcp.config import Settings, Toolkit
from confluence_mcp.confluence.client import ConfluenceClient
from confluence_mcp.errors import PolicyError

__all__ = ["CURRENT_TOOLKIT", "AppState", "KitRuntime", "app_state", "current_kit", "resolver_kit"]

CURRENT_TOOLKIT: ContextVar[str] = ContextVar("confluence_mcp_toolkit")


@dataclass
class KitRuntime:
    toolkit: Toolkit
    client: ConfluenceClient
    settings: Settings
    # The index service is created on first use (see confluence_mcp.index); tools reach it via `index_service`.
    index: Any = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.toolkit.name

    def default_space(self, space: str | None = None) -> str:
        """The space to act in: the argument, else the toolkit's space; both checked against policy."""
        key = (space or self.toolkit.space or "").strip()
        if not key:
            raise PolicyError(
                "No space given and the toolkit has no default space: pass `space` (a key like DOCS) "
                "or set `space` in the toolkit configuration."
            )
        self.require_space(key)
        return key.upper() if not key.startswith("~") else key

    def require_space(self, key: str | None) -> None:
        """Refuse content outside the toolkit's allowed spaces."""
        if not self.toolkit.space_allowed(key):
            allowed = ", ".join(self.toolkit.allowed_spaces)
            raise PolicyError(
                f"Space {key or '(unknown)'} is outside this toolkit's allowed spaces ({allowed}). "
                "Ask an administrator to add it to `allowed_spaces` if access is intended."
            )

    def require_writable(self) -> None:
        if self.toolkit.settings.read_only:
            raise PolicyError(f"Toolkit '{self.name}' is read-only; writes are disabled by configuration.")


@dataclass
class AppState:
    settings: Settings
    kits: dict[str, KitRuntime]


def app_state(ctx: Context[Any, Any]) -> AppState:
    """The server's state (settings and toolkit runtimes) as the lifespan created it."""
    state: AppState = ctx.request_context.lifespan_context
    return state


def current_kit(ctx: Context[Any, Any]) -> KitRuntime:
    """The runtime of the toolkit the current tool call is bound to."""
    return app_state(ctx).kits[CURRENT_TOOLKIT.get()]


def resolver_kit(ctx: Context[Any, Any], tool_names: tuple[str, ...]) -> KitRuntime:
    """The toolkit of a call from code that runs before the toolkit binding (`Resolve` resolvers): the bound one,
    else the one whose prefix the called tool name (one of `tool_names`) carries."""
    try:
        return current_kit(ctx)
    except LookupError:
        pass
    state = app_state(ctx)
    called = str((ctx.request_context.params or {}).get("name") or "")
    for kit in sorted(state.kits.values(), key=lambda k: -len(k.toolkit.prefix)):
        if called in {f"{kit.toolkit.prefix}{name}" for name in tool_names}:
            return kit
    if len(state.kits) == 1:
        return next(iter(state.kits.values()))
    # A ToolError, not PolicyError: resolvers run outside the binding that translates our errors.
    raise ToolError("Could not tell which toolkit this call belongs to.")
