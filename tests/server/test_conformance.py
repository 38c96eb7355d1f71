"""The MCP conformance suite's generic server scenarios against a real `confluence-mcp serve --transport http`.

Needs Node >= 22 and `@modelcontextprotocol/conformance`; `.ci/run` installs both under `.node22/` (or point
CONFLUENCE_MCP_NODE_BIN at a folder holding `node` and `conformance`). Skips with a reason when they are absent.
The other scenarios assume the reference server's own demo tools and say nothing about this server.
"""

from __future__ import annotations

import os
import subprocess

import pytest
from _mcp_fixtures import REPO, http_server, node_tool, sandbox_env

SCENARIOS = ["server-initialize", "ping", "tools-list", "dns-rebinding-protection"]


def test_generic_conformance_scenarios_pass(flavor_sandbox: object) -> None:
    folder = node_tool("conformance")
    if folder is None:
        pytest.skip("MCP conformance suite not installed (needs Node >= 22 under .node22/; see .ci/run)")
    env = {**os.environ, "PATH": f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"}
    with http_server(sandbox_env(flavor_sandbox)) as url:
        for scenario in SCENARIOS:
            done = subprocess.run([str(folder / "conformance"), "server", "--url", url, "--scenario", scenario],
                                  capture_output=True, text=True, timeout=120, env=env, cwd=REPO)
            report = done.stdout + done.stderr
            assert done.returncode == 0 and " 0 failed" in report, f"{scenario}:\n{report[-2000:]}"
