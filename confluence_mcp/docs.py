"""Generate the README's tool reference from the tool registry: `python -m confluence_mcp.docs [--check]`.

The table sits between the `tools:start` and `tools:end` markers; a test fails when it is stale.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from pathlib import Path

from confluence_mcp.server import all_tool_specs
from confluence_mcp.tools.registry import ToolSpec

__all__ = ["render_tool_table", "update_readme"]

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- tools:start -->", "<!-- tools:end -->"
GROUPS = {"search": "Search & discovery", "content": "Content access", "manage": "Content management",
          "index": "Semantic index", "generic": "Generic request"}


def _kind(spec: ToolSpec) -> str:
    if spec.method_dependent:
        return "GET read-only; other methods write"
    if spec.read_only:
        return "read-only"
    return "destructive" if spec.destructive else ("write, idempotent" if spec.idempotent else "write")


def _summary(spec: ToolSpec) -> str:
    doc = " ".join((inspect.getdoc(spec.fn) or "").split())
    first = re.split(r"(?<=[.!?])\s", doc, maxsplit=1)[0]
    return first.replace("|", "\\|")


def render_tool_table() -> str:
    rows = ["| Group | Tool | Kind | What it does |", "|---|---|---|---|"]
    specs = sorted(all_tool_specs(), key=lambda s: (list(GROUPS).index(s.group), s.name))
    rows += [f"| {GROUPS[s.group]} | `{s.name}` | {_kind(s)} | {_summary(s)} |" for s in specs]
    return "\n".join(rows)


def update_readme(text: str) -> str:
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{render_tool_table()}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 when the README table is stale")
    args = parser.parse_args(argv)
    current = README.read_text(encoding="utf-8")
    fresh = update_readme(current)
    if args.check:
        if fresh != current:
            print("README tool table is stale: run python -m confluence_mcp.docs", file=sys.stderr)
            return 1
        return 0
    README.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
