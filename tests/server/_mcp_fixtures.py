"""Fixtures shared by tests/server and tests/tools: sandboxes in both flavours, settings, MCP clients.

Everything is real: the sandbox serves HTTP on 127.0.0.1, the server is built by `build_server`, and the MCP SDK
client talks to it in memory, over stdio (subprocess) or over streamable HTTP (subprocess).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client, StdioServerParameters

from confluence_mcp.config import Settings, load_settings
from confluence_mcp.server import build_server

__all__ = [
    "REPO",
    "anyio_backend",
    "call",
    "dumps",
    "flavor_sandbox",
    "free_port",
    "http_server",
    "make_settings",
    "mcp_client",
    "node_tool",
    "sandbox_env",
    "sandbox_pages",
    "stdio_params",
]

REPO = Path(__file__).resolve().parents[2]
USER, TOKEN = "sandbox@example.com", "sandbox-token"


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session", params=["cloud", "server"])
def flavor_sandbox(request: pytest.FixtureRequest) -> Iterator[Any]:
    """One sandbox per flavour for the whole session (demo seed)."""
    from confluence_mcp.sandbox.runner import SandboxOptions, start_sandbox

    with start_sandbox(SandboxOptions(flavor=request.param)) as sandbox:
        yield sandbox


def make_settings(base_url: str, *, token: str = TOKEN, **toolkit: Any) -> Settings:
    """Settings for one toolkit on the sandbox (space DEMO unless overridden); environment ignored."""
    kit = {"space": "DEMO", "retries": 0, **toolkit}
    return load_settings(None, environ={}, overrides={
        "credentials": {"default": {"base_url": base_url, "username": USER, "api_token": token}},
        "toolkits": {"default": kit},
    })


@asynccontextmanager
async def mcp_client(settings: Settings, *, mode: str = "auto") -> AsyncIterator[Client]:
    async with Client(build_server(settings), mode=mode) as client:
        yield client


async def call(client: Client, name: str, args: dict[str, Any]) -> Any:
    """Call a tool; return structured content, or raise AssertionError with the error text."""
    result = await client.call_tool(name, args)
    text = " ".join(getattr(c, "text", "") for c in result.content)
    if result.is_error:
        raise ToolFailed(text)
    assert result.structured_content is not None, text
    # The text content is the same compact JSON, without REST noise (the generic tool keeps useful _links only).
    assert "_expandable" not in text
    assert '"_links"' not in text or name.endswith("execute_generic_confluence")
    return result.structured_content


class ToolFailed(AssertionError):
    pass


def sandbox_pages(sandbox: Any, space: str = "DEMO") -> list[dict[str, Any]]:
    """Pages of a space straight from the sandbox's REST API (test setup only)."""
    out: list[dict[str, Any]] = []
    start = 0
    with httpx.Client(base_url=sandbox.base_url, auth=(USER, TOKEN), timeout=30) as http:
        while True:
            body = http.get("/rest/api/content", params={"spaceKey": space, "type": "page", "limit": 100,
                                                          "start": start,
                                                          "expand": "ancestors,metadata.labels,space"}).json()
            out += body["results"]
            if not body.get("_links", {}).get("next"):
                return out
            start += len(body["results"])


def sandbox_env(sandbox: Any, **extra: str) -> dict[str, str]:
    env = {"CONFLUENCE_URL": sandbox.base_url, "CONFLUENCE_USERNAME": USER, "CONFLUENCE_API_TOKEN": TOKEN,
           "CONFLUENCE_SPACE": "DEMO", "CONFLUENCE_MCP_RETRIES": "0", "PYTHONPATH": str(REPO),
           "CONFLUENCE_MCP_LOG_LEVEL": "WARNING"}
    env.update(extra)
    return env


def stdio_params(env: dict[str, str], *args: str) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", "confluence_mcp", *args], env=env,
                                 cwd=str(REPO))


def node_tool(name: str, minimum: tuple[int, int] = (22, 0)) -> Path | None:
    """The folder holding `node` (at least `minimum`) and the npm tool `name`: CONFLUENCE_MCP_NODE_BIN, else the
    `.node22/` that `.ci/run` installs. None when either is missing."""
    folder = Path(os.environ.get("CONFLUENCE_MCP_NODE_BIN") or REPO / ".node22" / "node_modules" / ".bin")
    if not (folder / name).exists() or not (folder / "node").exists():
        return None
    version = subprocess.run([str(folder / "node"), "--version"], capture_output=True, text=True, timeout=30)
    parts = version.stdout.strip().lstrip("v").split(".") if version.returncode == 0 else []
    found = tuple(int(p) for p in parts[:2] if p.isdigit())
    return folder if len(found) == 2 and found >= minimum else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def http_server(env: dict[str, str], *extra: str, timeout: float = 30.0) -> Iterator[str]:
    """Spawn `confluence-mcp serve --transport http` on a free port; yield its /mcp URL."""
    port = free_port()
    full_env = {**os.environ, **env}
    proc = subprocess.Popen([sys.executable, "-m", "confluence_mcp", "serve", "--transport", "http", "--port",
                             str(port), *extra], env=full_env, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {proc.stderr.read() if proc.stderr else ''}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.05)
        else:
            raise TimeoutError("HTTP server did not start")
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def dumps(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
