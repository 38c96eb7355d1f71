"""Huge arguments from a steered model: checked in linear time, refused before anything is written."""

from __future__ import annotations

import anyio
import pytest
from manage_helpers import Rest, call, refused, unique
from mcp import Client

pytestmark = pytest.mark.anyio


async def test_a_hundred_thousand_labels_are_checked_without_stalling_the_server(tools: Client, rest: Rest) -> None:
    """Label checks ran on the event loop in quadratic time (a list membership test per label): 100,000 labels
    froze every session of the server for well over a minute before the bad last one was even looked at."""
    page = await call(tools, "create_page", title=unique("Labels"), body="x")
    labels = [f"label-{i}" for i in range(100_000)] + ["not a label"]
    with anyio.fail_after(10):
        message = await refused(tools, "update_labels", page_ids=[page["id"]], new_labels=labels)
        assert "'not a label' is not allowed" in message
        message = await refused(tools, "create_page", title=unique("Labels"), body="x", labels=labels)
        assert "'not a label' is not allowed" in message
    assert "label-0" not in rest.labels(page["id"])


async def test_converting_a_large_body_does_not_stall_other_calls(tools: Client) -> None:
    """A body of a few hundred KB takes seconds to convert; that work ran on the event loop, so every other call of
    every session (SSE and HTTP serve many) waited for it. Reads made meanwhile now finish first."""
    table = "|" + "a|" * 1000 + "\n|" + "-|" * 1000 + "\n" + ("|" + "b|" * 1000 + "\n") * 40
    finished: dict[str, float] = {}

    async def write() -> None:
        await call(tools, "create_page", title=unique("Wide table"), body=table)
        finished["write"] = anyio.current_time()

    async def read() -> None:
        await anyio.sleep(0.3)  # the write is converting by now
        for _ in range(3):
            await call(tools, "read_page_by_id", page_id="65539")
        finished["read"] = anyio.current_time()

    with anyio.fail_after(120):
        async with anyio.create_task_group() as group:
            group.start_soon(write)
            group.start_soon(read)
    assert finished["read"] < finished["write"], finished


async def test_a_batch_is_bounded_and_a_repeated_item_is_done_once(tools: Client, rest: Rest) -> None:
    page = await call(tools, "create_page", title=unique("Batch"), body="x")
    message = await refused(tools, "update_labels", page_ids=[page["id"]] * 201, new_labels=["batch"])
    assert "201 items in one call; at most 200" in message and "Nothing was written" in message
    assert "batch" not in rest.labels(page["id"])
    done = await call(tools, "update_labels", page_ids=[page["id"], page["id"]], new_labels=["batch"])
    assert done["succeeded"] == 1 and done["failed"] == 1
    assert "Listed already as item 1" in done["results"][1]["error"]
    assert "batch" in rest.labels(page["id"])
