"""Declaring tools: metadata lives once, on the decorator next to the function.

A tool is a typed async function whose docstring is its description and whose parameters carry their own
`Field(description=...)`. `@tool(...)` only records a `ToolSpec`; `confluence_mcp.server` decides which specs
are registered (enabled tools, read-only mode) and binds each to a toolkit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

__all__ = ["Group", "ToolSpec", "specs_in", "tool"]

Group = Literal["search", "content", "manage", "index", "generic"]
ToolFn = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class ToolSpec:
    fn: ToolFn
    name: str
    group: Group
    title: str
    read_only: bool
    destructive: bool
    idempotent: bool
    # The generic request tool is read-only or not depending on the method; the server treats it specially.
    method_dependent: bool = False
    # Accepted but unpublished argument names (the ELITEA toolkit's), each mapped to the parameter it stands for.
    aliases: tuple[tuple[str, str], ...] = ()
    # Asks the client's LLM (sampling) when no LLM endpoint is configured; the server re-runs it without one when
    # the client refuses.
    samples: bool = False


def tool(group: Group, title: str, *, read_only: bool, destructive: bool = False, idempotent: bool = False,
         method_dependent: bool = False, aliases: dict[str, str] | None = None,
         samples: bool = False) -> Callable[[ToolFn], ToolFn]:
    """Mark an async function as an MCP tool of `group`."""

    def mark(fn: ToolFn) -> ToolFn:
        fn.__tool_spec__ = ToolSpec(fn, fn.__name__, group, title, read_only,  # type: ignore[attr-defined]
                                    destructive and not read_only, idempotent or read_only, method_dependent,
                                    tuple((aliases or {}).items()), samples)
        return fn

    return mark


def specs_in(module: ModuleType) -> list[ToolSpec]:
    """The tool specs a module declares, in source order."""
    found = [getattr(v, "__tool_spec__", None) for v in vars(module).values()]
    return [s for s in found if isinstance(s, ToolSpec) and s.fn.__module__ == module.__name__]
