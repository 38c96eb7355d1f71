"""MCP Inspector 2.x, a third-party client, drives a real `confluence-mcp` subprocess over stdio with its CLI.

It lists the tools, runs its schema portability check in strict mode (values that accept anything, `type` lists
some model providers reject, ...), and calls a tool the way a user would from a shell (`page_id=65539`, which it
sends as a number). Needs Node >= 22.19 and `@modelcontextprotocol/inspector`; `.ci/run` installs both under
`.node22/` (or point CONFLUENCE_MCP_NODE_BIN at a folder holding `node` and `inspector`). Skips with a reason
when they are absent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _mcp_fixtures import REPO, node_tool, sandbox_env


def inspector(sandbox: Any, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    folder = node_tool("inspector", minimum=(22, 19))
    if folder is None:
        pytest.skip("MCP Inspector not installed (needs Node >= 22.19 under .node22/; see .ci/run)")
    env = {**os.environ, **sandbox_env(sandbox), "HOME": str(home),  # it keeps a catalog under ~/.mcp-inspector
           "PATH": f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"}
    server = [sys.executable, "-m", "confluence_mcp"]
    return subprocess.run([str(folder / "inspector"), "--cli", *args, "--", *server], capture_output=True,
                          text=True, timeout=120, env=env, cwd=REPO)


def test_inspector_lists_portable_schemas(flavor_sandbox: Any, tmp_path: Path) -> None:
    done = inspector(flavor_sandbox, tmp_path, "--strict", "--method", "tools/list")
    assert done.returncode == 0, done.stderr[-2000:]
    names = [tool["name"] for tool in json.loads(done.stdout)["tools"]]
    assert "read_page_by_id" in names and "search_index" in names
    warnings = [line for line in done.stderr.splitlines() if line.startswith(("Warning:", "Error:"))]
    assert not warnings, done.stderr[-3000:]


def test_inspector_calls_a_tool_with_a_numeric_page_id(flavor_sandbox: Any, tmp_path: Path) -> None:
    done = inspector(flavor_sandbox, tmp_path, "--method", "tools/call", "--tool-name", "read_page_by_id",
                     "--tool-arg", "page_id=65539")
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert not result.get("isError"), result
    assert result["structuredContent"]["id"] == "65539" and result["structuredContent"]["markdown"]
