"""Fetching the pages a run indexes: bodies in batches (several in flight), mentions named, comments and
attachment text appended, then converted and chunked into `PageDocument`s ready to embed and store."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from confluence_mcp.confluence import cql as cqlb
from confluence_mcp.confluence.client import ConfluenceClient
from confluence_mcp.confluence.convert import storage_to_outline_markdown
from confluence_mcp.confluence.users import MentionedUsers, mentioned_users_by_page
from confluence_mcp.confluence.weblinks import space_key_of, storage_of
from confluence_mcp.errors import BadRequest, NotFound
from confluence_mcp.index.candidates import attachment_signature, attachment_versions, label_names, site_key
from confluence_mcp.index.chunking import Chunk, chunk_markdown, chunking_id, outline_chunk
from confluence_mcp.index.extras import MAX_ATTACHMENTS, attachment_sections, comment_sections

if TYPE_CHECKING:
    from confluence_mcp.index.store import PageRecord

__all__ = ["NAMES_PENDING", "Children", "Fetcher", "PageDocument"]

log = logging.getLogger(__name__)

_BODY_EXPAND = "body.storage,version,space,metadata.labels,ancestors"
_FETCH_BATCH = 25  # bodies per /content/search request
_FETCH_CONCURRENCY = 4
# Added to the recorded chunking id of a page indexed while a user lookup failed for now (its chunks show an id
# for that user): no run's chunking id matches it, so `changed_pages` redoes the page on the next run.
NAMES_PENDING = "+names-pending"


class _Extras(NamedTuple):
    sections: list[str]  # footer comments, attachment text
    attachments: str | None  # signatures; None: the page is indexed without them
    comments: str | None
    names_pending: bool  # a comment's user lookup failed for now


@dataclass
class PageDocument:
    """A fetched page ready to store: its record plus its chunks."""

    record: PageRecord
    chunks: list[Chunk]

    @property
    def names_pending(self) -> bool:
        """Some mentioned user shows as an id because the lookup failed for now; the next run redoes the page."""
        return (self.record.chunking or "").endswith(NAMES_PENDING)


@dataclass(frozen=True)
class Children:
    """The pages a run indexes with their attachments (or comments), and the signatures its listing found."""

    pages: set[str]
    signatures: dict[str, str] | None


class Fetcher:
    """Fetches bodies in batches (several in flight) and turns them into `PageDocument`s."""

    def __init__(self, client: ConfluenceClient, source: str, attachments: Children, comments: Children,
                 chunk_chars: int) -> None:
        self.client = client
        self.chunk_chars = chunk_chars  # the embedder's
        self.chunking = chunking_id(chunk_chars)  # recorded with each page
        self.source = source  # the run's selection, recorded with each page
        self.site = site_key(client)  # recorded with each page
        self.attachments = attachments
        self.comments = comments
        self.limiter = anyio.Semaphore(_FETCH_CONCURRENCY)
        # One batch looks up the users its page bodies mention at a time: a user two batches mention is asked for
        # once (then remembered). Footer comments' users (`_extras`) are looked up outside this lock.
        self.user_lookups = anyio.Lock()

    async def produce(self, page_ids: list[str], send: MemoryObjectSendStream[PageDocument]) -> None:
        batches = [page_ids[i:i + _FETCH_BATCH] for i in range(0, len(page_ids), _FETCH_BATCH)]
        async with send, anyio.create_task_group() as group:
            for ids in batches:
                group.start_soon(self._batch, ids, send)

    async def _batch(self, ids: list[str], send: MemoryObjectSendStream[PageDocument]) -> None:
        async with self.limiter:
            contents = await self._bodies(ids)
            async with self.user_lookups:  # mentions read `@Display Name`, as reads show them
                users = await mentioned_users_by_page(self.client, [storage_of(content) for content in contents])
            extras = [await self._extras(content) for content in contents]
        documents = await anyio.to_thread.run_sync(self._documents, contents, extras, users)
        for document in documents:
            await send.send(document)

    async def _bodies(self, ids: list[str]) -> list[dict[str, Any]]:
        """Bodies for `ids` in one CQL request; one GET per page when the site rejects `id IN (...)`."""
        wanted = set(ids)
        try:
            page = await self.client.content_search(cqlb.in_("id", ids), limit=len(ids), expand=_BODY_EXPAND)
            got = [item for item in page.results if str(item.get("id")) in wanted]
            if len(got) == len(ids) or not page.next:
                return got
        except BadRequest:
            log.info("site rejected a batched body fetch; falling back to one request per page")
        contents = []
        for page_id in ids:
            try:
                contents.append(await self.client.get_page(page_id, expand=_BODY_EXPAND))
            except NotFound:
                continue  # deleted between listing and fetching: the next run removes it
        return contents

    async def _extras(self, content: dict[str, Any]) -> _Extras:
        """Markdown sections appended to the page (footer comments, attachment text) and its attachment and
        comment signatures (None when the page is indexed without them)."""
        sections: list[str] = []
        page_id = str(content["id"])
        comments, pending = None, False
        if page_id in self.comments.pages:
            found, versions, pending = await comment_sections(self.client, page_id)
            sections += found
            comments = (self.comments.signatures or {}).get(page_id) or attachment_signature(versions)
        if page_id not in self.attachments.pages:
            return _Extras(sections, None, comments, pending)
        signature = (self.attachments.signatures or {}).get(page_id)
        # Without a listed signature, every attachment is listed to sign them.
        attachments = await self.client.all_attachments(page_id, max_items=MAX_ATTACHMENTS if signature else None)
        sections += await attachment_sections(self.client, attachments)
        return _Extras(sections, signature or attachment_signature(attachment_versions(attachments)), comments, pending)

    def _documents(self, contents: list[dict[str, Any]], extras: list[_Extras],
                   users: list[MentionedUsers]) -> list[PageDocument]:
        """Convert and chunk (CPU work, run in a worker thread)."""
        return [self._document(content, extra, mentioned)
                for content, extra, mentioned in zip(contents, extras, users, strict=True)]

    def _document(self, content: dict[str, Any], extra: _Extras, users: MentionedUsers) -> PageDocument:
        # Imported here: the store pulls in psycopg, which the tool modules must not load at server start.
        from confluence_mcp.index.store import PageRecord

        space = space_key_of(content) or ""
        storage = storage_of(content)
        markdown = storage_to_outline_markdown(storage, dict(users.names)) if storage else ""
        if extra.sections:
            markdown = "\n\n".join([markdown, *extra.sections])
        title = str(content.get("title") or "Untitled")
        version = content.get("version") or {}
        record = PageRecord(
            page_id=str(content["id"]), title=title, space=space,
            url=self.client.web_url((content.get("_links") or {}).get("webui")) or "",
            version=int(version.get("number") or 0), last_modified=_parse_time(version.get("when")),
            labels=tuple(label_names(content)), source=self.source, attachments=extra.attachments,
            comments=extra.comments, site=self.site,
            chunking=self.chunking + NAMES_PENDING if users.pending or extra.names_pending else self.chunking,
        )
        chunks = chunk_markdown(title, markdown, max_chars=self.chunk_chars)
        return PageDocument(record, [*chunks, outline_chunk(title, markdown, chunks)])



def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
