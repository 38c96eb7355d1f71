"""The stdio transport's pipe streams: lines read and text written on the event loop, and the claimed wire.

Every subprocess test (test_transports, test_cli, the conformance suite and MCP Inspector) already serves through
these streams, since their clients spawn the server with pipes; these tests pin the edge cases.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import anyio
import pytest

from confluence_mcp.stdio import PipeLines, PipeWriter, pipes_usable

pytestmark = [pytest.mark.anyio, pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes")]


def nonblocking_pipe() -> tuple[int, int]:
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    os.set_blocking(write_fd, False)
    return read_fd, write_fd


async def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            await anyio.wait_writable(fd)


async def test_lines_split_across_reads_partial_and_at_end_of_input() -> None:
    read_fd, write_fd = nonblocking_pipe()
    lines: list[str] = []

    async def read_all() -> None:
        async for line in PipeLines(read_fd):
            lines.append(line)

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(read_all)
            for piece in (b'{"a":', b' 1}\n{"b": "\xc3', b'\xa9"}\n\n', b"x" * 200_000, b"\n", b"\xff last"):
                await write_all(write_fd, piece)
                await anyio.sleep(0.01)  # the reader sees each piece on its own
            os.close(write_fd)
    finally:
        os.close(read_fd)
    assert lines[:3] == ['{"a": 1}\n', '{"b": "é"}\n', "\n"]
    assert lines[3] == "x" * 200_000 + "\n"
    assert lines[4] == "\ufffd last"  # undecodable bytes replaced; the last line needs no newline
    assert len(lines) == 5


async def test_writes_larger_than_the_pipe_wait_for_the_reader() -> None:
    read_fd, write_fd = nonblocking_pipe()
    payload = "é" * 300_000 + "\n"  # 600 kB: many times a pipe's buffer
    received = bytearray()

    async def drain() -> None:
        while len(received) < len(payload.encode()):
            await anyio.wait_readable(read_fd)
            received.extend(os.read(read_fd, 1 << 16))

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(drain)
            writer = PipeWriter(write_fd)
            await writer.write(payload)
            await writer.flush()
    finally:
        os.close(read_fd)
        os.close(write_fd)
    assert received.decode() == payload


def test_the_wire_is_claimed_while_serving() -> None:
    """A print while serving goes to stderr, never into the protocol stream; stdout is back afterwards."""
    script = textwrap.dedent("""
        import anyio, sys
        from confluence_mcp.stdio import PipeWriter, claimed_wire, pipes_usable
        assert pipes_usable()
        async def main():
            with claimed_wire() as (wire_in, wire_out):
                print("stray print", flush=True)
                await PipeWriter(wire_out).write("wire\\n")
                assert sys.stdin.read() == ""  # fd 0 is the null device meanwhile
        anyio.run(main)
        print("after", flush=True)
    """)
    done = subprocess.run([sys.executable, "-c", script], input="not for the tool\n", capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "wire\nafter\n"
    assert "stray print" in done.stderr


def test_a_terminal_or_file_falls_back_to_the_sdk_streams() -> None:
    script = "from confluence_mcp.stdio import pipes_usable; print(pipes_usable())"
    with open(os.devnull) as null:
        done = subprocess.run([sys.executable, "-c", script], stdin=null, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False"
    assert isinstance(pipes_usable(), bool)
