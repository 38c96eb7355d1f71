"""`confluence-mcp sandbox`: serve a local Confluence; prints the base URL once it serves.

Also runnable as `python -m confluence_mcp.sandbox.cli` (the runner's subprocess mode uses this).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time

from confluence_mcp.sandbox.runner import SandboxOptions, start_sandbox

__all__ = ["add_arguments", "main", "options_from_args", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=8090, help="port (0 picks a free one; default 8090)")
    parser.add_argument("--flavor", "--flavour", choices=("cloud", "server"), default="cloud",
                        help="cloud: /wiki base, v2 API, cursors; server: Data Center paths and paging")
    parser.add_argument("--seed", default="demo",
                        help="'demo' (built-in space), a JSONL corpus path, or 'none' (default demo)")
    parser.add_argument("--user", default="sandbox@example.com", help="accepted user (Basic auth)")
    parser.add_argument("--token", default="sandbox-token", help="accepted API token / PAT")
    parser.add_argument("--faults", type=float, default=0.0, metavar="RATE",
                        help="inject 429/5xx/slow/dropped responses at this rate (0..1)")
    parser.add_argument("--context-path", default="", help="server flavour context path, e.g. /confluence")
    parser.add_argument("--hidden-space", action="append", default=[], metavar="KEY",
                        help="a space the user cannot see (404); repeatable")
    parser.add_argument("--read-only-space", action="append", default=[], metavar="KEY",
                        help="a space the user cannot write (403); repeatable")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (0..65535; 0 picks a free one)")
    return port


def options_from_args(args: argparse.Namespace) -> SandboxOptions:
    return SandboxOptions(
        flavor=args.flavor, seed=None if args.seed in ("none", "") else args.seed, user=args.user,
        token=args.token, faults=args.faults, context_path=args.context_path,
        hidden_spaces=tuple(args.hidden_space), read_only_spaces=tuple(args.read_only_space),
        host=args.host, port=args.port)


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted (Ctrl-C or SIGTERM)."""
    import signal

    try:
        sandbox = start_sandbox(options_from_args(args))
    except (OSError, RuntimeError, ValueError) as error:
        print(f"error: cannot start the sandbox: {error}", file=sys.stderr)
        return 1
    print(sandbox.base_url, flush=True)
    print(f"credentials: {args.user} / {args.token}  (admin: {sandbox.admin_url})", file=sys.stderr,
          flush=True)
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.is_set():
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="confluence-mcp sandbox", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
