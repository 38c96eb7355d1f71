"""The MCP server: registers every tool spec per toolkit, enforces the tool policy, owns the clients.

Policy filter order (fixed): tool group modules → enabled tools (`toolkit.tools`) → read-only mode (write tools
dropped; the generic request tool stays but refuses non-GET). Only tools that pass are registered, so a hidden
tool answers exactly like an unknown one, at list time and at call time.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import inspect
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, cast

import anyio
import pydantic_core
from mcp import MCPError
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.types import MISSING_REQUIRED_CLIENT_CAPABILITY, CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field, ValidationError

from confluence_mcp import __version__
from confluence_mcp.config import Settings, Toolkit
from confluence_mcp.errors import ConfigError, ConfluenceMCPError
from confluence_mcp.index import llm
from confluence_mcp.tool_schemas import compact_schema
from confluence_mcp.tools.context import CURRENT_TOOLKIT, AppState, KitRuntime
from confluence_mcp.tools.registry import ToolFn, ToolSpec, specs_in

__all__ = ["TOOL_MODULES", "all_tool_specs", "bind", "build_server", "enabled_specs",
           "instructions_for", "make_tool", "structured"]

log = logging.getLogger(__name__)

_SHUTDOWN_SECONDS = 30.0  # bound on the lifespan's cleanup (stopping the embedded Postgres, closing pools)
# manage is split over several modules; each declares its own specs.
TOOL_MODULES = ("search", "content", "generic", "manage", "manage_updates", "manage_files", "manage_labels", "index",
                "images")


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
        bare = [_bare_name(t, kit.name, by_name) for t in wanted]
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


def _bare_name(name: str, kit_name: str, known: dict[str, ToolSpec]) -> str:
    """`hr_search_pages` names search_pages in toolkit hr, even when hr is the only toolkit (its tools then carry
    no prefix, but a config written for several toolkits must keep working)."""
    own = f"{kit_name}_"
    return name[len(own):] if name not in known and name.startswith(own) else name


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
    fields as optional non-null ones (see `compact_schema`), so absent is how "no value" is said. The text copy is
    compact JSON: the model reads it, and indentation made result lists 14–59 % longer (search, page tree)."""
    if not isinstance(result, BaseModel) or type(result).__module__.startswith("mcp"):
        return result  # protocol objects (a CallToolResult, content blocks) pass through untouched
    data = result.model_dump(mode="json", by_alias=True, exclude_none=True)
    text = pydantic_core.to_json(data).decode()
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


class CheckedTool(Tool):
    """An SDK tool whose arguments are checked first: the ELITEA aliases are renamed, unknown names refused (the
    SDK would silently ignore a misspelt `spaceKey`) and invalid values reported one line each, without
    pydantic's report format."""

    aliases: dict[str, str] = Field(default_factory=dict)
    samples: bool = False  # see ToolSpec.samples

    async def run(self, arguments: dict[str, Any], context: Any, convert_result: bool = False) -> Any:
        arguments = self._renamed(arguments)
        try:
            return await super().run(arguments, context, convert_result)
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(cause, ValidationError) and cause.title == self.fn_metadata.arg_model.__name__:
                raise ToolError(self._invalid(cause)) from cause
            raise
        except MCPError as exc:
            # A client on the 2025 protocol answers a refused sampling request with an error, which the SDK turns
            # into a failed call; run it again without an LLM instead (the tools say why). On the 2026 protocol the
            # client itself ends the call.
            if not self.samples or exc.code == MISSING_REQUIRED_CLIENT_CAPABILITY or llm.SAMPLING_REFUSED.get() \
                    or not llm.client_can_sample(context):
                raise
            token = llm.SAMPLING_REFUSED.set(exc.message[:200] or f"error {exc.code}")
            try:
                return await super().run(arguments, context, convert_result)
            finally:
                llm.SAMPLING_REFUSED.reset(token)

    def _renamed(self, arguments: dict[str, Any]) -> dict[str, Any]:
        args = dict(arguments)
        for alias, name in self.aliases.items():
            if alias in args:
                value = args.pop(alias)
                if args.setdefault(name, value) != value:
                    raise ToolError(f"Error executing tool {self.name}: `{alias}` is an alias of `{name}`; "
                                    "give one of them, not two different values.")
        properties = self.parameters.get("properties", {})
        known = list(properties)
        unknown = [key for key in args if key not in known]
        if unknown:
            hints = [f"`{key}` (did you mean `{close[0]}`?)" if (close := difflib.get_close_matches(key, known, 1))
                     else f"`{key}`" for key in unknown]
            raise ToolError(f"Error executing tool {self.name}: unknown argument {', '.join(hints)}. "
                            f"It takes: {', '.join(known) or 'no arguments'}.")
        return {key: _text_for_integer(value, properties.get(key) or {}) for key, value in args.items()}

    def _invalid(self, error: ValidationError) -> str:
        problems = []
        for item in error.errors(include_url=False):
            where = ".".join(str(part) for part in item["loc"]) or "arguments"
            if item["type"] == "missing":
                problems.append(f"`{where}` is required")
            else:
                problems.append(f"`{where}`: {item['msg']} (got {_short(item.get('input'))})")
        return f"Error executing tool {self.name}: invalid arguments: {'; '.join(problems)}."


def _text_for_integer(value: Any, schema: dict[str, Any]) -> Any:
    """An integer where the schema wants text, as text: clients and models send page ids as numbers (65539 for
    "65539"), and refusing those helps nobody. Inside lists and objects too (`create_pages` items, say)."""
    kind = schema.get("type")
    if kind == "string" and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if kind == "array" and isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_text_for_integer(item, schema["items"]) for item in value]
    if kind == "object" and isinstance(value, dict) and isinstance(schema.get("properties"), dict):
        fields = schema["properties"]
        return {key: _text_for_integer(item, fields.get(key) or {}) for key, item in value.items()}
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def make_tool(spec: ToolSpec, kit: Toolkit) -> Tool:
    """The SDK tool for one spec bound to one toolkit, with compact schemas and a one-paragraph description."""
    description = " ".join(inspect.cleandoc(spec.fn.__doc__ or spec.title).split())
    made = cast(CheckedTool, CheckedTool.from_function(
        bind(spec, kit.name), name=f"{kit.prefix}{spec.name}", title=spec.title, description=description,
        annotations=_annotations(spec), structured_output=True))
    made.aliases = dict(spec.aliases)
    made.samples = spec.samples
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

    sessions = 0  # lifespans entered and not yet left: SSE and in-memory clients enter one per connection
    index_used = False

    @asynccontextmanager
    async def lifespan(_server: MCPServer[AppState]) -> AsyncIterator[AppState]:
        nonlocal sessions, index_used
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
            sessions += 1
            try:
                yield AppState(settings, kits)
            finally:
                # Shielded: a session ended by a signal is cancelled, and cleanup must still stop the embedded
                # Postgres and close the pools (bounded, so a stuck shutdown cannot hold the process forever).
                sessions -= 1
                index_used = index_used or any(k.index is not None for k in kits.values())
                with anyio.move_on_after(_SHUTDOWN_SECONDS, shield=True):
                    # The index store and the embedded Postgres belong to the process: the last session stops them.
                    if not sessions and index_used:
                        index_used = False
                        # Imported only here: a server that never touched the index never loads its modules.
                        from confluence_mcp.index.service import shutdown_index

                        await shutdown_index(settings)
                    await stack.aclose()

    tools = [make_tool(spec, kit) for kit, kit_specs in plan for spec in kit_specs]
    server: MCPServer[AppState] = MCPServer(
        "confluence-mcp", version=__version__, instructions=instructions_for(toolkits), lifespan=lifespan,
        log_level=_sdk_level(settings.log_level), tools=tools,
    )
    log.info("registered %d tools for %d toolkit(s)", sum(len(s) for _, s in plan), len(plan))
    _add_health_check(server)
    return server


def _add_health_check(server: MCPServer[AppState]) -> None:
    """`GET /healthz` on the HTTP transports, for load balancers and container probes: a liveness check that
    needs no MCP session and never calls Confluence (a slow wiki must not get the server restarted)."""
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response

    @server.custom_route("/healthz", methods=["GET"], include_in_schema=False)
    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok", "version": __version__})


def _sdk_level(level: str) -> Any:
    upper = level.upper()
    return upper if upper in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"} else "INFO"
