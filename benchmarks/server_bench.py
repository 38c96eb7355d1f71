"""Benchmark confluence-mcp against mcp-atlassian on the same sandbox page.

Measures, in one run: spawn → tools listed (stdio subprocess, median of several starts), `read_page_by_id` p50
latency against mcp-atlassian's `confluence_get_page` on the same page (twice: the same page version read again,
where our per-version conversion cache answers, and a new version before every read, so each read converts),
and the total size of all tool definitions (compact JSON of tools/list), also counted as the part a client hands
the model (name, description and input schema). mcp-atlassian is installed into its own
venv under benchmarks/.work/; when that fails, its column is skipped with a message.

Both servers are compared over the protocol both speak, the `initialize` handshake (2025-11-25) that Claude
Desktop, Cursor and VS Code use. mcp-atlassian's SDK does not know the newer `server/discover` (2026-07-28); a
client in that mode would first fail and then fall back. Our server's figures in the newer protocol are printed
below the table.

    python benchmarks/server_bench.py [--starts 5] [--calls 30]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import venv
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import httpx
from mcp import Client, StdioServerParameters

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "benchmarks" / ".work"
PAGE_ID = "65539"
USER, TOKEN = "sandbox@example.com", "sandbox-token"


def atlassian_venv() -> Path | None:
    """A venv with mcp-atlassian installed, or None (with a message) when it cannot be installed."""
    env_dir = WORK / "mcp-atlassian-venv"
    exe = env_dir / "bin" / "mcp-atlassian"
    if exe.exists():
        return exe
    print("installing mcp-atlassian into", env_dir, file=sys.stderr)
    try:
        venv.create(env_dir, with_pip=True, clear=True)
        subprocess.run([str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q", "mcp-atlassian"],
                       check=True, timeout=900)
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"skipping mcp-atlassian: install failed ({exc})", file=sys.stderr)
        return None
    return exe if exe.exists() else None


# What an MCP client turns into the model's tool definitions (Anthropic's and OpenAI's tool formats have no place
# for titles, annotations or output schemas).
MODEL_FACING = ("name", "description", "inputSchema")


def tools_size(tools: list[Any], fields: tuple[str, ...] | None = None) -> int:
    dumped = [t.model_dump(by_alias=True, exclude_none=True, mode="json") for t in tools]
    if fields is not None:
        dumped = [{k: v for k, v in d.items() if k in fields} for d in dumped]
    return sum(len(json.dumps(d, separators=(",", ":"), ensure_ascii=False)) for d in dumped)


class PageEditor:
    """Gives the benchmark page a new version (a numbered paragraph appended to its original body)."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=f"{base_url}/rest/api", auth=(USER, TOKEN), timeout=30)
        page = self.http.get(f"/content/{PAGE_ID}", params={"expand": "body.storage,version"}).json()
        self.title, self.original = page["title"], page["body"]["storage"]["value"]
        self.edits = 0

    def __call__(self) -> None:
        version = self.http.get(f"/content/{PAGE_ID}", params={"expand": "version"}).json()["version"]["number"]
        self.edits += 1
        self.http.put(f"/content/{PAGE_ID}", json={
            "type": "page", "title": self.title, "version": {"number": version + 1},
            "body": {"storage": {"value": f"{self.original}<p>Edit {self.edits}</p>", "representation": "storage"}},
        }).raise_for_status()


class Server:
    """One server under test: how to start it and which tool reads the page."""

    def __init__(self, name: str, params: StdioServerParameters, tool: str, mode: str = "legacy") -> None:
        self.name, self.params, self.tool, self.mode = name, params, tool, mode
        self.spawn: list[float] = []
        self.same: list[float] = []
        self.fresh: list[float] = []
        self.size = self.model_size = self.count = 0


async def measure(servers: list[Server], *, starts: int, calls: int, edit: PageEditor) -> None:
    """Spawns and reads (in blocks) alternate between the servers, so both see the same machine (this VM drifts by
    ~30 %)."""
    for _ in range(starts):
        for server in servers:
            began = time.perf_counter()
            async with Client(server.params, mode=server.mode) as client:
                tools = (await client.list_tools()).tools
                server.spawn.append(time.perf_counter() - began)
            server.size, server.model_size = tools_size(tools), tools_size(tools, MODEL_FACING)
            server.count = len(tools)
    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(Client(server.params, mode=server.mode)) for server in servers]
        args = {"page_id": PAGE_ID}
        for server, client in zip(servers, clients, strict=True):
            first = await client.call_tool(server.tool, args)
            if first.is_error:
                raise RuntimeError(f"{server.name}: {server.tool} failed: {first.content}")
        for fresh in (False, True):
            for done in range(0, calls, _BLOCK):
                for server, client in zip(servers, clients, strict=True):
                    await client.call_tool(server.tool, args)  # untimed: wakes this server after the other's turn
                    for _ in range(min(_BLOCK, calls - done)):
                        if fresh:
                            edit()  # outside the timed window: this read converts a version it has not seen
                        began = time.perf_counter()
                        result = await client.call_tool(server.tool, args)
                        (server.fresh if fresh else server.same).append(time.perf_counter() - began)
                        assert not result.is_error


# Reads alternate between the servers in blocks: call by call, each read was timed while the other server's
# process was still busy after its own (on 2 cores that added about 1 ms to our reads).
_BLOCK = 10


def _figures(server: Server) -> dict[str, Any]:
    return {"spawn_s": statistics.median(server.spawn), "p50_ms": statistics.median(server.same) * 1000,
            "fresh_p50_ms": statistics.median(server.fresh) * 1000, "schema_bytes": server.size,
            "model_bytes": server.model_size, "tools": server.count}


def row(name: str, ours: float, theirs: float | None, unit: str) -> str:
    ratio = f"{ours / theirs:.2f}" if theirs else "-"
    other = f"{theirs:.3f}" if theirs is not None else "n/a"
    return f"| {name:<28} | {ours:>12.3f} | {other:>14} | {ratio:>6} | {unit} |"


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--skip-atlassian", action="store_true")
    opts = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from confluence_mcp.sandbox.runner import SandboxOptions, start_sandbox

    WORK.mkdir(parents=True, exist_ok=True)
    exe = None if opts.skip_atlassian else atlassian_venv()
    # The sandbox runs in its own process so it does not share a GIL with the measuring client.
    with start_sandbox(SandboxOptions(flavor="cloud"), subprocess=True) as sandbox:
        edit = PageEditor(sandbox.base_url)
        base = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
        ours_env = {**base, "CONFLUENCE_URL": sandbox.base_url, "CONFLUENCE_USERNAME": USER,
                    "CONFLUENCE_API_TOKEN": TOKEN, "CONFLUENCE_SPACE": "DEMO", "PYTHONPATH": str(REPO),
                    "CONFLUENCE_MCP_LOG_LEVEL": "WARNING"}
        ours_params = StdioServerParameters(command=sys.executable, args=["-m", "confluence_mcp"], env=ours_env,
                                            cwd=str(REPO))
        modern = Server("confluence-mcp", ours_params, "read_page_by_id", mode="auto")
        servers = [Server("confluence-mcp", ours_params, "read_page_by_id")]
        if exe is not None:
            their_env = {**base, "CONFLUENCE_URL": sandbox.base_url, "CONFLUENCE_USERNAME": USER,
                         "CONFLUENCE_API_TOKEN": TOKEN, "TOOLSETS": "all", "MCP_VERBOSE": "false",
                         "FASTMCP_SHOW_CLI_BANNER": "false"}
            servers.append(Server("mcp-atlassian", StdioServerParameters(command=str(exe), args=[], env=their_env),
                                  "confluence_get_page"))
        try:
            await measure([*servers, modern], starts=opts.starts, calls=opts.calls, edit=edit)
        except Exception as exc:  # the peer is third-party: report it and measure ours alone
            if len(servers) == 1:
                raise
            print(f"skipping mcp-atlassian: {exc!r}", file=sys.stderr)
            servers = [Server(servers[0].name, servers[0].params, servers[0].tool)]
            modern = Server(modern.name, modern.params, modern.tool, mode=modern.mode)
            await measure([*servers, modern], starts=opts.starts, calls=opts.calls, edit=edit)
    ours, theirs = _figures(servers[0]), (_figures(servers[1]) if len(servers) > 1 else None)
    t = theirs or {}
    print(f"\nSame sandbox page {PAGE_ID} (cloud flavour); {opts.starts} starts, {opts.calls} calls.\n")
    print("| metric                       | confluence-mcp | mcp-atlassian | ratio  | unit |")
    print("|------------------------------|--------------|----------------|--------|------|")
    print(row("spawn -> tools listed", ours["spawn_s"], t.get("spawn_s"), "s (median)"))
    print(row("read page p50, same version", ours["p50_ms"], t.get("p50_ms"), "ms"))
    print(row("read page p50, new version", ours["fresh_p50_ms"], t.get("fresh_p50_ms"), "ms"))
    print(row("all tool schemas", ours["schema_bytes"] / 1024, (t["schema_bytes"] / 1024) if t else None, "KB"))
    print(row("  name+description+input", ours["model_bytes"] / 1024, (t["model_bytes"] / 1024) if t else None,
              "KB"))
    print(row("tools", ours["tools"], t.get("tools"), "count"))
    new = _figures(modern)
    print(f"\nconfluence-mcp over the 2026-07-28 protocol (server/discover): spawn -> listed {new['spawn_s']:.3f} s, "
          f"read p50 {new['p50_ms']:.3f} ms (new version {new['fresh_p50_ms']:.3f} ms).")
    return 0


if __name__ == "__main__":
    sys.exit(anyio.run(main))
