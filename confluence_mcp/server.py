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

import pydantic_core
from mcp import MCPError
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel

from confluence_mcp import __version__
from confluence_mcp.config import Settings, Toolkit
from confluence_mcp.errors import ConfigError, ConfluenceMCPError
from confluence_mcp.tools.context import CURRENT_TOOLKIT, AppState, KitRuntime
from confluence_mcp.tools.registry import ToolFn, ToolSpec, specs_in

__all__ = ["TOOL_MODULES", "all_tool_specs", "bind", "build_server", "compact_schema", "enabled_specs",
           "instructions_for", "make_tool", "structured"]

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
    # Only hints that differ from the MCP spec's defaults or carry meaning: readOnlyHint defaults to false,
    # openWorldHint to true (every tool reaches Confluence), and destructive/idempotent apply only when not
    # read-only. Write tools state both of those explicitly (an unset destructiveHint reads as true). The title is
    # sent once, as the tool's own `title`.
    if spec.read_only:
        return ToolAnnotations(read_only_hint=True)
    return ToolAnnotations(destructive_hint=spec.destructive, idempotent_hint=spec.idempotent)


def bind(spec: ToolSpec, kit_name: str) -> ToolFn:
    """Wrap a tool so calls run bound to one toolkit and our errors reach the model as ToolError text."""
    fn = spec.fn

    @functools.wraps(fn)
    async def bound(*args: Any, **kwargs: Any) -> Any:
        token = CURRENT_TOOLKIT.set(kit_name)
        try:
            return structured(await fn(*args, **kwargs))
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


def structured(result: Any) -> Any:
    """A result model as a CallToolResult without its None fields: the published output schema lists nullable
    fields as optional non-null ones (see `compact_schema`), so absent is how "no value" is said."""
    if not isinstance(result, BaseModel) or type(result).__module__.startswith("mcp"):
        return result  # protocol objects (a CallToolResult, content blocks) pass through untouched
    data = result.model_dump(mode="json", by_alias=True, exclude_none=True)
    text = pydantic_core.to_json(data, indent=2).decode()
    return CallToolResult(content=[TextContent(text=text)], structured_content=data)


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
_DEF_REF = "#/$defs/"


def compact_schema(schema: Any, *, output: bool = False) -> Any:
    """The same JSON Schema with less noise: no generated titles, no `default: null`, `$defs` used once inlined.

    An optional property's `anyOf [T, null]` is published as plain `T`: inputs omit it rather than send null,
    and results omit None fields (`structured`), so in outputs such a property also leaves `required`. Outputs
    carry no defaults or descriptions; elsewhere (e.g. list items) `anyOf [T, null]` becomes `type: [T, "null"]`.
    Validation on our side is unaffected: the SDK validates arguments and results with the pydantic models."""
    return _inline_single_defs(_compact(schema, output=output, is_property=False))


def _compact(schema: Any, *, output: bool, is_property: bool) -> Any:
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if (key == "title" and isinstance(value, str)) or (key == "default" and (value is None or output)):
            continue
        if output and key == "description" and isinstance(value, str):
            continue
        if not output and ((key == "minLength" and value == 1) or key == "maxLength"):
            continue  # length guards: the server still enforces them, and they tell a model nothing useful
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: _compact(sub, output=output, is_property=key == "properties")
                        for name, sub in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [_compact(sub, output=output, is_property=False) for sub in value]
        elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
            out[key] = _compact(value, output=output, is_property=False)
        else:
            out[key] = value
    if output and isinstance(out.get("required"), list) and isinstance(schema.get("properties"), dict):
        optional = {name for name, sub in schema["properties"].items() if _nullable(sub)}
        out["required"] = [name for name in out["required"] if name not in optional]
        if not out["required"]:
            del out["required"]
    branches = out.get("anyOf")
    if not (isinstance(branches, list) and _NULL in branches):
        return out
    others = [b for b in branches if b != _NULL]
    if is_property:
        # Absent means null here, so the null branch says nothing.
        if len(others) == 1 and not (set(others[0]) & (set(out) - {"anyOf"})):
            del out["anyOf"]
            out.update(others[0])
        else:
            out["anyOf"] = others
        return out
    if len(others) == 1:
        other = others[0]
        if set(other) <= _TYPED_KEYWORDS and isinstance(other.get("type"), str) and other["type"] != "object":
            del out["anyOf"]
            out.update(other)
            out["type"] = [other["type"], "null"] if output else other["type"]
    return out


def _nullable(schema: Any) -> bool:
    return isinstance(schema, dict) and isinstance(schema.get("anyOf"), list) and _NULL in schema["anyOf"]


_ANNOTATIONS = {"title", "description", "default", "examples"}


def _refs(node: Any, found: dict[str, list[set[str]]]) -> dict[str, list[set[str]]]:
    """Each `$defs` entry referenced inside `node`, with the sibling keys of every reference to it."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_DEF_REF):
            found.setdefault(ref[len(_DEF_REF):], []).append(set(node) - {"$ref"})
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)
    return found


def _reaches(defs: dict[str, Any], start: str, target: str, seen: set[str]) -> bool:
    for name in _refs(defs.get(start), {}):
        if name == target or (name not in seen and _reaches(defs, name, target, seen | {name})):
            return True
    return False


def _inline_single_defs(schema: Any) -> Any:
    """Replace each `$ref` to a `$defs` entry used exactly once by the entry itself (no indirection to read)."""
    if not isinstance(schema, dict) or not isinstance(schema.get("$defs"), dict):
        return schema
    defs: dict[str, Any] = schema["$defs"]
    # Only the reference's annotations (description, ...) may sit next to it, and they override the entry's.
    # A recursive entry stays a reference, or inlining would never end.
    once = {name for name, siblings in _refs(schema, {}).items()
            if name in defs and len(siblings) == 1 and not (siblings[0] & set(defs[name])) - _ANNOTATIONS
            and not _reaches(defs, name, name, set())}

    def inline(node: Any) -> Any:
        if isinstance(node, list):
            return [inline(v) for v in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.removeprefix(_DEF_REF) in once:
            rest = {k: inline(v) for k, v in node.items() if k != "$ref"}
            return {**inline(defs[ref.removeprefix(_DEF_REF)]), **rest}
        return {k: inline(v) for k, v in node.items() if k != "$defs"}

    out = inline(schema)
    kept = {name: inline(body) for name, body in defs.items() if name not in once}
    if kept:
        out["$defs"] = kept
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
            clients: dict[tuple[object, ...], ConfluenceClient] = {}
            kits: dict[str, KitRuntime] = {}
            for kit in toolkits:
                # Toolkits sharing a credential share its pooled connections, unless their hosting or retry
                # settings differ: those belong to the client, and each toolkit must get its own.
                key = (kit.settings.credential, kit.hosting, kit.settings.retries, kit.settings.retry_min_seconds,
                       kit.settings.retry_max_seconds)
                client = clients.get(key)
                if client is None:
                    client = await stack.enter_async_context(ConfluenceClient(kit))
                    clients[key] = client
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
