"""Start and stop a sandbox on a free port: in-process (uvicorn in a thread) or as a subprocess.

    with start_sandbox(SandboxOptions(flavor="server")) as sandbox:
        httpx.get(sandbox.base_url + "/rest/api/space", auth=("sandbox@example.com", "sandbox-token"))
"""

from __future__ import annotations

import os
import select
import subprocess as subprocess_module
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import uvicorn

from confluence_mcp.sandbox.app import SandboxApp, build_app, site_context
from confluence_mcp.sandbox.faults import quiet_dropped_connections
from confluence_mcp.sandbox.store import Store

__all__ = ["RunningSandbox", "SandboxOptions", "start_sandbox"]

STARTUP_TIMEOUT = 120.0


@dataclass(frozen=True)
class SandboxOptions:
    flavor: Literal["cloud", "server"] = "cloud"
    seed: str | Path | None = "demo"
    user: str = "sandbox@example.com"
    token: str = "sandbox-token"
    # Cloud: a scoped API token, accepted only through the API gateway (`/ex/confluence/<cloud_id>/wiki/...`).
    scoped_token: str = "sandbox-scoped-token"
    cloud_id: str = "5f3c8e1a-2b4d-4c6e-9a8b-7d1e0f2a3b4c"
    faults: float = 0.0
    context_path: str = ""
    hidden_spaces: tuple[str, ...] = ()
    read_only_spaces: tuple[str, ...] = ()
    host: str = "127.0.0.1"
    port: int = 0


class RunningSandbox:
    """A serving sandbox; `base_url` is what a Confluence client is configured with."""

    def __init__(self, options: SandboxOptions, port: int, *, app: SandboxApp | None = None,
                 server: uvicorn.Server | None = None, thread: threading.Thread | None = None,
                 process: subprocess_module.Popen[str] | None = None) -> None:
        self.options, self.port = options, port
        self.app, self._server, self._thread, self._process = app, server, thread, process
        origin = f"http://{options.host}:{port}"
        self.origin = origin
        self.base_url = origin + site_context(options.flavor, options.context_path)
        self.admin_url = origin + "/__sandbox__"
        self.auth = (options.user, options.token)

    @property
    def store(self) -> Store | None:
        """The live store (in-process sandboxes only)."""
        return self.app.store if self.app else None

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
            self._server = None
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess_module.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)
            self._process = None

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _start_in_process(options: SandboxOptions) -> RunningSandbox:
    app = build_app(options)
    quiet_dropped_connections()
    config = uvicorn.Config(app, host=options.host, port=options.port, log_level="warning",
                            access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="confluence-sandbox", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"sandbox failed to start on {options.host}:{options.port}")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return RunningSandbox(options, port, app=app, server=server, thread=thread)


def cli_arguments(options: SandboxOptions) -> list[str]:
    args = ["--host", options.host, "--port", str(options.port), "--flavor", options.flavor,
            "--user", options.user, "--token", options.token, "--faults", str(options.faults),
            "--seed", str(options.seed) if options.seed else "none"]
    if options.context_path:
        args += ["--context-path", options.context_path]
    for key in options.hidden_spaces:
        args += ["--hidden-space", key]
    for key in options.read_only_spaces:
        args += ["--read-only-space", key]
    return args


def _start_subprocess(options: SandboxOptions) -> RunningSandbox:
    command = [sys.executable, "-m", "confluence_mcp.sandbox.cli", *cli_arguments(options)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess_module.Popen(command, stdout=subprocess_module.PIPE, text=True, env=env)
    assert process.stdout is not None
    # The CLI prints the base URL once it serves; a big corpus seeds first, so allow a while.
    ready, _, _ = select.select([process.stdout], [], [], STARTUP_TIMEOUT)
    line = process.stdout.readline() if ready else ""
    if not line.startswith("http"):
        process.kill()
        process.wait(timeout=5)
        raise RuntimeError(f"sandbox subprocess failed to start: {line.strip() or 'no output in time'}")
    port = int(line.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
    return RunningSandbox(options, port, process=process)


def start_sandbox(options: SandboxOptions | None = None, *, subprocess: bool = False) -> RunningSandbox:
    """Start a sandbox and return once it serves; stop it with `.stop()` or a `with` block."""
    options = options or SandboxOptions()
    return _start_subprocess(options) if subprocess else _start_in_process(options)
