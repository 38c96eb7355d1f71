"""The MCP server: registers every tool spec per toolkit, enforces the tool policy, owns the clients.

Policy filter order (fixed): tool group modules → enabled tools (`toolkit.tools`) → read-only mode (write tools
dropped; the generic request tool stays but refuses non-GET). Only tools that pass are registered, so a hidden
tool answers exactly like an unknown one, at list time and at call time.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from mcp import MCPError
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.types import ToolAnnotations

from confluence_mcp import __version__
from confluence_mcp.config import Settings, Toolkit
from confluence_mcp.errors import ConfigError, ConfluenceMCPError
from confluence_mcp.tools.context import CURRENT_TOOLKIT, AppState, KitRuntime
from confluence_mcp.tools.registry import ToolFn, ToolSpec, specs_in

__all__ = ["TOOL_MODULES", "all_tool_specs", "bind", "build_server", "compact_schema", "enabled_specs",
           "instructions_for", "make_tool"]

log = logging.getLogger(__name__)

# manage is split over several modules; each declares its own specs.
TOOL_MODULES = ("search", "content", "generic", "manage", "manage_files", "manage_labels", "index", "images")


def all_tool_specs() -> list[ToolSpec]:
    """Every spec declared by the tool modules, in module then source order."""
    specs: list[ToolSpec] = []
    for short in TOOL_MODULES:
        name = f"confluence_mcp.tools.{short}"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a broken import inside an existing module must surface
                raise
            log.debug("tool module %s not present", name)
            continue
        specs += specs_in(module)
    return specs


def enabled_specs(kit: Toolkit, specs: list[ToolSpec]) -> list[ToolSpec]:
    """The specs this toolkit exposes; unknown names in `tools` raise ConfigError naming the valid ones."""
    by_name = {s.name: s for s in specs}
    chosen = list(specs)
    if kit.settings.tools is not None:
        wanted = [t.strip() for t in kit.settings.tools if t.strip()]
        bare = [t.removeprefix(kit.prefix) if kit.prefix else t for t in wanted]
        unknown = [t for t, b in zip(wanted, bare, strict=True) if b not in by_name]
        if unknown:
            raise ConfigError(
                f"toolkits.{kit.name}.tools: unknown tool(s) {', '.join(unknown)}; "
                f"valid names: {', '.join(sorted(by_name))}"
            )
        chosen = [s for s in specs if s.name in set(bare)]
    if kit.settings.read_only:
        chosen = [s for s in chosen if s.read_only or s.method_dependent]
    return chosen


def _annotations(spec: ToolSpec) -> ToolAnnotations:
    # Every hint explicit: unset hints read as destructive/open-world on the client side. The title is sent once,
    # as the tool's own `title`.
    return ToolAnnotations(
        read_only_hint=spec.read_only,
        destructive_hint=spec.destructive,
        idempotent_hint=spec.idempotent,
        open_world_hint=True,
    )


def bind(spec: ToolSpec, kit_name: str) -> ToolFn:
    """Wrap a tool so calls run bound to one toolkit and our errors reach the model as ToolError text."""
    fn = spec.fn

    @functools.wraps(fn)
    async def bound(*args: Any, **kwargs: Any) -> Any:
        token = CURRENT_TOOLKIT.set(kit_name)
        try:
            return await fn(*args, **kwargs)
        except (ToolError, MCPError):
            raise
        except ConfluenceMCPError as exc:
            raise ToolError(str(exc)) from exc
        except Exception as exc:
            raise ToolError(_unexpected(spec.name, exc)) from exc
        finally:
            CURRENT_TOOLKIT.reset(token)

    # The SDK derives the input schema from the signature; keep the original one (annotations resolved).
    bound.__signature__ = inspect.signature(fn, eval_str=True)  # type: ignore[attr-defined]
    return bound


def _unexpected(tool_name: str, exc: Exception) -> str:
    """A readable message for a failure no layer translated (the SDK would only say "Error executing tool")."""
    log.exception("tool %s failed", tool_name)
    if type(exc).__module__.startswith("psycopg"):
        return (f"The index database failed ({type(exc).__name__}: {str(exc).strip()[:300]}). Check "
                "`[index] database_url` (or CONFLUENCE_MCP_DATABASE_URL), or the embedded Postgres under the data "
                "directory, then retry.")
    return (f"{tool_name} failed unexpectedly ({type(exc).__name__}). This is a bug in confluence-mcp; the server "
            "log has the details. Retrying may help if the cause was transient.")


_SCHEMA_MAPS = {"properties", "$defs", "definitions", "patternProperties"}
_SCHEMA_LISTS = {"anyOf", "oneOf", "allOf", "prefixItems"}
_NULL = {"type": "null"}
# Keywords that constrain only one JSON type, so they stay valid next to `type: [T, "null"]`.
_TYPED_KEYWORDS = {"type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength",
                   "maxLength", "pattern", "format", "items", "minItems", "maxItems", "uniqueItems"}


def compact_schema(schema: Any, *, output: bool = False) -> Any:
    """The same JSON Schema with less noise: no generated titles, no `default: null`. Inputs: an optional
    `anyOf [T, null]` is published as plain `T` (callers omit it rather than send null). Outputs: no defaults or
    descriptions, and `anyOf [T, null]` written as `type: [T, "null"]` so results still validate. Validation on our
    side is unaffected: the SDK validates arguments and results with the pydantic models."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if (key == "title" and isinstance(value, str)) or (key == "default" and (value is None or output)):
            continue
        if output and key == "description" and isinstance(value, str):
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: compact_schema(sub, output=output) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [compact_schema(sub, output=output) for sub in value]
        elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
            out[key] = compact_schema(value, output=output)
        else:
            out[key] = value
    branches = out.get("anyOf")
    if isinstance(branches, list) and len(branches) == 2 and _NULL in branches:
        other = branches[0] if branches[1] == _NULL else branches[1]
        if set(other) <= _TYPED_KEYWORDS and isinstance(other.get("type"), str) and other["type"] != "object":
            del out["anyOf"]
            out.update(other)
            out["type"] = [other["type"], "null"] if output else other["type"]
    return out


def make_tool(spec: ToolSpec, kit: Toolkit) -> Tool:
    """The SDK tool for one spec bound to one toolkit, with compact schemas and a one-paragraph description."""
    description = " ".join(inspect.cleandoc(spec.fn.__doc__ or spec.title).split())
    made = Tool.from_function(bind(spec, kit.name), name=f"{kit.prefix}{spec.name}", title=spec.title,
                              description=description, annotations=_annotations(spec), structured_output=True)
    made.parameters = compact_schema(made.parameters)
    if made.fn_metadata.output_schema is not None:
        made.fn_metadata.output_schema = compact_schema(made.fn_metadata.output_schema, output=True)
    return made


def instructions_for(toolkits: list[Toolkit]) -> str:
    """Short, truthful server instructions built from the configuration."""
    lines = ["Confluence tools. Search first (results carry ids, excerpts and web URLs), then read pages by id."]
    for kit in toolkits:
        scope = ", ".join(kit.allowed_spaces) or "every space the account can read"
        mode = "read-only" if kit.settings.read_only else "read-write"
        prefix = f"Tools prefixed '{kit.prefix}': " if kit.prefix else ""
        lines.append(f"{prefix}{kit.hosting} site, default space {kit.space or '(none)'}, "
                     f"allowed spaces: {scope}, {mode}.")
    return "\n".join(lines)


def build_server(settings: Settings) -> MCPServer[AppState]:
    """A fresh MCP server for these settings (no import-time globals); ConfigError on bad policy."""
    from confluence_mcp.confluence.client import ConfluenceClient

    toolkits = settings.resolved_toolkits()
    if not toolkits:
        raise ConfigError("no Confluence site configured: set CONFLUENCE_URL or add [credentials] to the config file")
    specs = all_tool_specs()
    plan = [(kit, enabled_specs(kit, specs)) for kit in toolkits]

    @asynccontextmanager
    async def lifespan(_server: MCPServer[AppState]) -> AsyncIterator[AppState]:
        async with AsyncExitStack() as stack:
            clients: dict[str, ConfluenceClient] = {}
            kits: dict[str, KitRuntime] = {}
            for kit in toolkits:
                # One pooled client per credential; toolkits sharing a credential share its connections.
                client = clients.get(kit.settings.credential)
                if client is None:
                    client = await stack.enter_async_context(ConfluenceClient(kit))
                    clients[kit.settings.credential] = client
                kits[kit.name] = KitRuntime(kit, client, settings)
            try:
                yield AppState(settings, kits)
            finally:
                if any(k.index is not None for k in kits.values()):
                    # Imported only here: a server that never touched the index never loads its modules.
                    from confluence_mcp.index.service import shutdown_index

                    await shutdown_index(settings)

    tools = [make_tool(spec, kit) for kit, kit_specs in plan for spec in kit_specs]
    server: MCPServer[AppState] = MCPServer(
        "confluence-mcp", version=__version__, instructions=instructions_for(toolkits), lifespan=lifespan,
        log_level=_sdk_level(settings.log_level), tools=tools,
    )
    log.info("registered %d tools for %d toolkit(s)", sum(len(s) for _, s in plan), len(plan))
    return server


def _sdk_level(level: str) -> Any:
    upper = level.upper()
    return upper if upper in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"} else "INFO"
