"""SIGTERM and SIGINT end a stdio session as cleanly as end of input: the lifespan's cleanup runs, so the embedded
Postgres the index started is stopped rather than left running without its parent."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from _mcp_fixtures import REPO
from mcp.types import LATEST_PROTOCOL_VERSION

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def send(proc: subprocess.Popen[bytes], message: dict[str, Any]) -> None:
    assert proc.stdin is not None
    proc.stdin.write(json.dumps({"jsonrpc": "2.0", **message}).encode() + b"\n")
    proc.stdin.flush()


def answer(proc: subprocess.Popen[bytes], request_id: int, timeout: float = 120) -> dict[str, Any]:
    """The response to `request_id` (notifications and other lines skipped)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(timeout=deadline - time.monotonic()):
                break
            line = proc.stdout.readline()
            if not line:
                break
            message = json.loads(line)
            if message.get("id") == request_id:
                return dict(message)
    raise AssertionError(f"no answer to request {request_id}; stderr: {proc.stderr.read() if proc.stderr else ''}")


def start_sandbox_server(data_dir: Path, client_name: str) -> subprocess.Popen[bytes]:
    """`serve --sandbox` over stdio with its data in `data_dir`, past the initialize handshake."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("CONFLUENCE")}
    env = {**base, "PYTHONPATH": str(REPO), "CONFLUENCE_MCP_DATA_DIR": str(data_dir),
           "CONFLUENCE_MCP_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, "-m", "confluence_mcp", "serve", "--sandbox"], env=env, cwd=REPO,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        send(proc, {"id": 1, "method": "initialize", "params": {
            "protocolVersion": LATEST_PROTOCOL_VERSION, "capabilities": {},
            "clientInfo": {"name": client_name, "version": "0"}}})
        assert "result" in answer(proc, 1)
        send(proc, {"method": "notifications/initialized"})
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc


def postgres_of(data_dir: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if "postgres" in (process.info["name"] or "") and str(data_dir) in cmdline:
            found.append(process)
    return found


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_the_embedded_postgres(tmp_path: Path, signum: signal.Signals) -> None:
    proc = start_sandbox_server(tmp_path, "signal-test")
    try:
        send(proc, {"id": 2, "method": "tools/call", "params": {"name": "list_collections", "arguments": {}}})
        result = answer(proc, 2)["result"]
        assert not result.get("isError"), result
        assert postgres_of(tmp_path), "the index did not start its embedded Postgres"
        proc.send_signal(signum)
        assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        leftovers = postgres_of(tmp_path)
        for process in leftovers:  # never leave one behind, even when the test fails
            process.kill()
    assert not leftovers, f"postgres still running after {signum.name}: {[p.pid for p in leftovers]}"


def test_a_client_that_closes_our_stdout_ends_the_session_cleanly(tmp_path: Path) -> None:
    """A client quitting closes both pipes; an answer or a progress notification written after that met a broken
    pipe, and the process died with a traceback and exit code 1 instead of ending the session."""
    proc = start_sandbox_server(tmp_path, "pipe-test")
    try:
        assert proc.stdout is not None
        proc.stdout.close()  # the client has gone: nobody reads the answers any more
        send(proc, {"id": 2, "method": "ping"})
        code = proc.wait(timeout=60)  # stdin stays open: the broken pipe alone must end the session
        stderr = proc.stderr.read().decode() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 0, stderr
    assert "Traceback" not in stderr, stderr
