"""`confluence-mcp index`: build or refresh an index collection from the command line (for cron jobs).

Progress goes to stderr as a text bar (plain lines when stderr is not a terminal); the final report is one JSON
line on stdout. Exit codes: 0 done, 1 the run failed, 2 bad configuration.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from typing import TextIO

import anyio

from confluence_mcp.config import Settings, load_settings
from confluence_mcp.errors import ConfigError, ConfluenceMCPError
from confluence_mcp.index.sync import IndexReport, Selection, index_pages, report_note

__all__ = ["ProgressBar", "add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--space", help="space key to index (default: the toolkit's space, else every allowed "
                        "space)")
    parser.add_argument("--collection", help="collection name (default: the space key in lower case)")
    parser.add_argument("--cql", help="CQL selecting pages instead of / in addition to --space")
    parser.add_argument("--label", action="append", default=[], help="only pages with this label (repeatable)")
    parser.add_argument("--page-id", action="append", default=[], help="only this page id (repeatable)")
    parser.add_argument("--toolkit", help="toolkit name from the config file (default: the first one)")
    parser.add_argument("--config", help="path to the TOML config file")
    parser.add_argument("--include-comments", action="store_true", help="append footer comments to pages")
    parser.add_argument("--include-attachments", action="store_true", help="index text attachments too")
    parser.add_argument("--clean", action="store_true", help="drop the collection first and rebuild it")
    parser.add_argument("--quiet", action="store_true", help="no progress output")


class ProgressBar:
    """`[#####-----]  120/882  title` redrawn in place on a terminal; a line every 10 % otherwise."""

    def __init__(self, stream: TextIO, *, width: int = 30, quiet: bool = False) -> None:
        self.stream = stream
        self.width = width
        self.quiet = quiet
        self.tty = stream.isatty()
        self._last_decile = -1
        self._drawn = False  # a bar is on the terminal's current line

    async def __call__(self, done: int, total: int, message: str) -> None:
        if self.quiet:
            return
        fraction = done / total if total else 0.0
        filled = int(fraction * self.width)
        line = f"[{'#' * filled}{'-' * (self.width - filled)}] {done:>5}/{total:<5} {message[:50]}"
        if self.tty:
            self.stream.write("\r\x1b[K" + line)
            self._drawn = True
        elif int(fraction * 10) != self._last_decile or done == total:
            self._last_decile = int(fraction * 10)
            self.stream.write(line + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self._drawn:
            self._drawn = False
            self.stream.write("\n")
            self.stream.flush()


async def _index(settings: Settings, args: argparse.Namespace, bar: ProgressBar) -> IndexReport:
    from confluence_mcp.confluence.client import ConfluenceClient
    from confluence_mcp.index.service import open_service, shutdown_index
    from confluence_mcp.tools.context import KitRuntime

    toolkits = settings.resolved_toolkits()
    if not toolkits:
        raise ConfigError("no Confluence site configured: set CONFLUENCE_URL or add [credentials] to the config file")
    kit = next((k for k in toolkits if k.name == args.toolkit), None) if args.toolkit else toolkits[0]
    if kit is None:
        raise ConfigError(f"no toolkit named {args.toolkit!r}; configured: {', '.join(k.name for k in toolkits)}")
    async with ConfluenceClient(kit) as client:
        runtime = KitRuntime(kit, client, settings)
        narrowed = bool(args.cql or args.label or args.page_id)
        if not (args.space or narrowed) and not kit.space and kit.allowed_spaces:
            space = None  # no default space: every allowed space, as index_data does
        else:
            space = runtime.default_space(args.space) if (args.space or not narrowed) else None
        collection = args.collection or (space.lower() if space else "default")
        selection = Selection(space=space, cql=args.cql, labels=tuple(args.label), page_ids=tuple(args.page_id),
                              allowed_spaces=kit.allowed_spaces)
        service = await open_service(settings)
        try:
            report = await index_pages(service, client, collection, selection,
                                       include_comments=args.include_comments,
                                       include_attachments=args.include_attachments, clean=args.clean, progress=bar)
            note = await report_note(service, report, selection)
            if note:  # printed even with --quiet: a cron job's log must say why a collection stayed empty
                bar.finish()
                print(f"confluence-mcp index: note: {note}", file=sys.stderr)
            return report
        finally:
            await shutdown_index(settings)


def run(args: argparse.Namespace) -> int:
    """Run one indexing pass; see the module docstring for output and exit codes."""
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        for line in exc.problems:
            print(f"confluence-mcp index: config: {line}", file=sys.stderr)
        return 2
    if args.quiet:  # cron: only warnings and errors (the embedded Postgres logs its start at INFO)
        logging.getLogger().setLevel(logging.WARNING)
    bar = ProgressBar(sys.stderr, quiet=args.quiet)
    started = time.perf_counter()
    try:
        report = anyio.run(_index, settings, args, bar)
    except ConfigError as exc:
        bar.finish()
        for line in exc.problems:
            print(f"confluence-mcp index: config: {line}", file=sys.stderr)
        return 2
    except ConfluenceMCPError as exc:
        bar.finish()
        print(f"confluence-mcp index: failed after {time.perf_counter() - started:.1f} s: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # no layer translated it: one line for the cron log, the traceback at debug level
        bar.finish()
        logging.getLogger(__name__).debug("index run failed", exc_info=True)
        where = ("the index database failed; check [index] database_url (or CONFLUENCE_MCP_DATABASE_URL) or the "
                 "embedded Postgres under the data directory, then rerun (a rerun only does what is left)"
                 if type(exc).__module__.startswith("psycopg") else "this is a bug in confluence-mcp")
        print(f"confluence-mcp index: failed after {time.perf_counter() - started:.1f} s "
              f"({type(exc).__name__}: {str(exc).strip()[:300]}): {where}", file=sys.stderr)
        return 1
    bar.finish()
    print(json.dumps(report.model_dump()))
    return 0
