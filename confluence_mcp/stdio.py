"""The stdio transport, reading and writing the protocol pipes on the event loop.

The SDK's `stdio_server` does the protocol work (message parsing, serialisation, one reader and one writer task);
by default it reads and writes through `anyio.wrap_file`, a worker-thread hop for every line read, every write
and every flush. A tool call costs four such hops, measured at about 15 % of a page read's latency and more of
its CPU. When stdin and stdout are pipes or sockets (what every MCP client spawns us with), this module hands the
SDK non-blocking readers and writers that wait on the event loop instead; anywhere else (a terminal, a file,
Windows) the SDK's own streams are used.

Like the SDK, the wire is claimed while serving: fds 0 and 1 point at the null device and stderr, so a stray
print or a child process cannot corrupt the protocol stream; both are restored on exit.
"""

from __future__ import annotations

import logging
import os
import signal
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, cast

import anyio

if TYPE_CHECKING:
    from mcp.server import MCPServer

__all__ = ["PipeLines", "PipeWriter", "claimed_wire", "serve_stdio"]

log = logging.getLogger(__name__)
_READ_SIZE = 1 << 16


class PipeLines:
    """The text lines of a non-blocking pipe (UTF-8, undecodable bytes replaced), as an async iterator."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buffer = bytearray()
        self._scanned = 0  # bytes of the buffer known to hold no newline (a long line arrives in many reads)

    def __aiter__(self) -> PipeLines:
        return self

    async def __anext__(self) -> str:
        while True:
            end = self._buffer.find(b"\n", self._scanned)
            if end >= 0:
                return self._take(end + 1)
            self._scanned = len(self._buffer)
            try:
                chunk = os.read(self.fd, _READ_SIZE)
            except BlockingIOError:
                await anyio.wait_readable(self.fd)
                continue
            if not chunk:  # end of input: a last line without a newline still counts
                if self._buffer:
                    return self._take(len(self._buffer))
                raise StopAsyncIteration
            self._buffer += chunk

    def _take(self, size: int) -> str:
        line = bytes(self._buffer[:size])
        del self._buffer[:size]
        self._scanned = 0
        return line.decode("utf-8", errors="replace")


class PipeWriter:
    """Writes text to a non-blocking pipe, waiting on the event loop while the pipe is full (nothing buffered)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    async def write(self, text: str) -> None:
        data = memoryview(text.encode("utf-8"))
        while data:
            try:
                written = os.write(self.fd, data)
            except BlockingIOError:
                await anyio.wait_writable(self.fd)
                continue
            data = data[written:]

    async def flush(self) -> None:
        return None  # every write went straight to the pipe


def _is_pipe(fd: int) -> bool:
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def pipes_usable() -> bool:
    """Whether stdin and stdout are pipes or sockets this module can serve (POSIX only)."""
    return sys.platform != "win32" and _is_pipe(0) and _is_pipe(1)


@contextmanager
def claimed_wire() -> Iterator[tuple[int, int]]:
    """Private non-blocking duplicates of fds 0 and 1 (the wire), with fd 0 on the null device and fd 1 on stderr
    until exit."""
    import fcntl

    sys.stdout.flush()
    wire_in = fcntl.fcntl(0, fcntl.F_DUPFD_CLOEXEC, 3)
    wire_out = fcntl.fcntl(1, fcntl.F_DUPFD_CLOEXEC, 3)
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        os.dup2(null, 0)
        os.dup2(2, 1)
    finally:
        os.close(null)
    os.set_blocking(wire_in, False)
    os.set_blocking(wire_out, False)
    try:
        yield wire_in, wire_out
    finally:
        with suppress(OSError):
            sys.stdout.flush()
        for wire, fd in ((wire_in, 0), (wire_out, 1)):
            with suppress(OSError):
                os.set_blocking(wire, True)  # the pipe's other users expect the blocking mode they gave us
            with suppress(OSError):
                os.dup2(wire, fd)
            os.close(wire)


async def serve_stdio(server: MCPServer[Any]) -> None:
    """Serve `server` over stdin/stdout until the client closes stdin or stdout, or SIGTERM/SIGINT arrive (POSIX)."""
    try:
        async with anyio.create_task_group() as group:
            if sys.platform != "win32":
                group.start_soon(_stop_on_signal, group.cancel_scope)
            await _serve(server)
            group.cancel_scope.cancel()
    except* (BrokenPipeError, ConnectionResetError):
        # A client that quits closes both pipes; an answer still being written then finds nobody reading. The
        # session is over either way (the lifespan's cleanup has run): end it like end of input, not with a crash.
        log.info("the client closed stdout: session ended")


async def _stop_on_signal(scope: anyio.CancelScope) -> None:
    """Cancel the session on the first SIGTERM or SIGINT: the lifespan's cleanup then runs as after end of input
    (without this, SIGTERM killed the process and left the embedded Postgres running). A second signal, once the
    handlers are gone, ends the process the default way."""
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for signum in signals:
            log.info("%s received: shutting down", signal.Signals(signum).name)
            scope.cancel()
            return


async def _serve(server: MCPServer[Any]) -> None:
    if not pipes_usable():
        await server.run_stdio_async()
        return
    from mcp.server.stdio import stdio_server

    with claimed_wire() as (wire_in, wire_out):
        # Duck-typed stand-ins for the anyio.AsyncFile the SDK accepts: it only iterates lines, writes and flushes.
        reader, writer = cast(Any, PipeLines(wire_in)), cast(Any, PipeWriter(wire_out))
        async with stdio_server(reader, writer) as (read_stream, write_stream):
            lowlevel = server._lowlevel_server  # what MCPServer.run_stdio_async runs, given our streams
            await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())
