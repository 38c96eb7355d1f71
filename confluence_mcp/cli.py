"""`confluence-mcp` command line: serve (default, stdio), sandbox, index, check.

Subcommand modules are imported only when chosen, so `serve` starts fast (no numpy, models or Postgres on that
path). Logs go to stderr only: on stdio, stdout is the protocol wire.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from confluence_mcp import __version__
from confluence_mcp.config import LOG_LEVELS

if TYPE_CHECKING:
    from confluence_mcp.config import Settings

__all__ = ["build_parser", "main", "sandbox_overrides", "sandbox_settings", "serve"]

log = logging.getLogger("confluence_mcp")

def _add_common(parser: argparse.ArgumentParser, default: Any = None) -> None:
    """--config and --log-level; subcommands pass SUPPRESS so a value given before the subcommand survives."""
    parser.add_argument("--config", metavar="PATH", default=default,
                        help="TOML configuration file (default: $CONFLUENCE_MCP_CONFIG)")
    parser.add_argument("--log-level", default=default, choices=LOG_LEVELS, type=str.upper,
                        help="log level (logs go to stderr)")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (1..65535)")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="confluence-mcp",
                                     description="MCP server for Confluence Cloud and Server/Data Center.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_common(parser)
    sub = parser.add_subparsers(dest="command")
    serve_p = sub.add_parser("serve", help="run the MCP server (default: stdio)")
    _add_common(serve_p, argparse.SUPPRESS)
    serve_p.add_argument("--transport", choices=["stdio", "http", "sse"], default="stdio",
                         help="stdio (default), http (streamable HTTP at /mcp) or sse (legacy clients)")
    serve_p.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default 127.0.0.1)")
    serve_p.add_argument("--port", type=_port, default=8000, help="HTTP port (default 8000)")
    serve_p.add_argument("--sandbox", action="store_true",
                         help="start the built-in sandbox (demo seed) and serve against it")
    sandbox_p = sub.add_parser("sandbox", help="run the local Confluence sandbox")
    index_p = sub.add_parser("index", help="build or refresh a semantic index collection (for cron jobs)")
    check_p = sub.add_parser("check", help="check tools, URL, authentication, space and hosting; "
                                           "exit 0/1, 2 for a bad configuration")
    _add_common(check_p, argparse.SUPPRESS)
    parser.set_defaults(_sandbox_parser=sandbox_p, _index_parser=index_p)
    return parser


def _configure_logging(level: str | None) -> None:
    """stderr logging at --log-level, else CONFLUENCE_MCP_LOG_LEVEL, else INFO; a config file's `log_level` is
    applied by `_set_level` once the file is read."""
    from confluence_mcp.config import env_log_level

    chosen = level or env_log_level(os.environ) or "INFO"
    logging.basicConfig(stream=sys.stderr, level=chosen,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _set_level(chosen)


def _set_level(level: str) -> None:
    logging.getLogger().setLevel(level)
    # httpx logs every request at INFO: noise on stderr and a cost on every tool call.
    quiet = logging.NOTSET if level == "DEBUG" else logging.WARNING
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(quiet)


def sandbox_overrides(base_url: str) -> dict[str, Any]:
    """Settings overrides pointing a default toolkit (space DEMO) at a running sandbox."""
    return {
        "credentials": {"default": {"base_url": base_url, "auth": "basic", "username": "sandbox@example.com",
                                    "api_token": "sandbox-token"}},
        "toolkits": {"default": {"credential": "default", "space": "DEMO"}},
    }


def sandbox_settings(base_url: str, environ: Mapping[str, str]) -> Settings:
    """Settings for serving a running sandbox. Its index lives in a `sandbox` subdirectory of the data directory
    (an embedded Postgres of its own), so demo collections never show up beside the user's own in
    list_collections or a search of every collection; a database_url the user set is used as is."""
    from confluence_mcp.config import default_data_dir, load_settings

    settings = load_settings(None, overrides=sandbox_overrides(base_url), environ=environ)
    if settings.index.database_url is None:
        settings.index.data_dir = (settings.index.data_dir or default_data_dir()).expanduser() / "sandbox"
    return settings


def serve(args: argparse.Namespace) -> int:
    from confluence_mcp.config import CONFIG_ENV, load_settings

    environ = dict(os.environ)
    # The demo sandbox only when asked, or when nothing at all is configured: a half-done configuration (a file
    # without base_url, a misspelt variable) must fail, not quietly serve demo pages.
    use_sandbox = args.sandbox or not (args.config or environ.get(CONFIG_ENV) or _site_variables(environ))
    if use_sandbox and not args.sandbox:
        log.warning("Nothing configured (no --config, CONFLUENCE_MCP_CONFIG or CONFLUENCE_URL); "
                    "falling back to the built-in sandbox with its demo space DEMO.")
    sandbox = None
    try:
        if use_sandbox:
            from confluence_mcp.sandbox.runner import start_sandbox

            sandbox = start_sandbox()
            log.info("sandbox serving at %s", sandbox.base_url)
            for key in [*_site_variables(environ), CONFIG_ENV]:
                environ.pop(key, None)
            settings = sandbox_settings(sandbox.base_url, environ)
        else:
            settings = load_settings(args.config, environ=environ)
            _warn_unknown_variables(environ)
        if args.log_level:
            settings.log_level = args.log_level
        _set_level(settings.log_level)
        _run_server(settings, args)
    finally:
        if sandbox is not None:
            sandbox.stop()
    return 0


def _run_server(settings: Settings, args: argparse.Namespace) -> None:
    from confluence_mcp.server import build_server

    server = build_server(settings)
    if args.transport == "http":
        log.info("streamable HTTP on http://%s:%d/mcp", args.host, args.port)
        server.run("streamable-http", host=args.host, port=args.port)
    elif args.transport == "sse":
        log.info("SSE on http://%s:%d/sse", args.host, args.port)
        server.run("sse", host=args.host, port=args.port)
    else:
        import anyio

        from confluence_mcp.stdio import serve_stdio

        anyio.run(serve_stdio, server)


# Set on Confluence hosts themselves (Data Center's home and install directories): they name no site to serve.
_HOST_VARIABLES = frozenset({"CONFLUENCE_HOME", "CONFLUENCE_INSTALL", "CONFLUENCE_INSTALL_DIR", "CONFLUENCE_VERSION"})


def _site_variables(environ: Mapping[str, str]) -> list[str]:
    """The CONFLUENCE_* (not CONFLUENCE_MCP_*) variables set: any of them, even misspelt, means a site was meant."""
    return sorted(key for key, value in environ.items() if key.startswith("CONFLUENCE_")
                  and not key.startswith("CONFLUENCE_MCP_") and key not in _HOST_VARIABLES and value)


# Names other Confluence tools use (mcp-atlassian among them), which spelling similarity alone maps badly
# (CONFLUENCE_USER is closer to CONFLUENCE_URL than to CONFLUENCE_USERNAME; CONFLUENCE_PAT to CONFLUENCE_SPACE).
_KNOWN_ALIASES = {
    "CONFLUENCE_USER": "CONFLUENCE_USERNAME",
    "CONFLUENCE_EMAIL": "CONFLUENCE_USERNAME",
    "CONFLUENCE_PASSWORD": "CONFLUENCE_API_TOKEN",
    "CONFLUENCE_PAT": "CONFLUENCE_TOKEN",
    "CONFLUENCE_PERSONAL_TOKEN": "CONFLUENCE_TOKEN",
    "CONFLUENCE_SSL_VERIFY": "CONFLUENCE_VERIFY_SSL",
    "CONFLUENCE_SPACE_KEY": "CONFLUENCE_SPACE",
    "CONFLUENCE_SPACES_FILTER": "CONFLUENCE_MCP_ALLOWED_SPACES",
}


def _unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """A hint per CONFLUENCE_* variable nothing reads (CONFLUENCE_BASE_URL for CONFLUENCE_URL, say)."""
    import difflib

    from confluence_mcp.config import SITE_VARIABLES

    hints = []
    for key in _site_variables(environ):
        if key not in SITE_VARIABLES:
            close = [_KNOWN_ALIASES[key]] if key in _KNOWN_ALIASES else \
                difflib.get_close_matches(key, sorted(SITE_VARIABLES), 1)
            hints.append(f"environment: {key} is not a variable confluence-mcp reads"
                         + (f" (did you mean {close[0]}?)" if close else ""))
    return hints


def _warn_unknown_variables(environ: Mapping[str, str]) -> None:
    """The hints of `_unknown_variables` when the configuration loaded anyway (CONFLUENCE_URL with a misnamed token
    variable loads as anonymous access, say); a configuration error prints them with its problems instead."""
    for hint in _unknown_variables(environ):
        log.warning("%s", hint)


def _delegate(module_name: str, argv: Sequence[str], prog: str) -> int:
    import importlib

    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"confluence-mcp {prog}")
    module.add_arguments(parser)
    return int(module.run(parser.parse_args(list(argv))) or 0)


def check(args: argparse.Namespace) -> int:
    """Check every configured toolkit; print one report each; 0 when all pass."""
    import anyio

    from confluence_mcp.check import check_connection, format_report
    from confluence_mcp.config import load_settings
    from confluence_mcp.errors import ConfigError

    settings = load_settings(args.config)
    _set_level(args.log_level or settings.log_level)
    _warn_unknown_variables(os.environ)
    toolkits = settings.resolved_toolkits()
    if not toolkits:
        raise ConfigError("no Confluence site configured: set CONFLUENCE_URL or add [credentials] to the config file")

    async def run_checks() -> bool:
        all_ok = True
        for kit in toolkits:
            report = await check_connection(kit)
            print(format_report(report))
            all_ok = all_ok and report.ok
        return all_ok

    return 0 if anyio.run(run_checks) else 1


def main(argv: Sequence[str] | None = None) -> None:
    from confluence_mcp.errors import ConfigError

    try:
        code = _run(list(sys.argv[1:] if argv is None else argv))
    except ConfigError as exc:
        for line in [*exc.problems, *_unknown_variables(os.environ)]:
            print(f"confluence-mcp: config: {line}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


_DELEGATED = {"sandbox": "confluence_mcp.sandbox.cli", "index": "confluence_mcp.index.cli"}


def _split_delegated(argv: list[str]) -> tuple[list[str], str, list[str]] | None:
    """`[--config X] [--log-level Y] sandbox|index ARGS` as (options before, command, ARGS); None otherwise."""
    i = 0
    while i < len(argv) and argv[i].startswith("--") and argv[i] != "--":
        i += 1 if "=" in argv[i] else 2
    if i < len(argv) and argv[i] in _DELEGATED:
        return argv[:i], argv[i], argv[i + 1:]
    return None


def _run(argv: list[str]) -> int:
    # sandbox and index own their argument list; --config and --log-level given before them still apply.
    split = _split_delegated(argv)
    if split is not None:
        before, command, rest = split
        common = argparse.ArgumentParser(prog="confluence-mcp")
        _add_common(common)
        options = common.parse_args(before)
        if options.config:
            if command != "index":
                common.error(f"--config: {command} reads no configuration file")
            rest = ["--config", options.config, *rest]  # a --config after `index` still wins
        _configure_logging(options.log_level)
        return _delegate(_DELEGATED[command], rest, command)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["serve", *argv])
    _configure_logging(args.log_level)
    return check(args) if args.command == "check" else serve(args)
