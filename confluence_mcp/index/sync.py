"""Incremental indexing: list candidates cheaply, fetch and embed only what changed, remove what went away.

A run is defined by its selection (space / CQL / labels / page ids, always inside the toolkit's allowed spaces).
Versions and labels come from one CQL listing without bodies (attachment versions from another, see
`candidates.py`); only new or changed pages (or pages cut into chunks another way: another release's chunker,
another embedder's chunk size, or a mentioned user's lookup that failed for now, see `fetch.NAMES_PENDING`) are
fetched (batched, bounded concurrency), converted to Markdown, chunked, embedded and written one page per
transaction, so a run killed half-way loses nothing and a rerun finishes exactly. Removal is limited to pages
this selection indexed before and to pages gone from a space the run lists whole.

Each page records the site it was fetched from. A run from another site (a restarted sandbox on a new port, a
changed base_url) re-fetches the pages it lists that were recorded from elsewhere, and removes unlisted ones under
the usual rules, rather than refusing: each entry stays whole (text, URL and site from one fetch), so a mixed
collection never shows a URL of one site for another site's text, and the common case (the same site at a new
address) heals without `clean`. The cost falls on two distinct sites sharing a collection name: a page id both
use holds the last run's page, and such pages are fetched again on every run (`IndexReport.other_site` counts
them). A selection by space that lists nothing fails when the space does not exist.

A page indexed with its attachments (comments) keeps them: a run without `include_attachments`
(`include_comments`) re-indexes such a page with them when it changes (removing that text takes `clean`); a
new, edited or deleted attachment or comment is a change, though the page's version stays.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream
from pydantic import BaseModel

from confluence_mcp.confluence import cql as cqlb
from confluence_mcp.confluence.client import ConfluenceClient
from confluence_mcp.errors import BadRequest, NotFound, PolicyError
from confluence_mcp.index.candidates import (
    INDEXED_TYPES,
    attachment_signatures,
    changed_pages,
    comment_signatures,
    list_candidates,
    site_key,
)
from confluence_mcp.index.chunking import chunking_id
from confluence_mcp.index.fetch import Children, Fetcher, PageDocument
from confluence_mcp.index.service import IndexService

if TYPE_CHECKING:
    import numpy as np

__all__ = ["IndexReport", "ProgressCallback", "Selection", "index_pages", "report_note"]

ProgressCallback = Callable[[int, int, str], Awaitable[None]]
_PAGES_PER_EMBED = 32  # pages whose chunks are embedded together (one embed call, then one commit per page)
# Writing is the slowest stage (the database's share of a full handbook index is about 3 s of CPU): two writers,
# each sending up to 16 pages per round trip, keep it busy while this process embeds; 15-25 % faster than one
# writer sending page by page. A cancelled run may commit a few pages it never reported; the next run sees them
# as unchanged.
_WRITE_CONCURRENCY = 2
_PAGES_PER_WRITE = 16  # pages per round trip, each its own transaction


class IndexReport(BaseModel):
    """What an `index_data` run did."""

    collection: str
    selection: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks: int = 0
    seconds: float = 0.0
    # Pages indexed with a mentioned user as an id because the user lookup failed for now (connection, 429,
    # 5xx); the next run redoes them, changed or not.
    names_pending: int = 0
    # Listed pages found indexed from another site (or address of it), so re-fetched from this one.
    other_site: int = 0



@dataclass(frozen=True)
class Selection:
    """Which pages a run covers. Empty fields are not constraints; `allowed_spaces` is always applied."""

    space: str | None = None
    cql: str | None = None
    labels: Sequence[str] = ()
    page_ids: Sequence[str] = ()
    allowed_spaces: Sequence[str] = ()

    def query(self) -> str:
        try:
            user_cql = cqlb.user_query(self.cql) if self.cql else None
        except ValueError as exc:
            raise BadRequest(f"The cql is not one self-contained query ({exc}): balance its parentheses and "
                             "quotes (escape a quote inside a value as \\\").") from None
        parts = [
            cqlb.clause("space", "=", self.space) if self.space else None,
            cqlb.in_("label", self.labels) if self.labels else None,
            cqlb.in_("id", self.page_ids) if self.page_ids else None,
            user_cql,
        ]
        if not any(parts) and not self.allowed_spaces:
            raise PolicyError("Nothing selected to index: pass `space`, `cql`, `labels` or `page_ids`.")
        return cqlb.scoped(cqlb.and_(*parts) or None, list(self.allowed_spaces), content_type=INDEXED_TYPES)

    def source(self) -> str:
        """A stable key for this selection (the toolkit's policy and the order of labels or ids left out): a page
        that stops matching is removed by a run with the same key."""
        parts = [f"space = {self.space.upper() if not self.space.startswith('~') else self.space}"
                 if self.space else "",
                 f"labels = {', '.join(sorted(set(self.labels)))}" if self.labels else "",
                 f"ids = {', '.join(sorted(set(self.page_ids)))}" if self.page_ids else "",
                 f"cql = {_without_order_by(self.cql)}" if self.cql else ""]
        return "; ".join(part for part in parts if part) or f"spaces = {', '.join(sorted(self.allowed_spaces))}"

    def covered_spaces(self) -> set[str] | None:
        """The spaces whose every page this selection lists (a space, or by default the allowed spaces), so any
        indexed page of those spaces it did not list is gone, whichever run indexed it; None for narrower
        selections."""
        if self.cql or self.labels or self.page_ids:
            return None
        return {(self.space or "").casefold()} if self.space else {space.casefold() for space in self.allowed_spaces}


@dataclass
class _RunState:
    report: IndexReport
    total: int
    done: int = 0
    written: set[str] = field(default_factory=set)  # pages stored by this run


def _without_order_by(cql: str) -> str:
    try:
        return cqlb.user_query(cql)
    except ValueError:
        return cql.strip()  # query() refuses it before any run


async def _noop_progress(done: int, total: int, message: str) -> None:
    return None


async def index_pages(
    service: IndexService,
    client: ConfluenceClient,
    collection: str,
    selection: Selection,
    *,
    include_comments: bool = False,
    include_attachments: bool = False,
    clean: bool = False,
    progress: ProgressCallback | None = None,
) -> IndexReport:
    """Bring `collection` up to date with the pages `selection` matches; see the module docstring."""
    started = time.perf_counter()
    notify = progress or _noop_progress
    report = IndexReport(collection=collection, selection=selection.query())
    async with service.store.run_lock(collection):
        total = await _run(service, client, collection, selection, report, notify, include_comments=include_comments,
                           include_attachments=include_attachments, clean=clean)
    report.seconds = round(time.perf_counter() - started, 3)
    await notify(total, total, "done")  # every run ends at 100 %, one with nothing to do too
    return report


async def report_note(service: IndexService, report: IndexReport, selection: Selection) -> str | None:
    """What the user of a finished run should know (index_data's `note`, the CLI's stderr): a selection that
    matched nothing or requested page ids it did not find, pages re-fetched from another site, user names
    pending."""
    notes = []
    if report.added + report.updated + report.unchanged == 0:
        notes.append(f"No pages matched {report.selection}; check the space key, labels or CQL (the selection is "
                     "limited to this toolkit's allowed spaces).")
    elif selection.page_ids:
        indexed = await service.store.page_states(report.collection)
        missing = sorted({page_id for page_id in selection.page_ids if page_id not in indexed})
        if missing:
            notes.append(f"Page ids {', '.join(missing)} matched no page or blog post in the allowed spaces, so "
                         "they were not indexed; check the ids (the number in a page's URL).")
    if report.other_site:
        notes.append(f"{report.other_site} pages had been indexed from another site address (a restarted sandbox, "
                     "a changed base_url) and were re-indexed from this one, so their URLs are current.")
    if report.names_pending:
        pages = "1 page shows" if report.names_pending == 1 else f"{report.names_pending} pages show"
        notes.append(f"Looking up mentioned users failed for now: {pages} a user's id instead of the name until "
                     "the next run, which re-indexes such pages.")
    return " ".join(notes) or None


async def _run(service: IndexService, client: ConfluenceClient, collection: str, selection: Selection,
               report: IndexReport, notify: ProgressCallback, *, include_comments: bool, include_attachments: bool,
               clean: bool) -> int:
    """The run itself; returns the total its progress counted up to."""
    query, source = selection.query(), selection.source()
    if not clean and await service.store.collection_ref(collection) is not None:
        await service.ensure_collection(collection)  # an embedder mismatch fails before the listing
    await notify(0, 1, "listing pages")
    candidates = await list_candidates(client, query)
    allowed = {space.casefold() for space in selection.allowed_spaces}
    if allowed:  # the query is scoped already; a site reading CQL another way must not widen it either
        candidates = {page_id: page for page_id, page in candidates.items()
                      if not page.space or page.space.casefold() in allowed}
    if not candidates and selection.space:
        await _require_space(client, selection.space)
    # Only a listing that worked may clear or create the collection: a failing selection leaves it as it was.
    if clean:
        dropped = await service.store.page_states(collection)
        await service.drop_collection(collection)
        report.removed = sum(1 for page_id in dropped if page_id not in candidates)
    await service.ensure_collection(collection)
    signatures: dict[str, str] | None = None
    if include_attachments and candidates:
        await notify(0, 1, "listing attachments")
        signatures = await attachment_signatures(client, candidates, selection.allowed_spaces)
    comments: dict[str, str] | None = None
    if include_comments and candidates:
        await notify(0, 1, "listing comments")
        comments = await comment_signatures(client, candidates, selection.allowed_spaces)
    site = site_key(client)
    await service.store.adopt_site(collection, site)
    stored = await service.store.page_states(collection)
    chunk_chars = (await service.embedder()).chunk_chars
    changed = changed_pages(candidates, stored, signatures, chunking_id(chunk_chars), comments, site)
    report.unchanged = len(candidates) - len(changed)
    report.other_site = sum(1 for page_id in candidates if page_id in stored and stored[page_id].site != site)
    covered = selection.covered_spaces()
    # Gone: pages this selection indexed that it no longer matches, and every unlisted page of the spaces it
    # lists whole (deleted or moved away, whichever run indexed it). `legacy` is the key older releases stored.
    # Never a page of a space outside this toolkit's policy: another toolkit sharing the collection indexed it.
    legacy = query
    gone = sorted(page_id for page_id, page in stored.items() if page_id not in candidates
                  and (not allowed or page.space.casefold() in allowed) and (
                      page.source in (source, legacy) or (covered is not None and page.space.casefold() in covered)))
    # Pages whose entry holds attachment (comment) text keep it, whether or not this run includes them.
    with_attachments = Children({page_id for page_id in changed if include_attachments
                                  or (page_id in stored and stored[page_id].attachments is not None)}, signatures)
    with_comments = Children({page_id for page_id in changed if include_comments
                               or (page_id in stored and stored[page_id].comments is not None)}, comments)

    state = _RunState(report, total=len(changed) + (1 if gone else 0))
    await notify(0, max(state.total, 1), f"{len(candidates)} pages match, {len(changed)} to index")
    await _pipeline(service, collection, changed, set(stored), state, notify,
                    Fetcher(client, source, with_attachments, with_comments, chunk_chars))
    # Listed but not fetched: deleted (or hidden) since the listing. An entry of such a page is stale.
    vanished = [page_id for page_id in changed if page_id not in state.written]
    if vanished:
        state.done += len(vanished)
        gone = sorted(set(gone) | {page_id for page_id in vanished if page_id in stored})
        state.total = len(changed) + (1 if gone else 0)
        await notify(state.done, state.total, f"{len(vanished)} pages gone since the listing")

    if gone:
        report.removed += await service.store.delete_pages(collection, gone)
        state.done += 1
        await notify(state.done, state.total, f"removed {len(gone)} pages")
    await service.store.touch_collection(collection, changed=bool(report.added or report.updated or report.removed))
    return max(state.total, 1)


async def _require_space(client: ConfluenceClient, key: str) -> None:
    """NotFound when the space of a selection that listed no pages is not there: a mistyped key would otherwise
    leave an empty collection and a run that looks fine. An existing space without (matching) pages passes."""
    try:
        await client.get_space(key)
    except NotFound as exc:
        raise NotFound(f"space {key} does not exist or this account cannot see it; space keys are short codes "
                       "like DOCS (the part after /spaces/ or /display/ in a page's URL). Nothing was indexed.",
                       detail=exc.detail) from exc


_Embedded = tuple[PageDocument, "np.ndarray"]


async def _pipeline(service: IndexService, collection: str, page_ids: list[str], existing: set[str], state: _RunState,
                    notify: ProgressCallback, fetcher: Fetcher) -> None:
    """fetch + convert → embed (batches of pages) → write (one transaction per page), the stages overlapping."""
    ref = await service.store.require_collection(collection)  # resolved once, not once per page
    documents_out, documents_in = anyio.create_memory_object_stream[PageDocument](_PAGES_PER_EMBED * 2)
    # Pages leave the embed stage one by one, so writers never wait for the slowest page of a batch.
    embedded_out, embedded_in = anyio.create_memory_object_stream[_Embedded](_PAGES_PER_EMBED)

    async def embed_stage() -> None:
        async with documents_in, embedded_out:
            batch: list[PageDocument] = []
            async for document in documents_in:
                batch.append(document)
                if len(batch) >= _PAGES_PER_EMBED:
                    await send_pages(batch)
                    batch = []
            if batch:
                await send_pages(batch)

    async def send_pages(batch: list[PageDocument]) -> None:
        vectors = await _embed(service, batch)
        offset = 0
        for document in batch:
            count = len(document.chunks)
            await embedded_out.send((document, vectors[offset:offset + count]))
            offset += count

    async def writer(receive: MemoryObjectReceiveStream[_Embedded]) -> None:
        async with receive:
            async for first in receive:
                group = [first]
                # Whatever else is ready goes in the same round trip (still one transaction per page): the
                # database then works through a group while this process embeds the next pages.
                while len(group) < _PAGES_PER_WRITE:
                    try:
                        group.append(receive.receive_nowait())
                    except (anyio.WouldBlock, anyio.EndOfStream):
                        break
                await service.store.replace_pages(ref, [(d.record, d.chunks, vectors) for d, vectors in group])
                for document, _ in group:
                    state.report.chunks += len(document.chunks)
                    state.report.names_pending += int(document.names_pending)
                    if document.record.page_id in existing:
                        state.report.updated += 1
                    else:
                        state.report.added += 1
                    state.done += 1
                    state.written.add(document.record.page_id)
                    await notify(state.done, state.total, document.record.title)

    async with anyio.create_task_group() as group:
        group.start_soon(fetcher.produce, page_ids, documents_out)
        group.start_soon(embed_stage)
        async with embedded_in:  # each writer holds a clone of its own
            for _ in range(_WRITE_CONCURRENCY):
                group.start_soon(writer, embedded_in.clone())


async def _embed(service: IndexService, batch: list[PageDocument]) -> np.ndarray:
    return await service.embed([chunk.embed_text or chunk.text for document in batch for chunk in document.chunks])
