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
