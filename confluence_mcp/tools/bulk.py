"""Bulk writes: one action per item with bounded concurrency, every item answered in input order."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import anyio
from pydantic import BaseModel, Field

from confluence_mcp.errors import BadRequest, ConfluenceMCPError
from confluence_mcp.tools.write_support import PageWrite

__all__ = ["BULK_CONCURRENCY", "MAX_BULK_ITEMS", "BulkItem", "BulkResult", "run_bulk"]

log = logging.getLogger(__name__)

BULK_CONCURRENCY = 4
MAX_BULK_ITEMS = 200  # one call's batch: enough for any assistant's edit, bounded for a prompt-injected one
_T = TypeVar("_T")


class BulkItem(BaseModel):
    """One item of a bulk write: which input it was and how it went."""

    ref: str = Field(description="The item's title or page id as given")
    ok: bool
    id: str | None = None
    title: str | None = None
    version: int | None = None
    url: str | None = None
    labels: list[str] | None = None
    note: str | None = Field(None, description="What happened when it was not a plain write (e.g. no change)")
    error: str | None = None


class BulkResult(BaseModel):
    succeeded: int
    failed: int
    results: list[BulkItem]


async def run_bulk(items: Sequence[_T], ref: Callable[[_T], str],
                   action: Callable[[_T], Awaitable[PageWrite]], *, limit: int = BULK_CONCURRENCY) -> BulkResult:
    """Run `action` per item with bounded concurrency; every item gets a result, in input order. An item listed
    again (the same reference) is done once: its repeats say so instead of writing twice."""
    if len(items) > MAX_BULK_ITEMS:
        raise BadRequest(f"{len(items)} items in one call; at most {MAX_BULK_ITEMS} are taken. Nothing was written: "
                         "split the batch into several calls.")
    results: list[BulkItem | None] = [None] * len(items)
    gate = anyio.Semaphore(limit)
    first_of: dict[str, int] = {}

    async def one(index: int, item: _T) -> None:
        key = ref(item)
        if first_of.setdefault(key, index) != index:
            results[index] = BulkItem(ref=key, ok=False, error=f"Listed already as item {first_of[key] + 1} of "
                                      "this call, which did it; not done twice.")
            return
        async with gate:
            try:
                done = await action(item)
                results[index] = BulkItem(ref=ref(item), ok=True, id=done.id, title=done.title,
                                          version=done.version, url=done.url, labels=done.labels,
                                          note=done.note)
            except ConfluenceMCPError as exc:
                results[index] = BulkItem(ref=ref(item), ok=False, error=str(exc))
            except (ValueError, KeyError) as exc:  # converter refusals (bad section name, unparsable body)
                results[index] = BulkItem(ref=ref(item), ok=False, error=f"{type(exc).__name__}: {exc}")
            except Exception as exc:  # the other items' results (some already written) must still be reported
                log.exception("bulk item %s failed", key)
                results[index] = BulkItem(ref=key, ok=False, error=f"Failed unexpectedly ({type(exc).__name__}); "
                                          "the server log has the details. Check this page before retrying it.")

    async with anyio.create_task_group() as group:
        for index, item in enumerate(items):
            group.start_soon(one, index, item)
    done = [r for r in results if r is not None]
    ok = sum(1 for r in done if r.ok)
    return BulkResult(succeeded=ok, failed=len(done) - ok, results=done)
