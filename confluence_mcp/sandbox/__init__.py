"""A faithful local Confluence (Cloud and Server flavours) for tests, benchmarks and demos.

`from confluence_mcp.sandbox import SandboxOptions, start_sandbox` (imported lazily, so the CQL engine
modules in this package can be imported on their own).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from confluence_mcp.sandbox.runner import RunningSandbox, SandboxOptions, start_sandbox

__all__ = ["RunningSandbox", "SandboxOptions", "start_sandbox"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from confluence_mcp.sandbox import runner

        return getattr(runner, name)
    raise AttributeError(name)
