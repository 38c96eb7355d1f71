"""The index store: collections, pages and chunks in Postgres + pgvector. All index SQL lives here.

Layout (see `migrations.py`): `index_collections` (name, embedder, dimension), `index_pages` (one row per
indexed page with its version and the selection that brought it), and one `index_chunks_<id>` table per
collection with a typed `vector(dim)` column (HNSW, cosine); full text lives in the pages' weighted
`tsvector` (title A > headings B > body C) and the postings derived from it. Collection names and page ids are
always bound parameters; table names come from integer ids. The SQL of a page's write is in `page_writes.py`,
search's in `search.py`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import anyio
import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus

from confluence_mcp.config import IndexSettings
from confluence_mcp.errors import EmbedderMismatch, IndexStoreError
from confluence_mcp.index.chunking import Chunk
from confluence_mcp.index.migrations import chunk_table, chunk_table_ddl, hnsw_index_ddl, hnsw_index_name, migrate
from confluence_mcp.index.page_writes import CLEAR_PAGE, DELETE_POSTINGS, TSV_SQL, WRITE_PAGE, page_params

if TYPE_CHECKING:
    import numpy as np
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

    from confluence_mcp.index.search import SearchFilters, SearchHit

__all__ = ["HNSW_MIN_CHUNKS", "TSV_SQL", "CollectionInfo", "CollectionRef", "IndexStore", "PageRecord", "PageState"]

_SELECT_REF = "SELECT id, name, embedder, dimension, stats_docs, stats_avg_length FROM index_collections"
# The advisory lock key of a collection's writers: a 64-bit hash of its name (the collection may not exist yet).
_LOCK_KEY = "hashtextextended('confluence-mcp index ' || %s, 0)"
_TRY_LOCK = f"SELECT pg_try_advisory_lock({_LOCK_KEY})"
_UNLOCK = f"SELECT pg_advisory_unlock({_LOCK_KEY})"
_STATS_LOCK_KEY = "hashtextextended('confluence-mcp stats ' || %s, 0)"  # a collection's statistics refresh

# Below this many chunks an exact vector scan takes a few milliseconds and never misses, so the HNSW graph
# (costly to maintain row by row) is only built for larger collections; see `IndexStore.ensure_vector_index`.
HNSW_MIN_CHUNKS = 20_000


@dataclass(frozen=True)
class PageRecord:
    page_id: str
    title: str
    space: str
    url: str
    version: int
    last_modified: datetime | None
    labels: tuple[str, ...]
    source: str  # the selection that brought the page in, e.g. "space:DOCS" or "cql:<query>"
    attachments: str | None = None  # signature of the attachments whose text the entry holds; None: no such text
    chunking: str | None = None  # `chunking.chunking_id` of the page's chunks
    comments: str | None = None  # signature of the comments whose text the entry holds; None: no such text
    site: str = ""  # `candidates.site_key` of the site the page was fetched from


@dataclass(frozen=True)
class PageState:
    """What a change check compares for an indexed page."""

    version: int
    space: str
    labels: tuple[str, ...]
    attachments: str | None
    source: str
    chunking: str | None = None
    comments: str | None = None
    site: str = ""


@dataclass(frozen=True)
class CollectionInfo:
    name: str
    embedder: str
    dimension: int
    pages: int
    chunks: int
    sources: list[str]
    last_indexed: datetime | None


@dataclass(frozen=True)
class CollectionRef:
    """A collection's identity as the SQL layer needs it."""

    id: int
    name: str
    embedder: str
    dimension: int
    stats_docs: int | None = None  # page count when the BM25 statistics were last computed
    stats_avg_length: float | None = None  # average page length (words) then

    @property
    def table(self) -> sql.Identifier:
        return chunk_table(self.id)


class IndexStore:
    """Async access to the index database. Open with `await IndexStore.open(settings)`; close when done."""

    def __init__(self, pool: AsyncConnectionPool, *, owns_pool: bool = True) -> None:
        self.pool = pool
        self._owns_pool = owns_pool

    @classmethod
    async def open(cls, settings: IndexSettings) -> IndexStore:
        """Connect (starting the embedded Postgres if needed) and apply pending migrations."""
        from confluence_mcp.index.pg import open_pool

        pool = await open_pool(settings)
        store = cls(pool)
        try:
            async with pool.connection() as conn:
                await migrate(conn)
        except Exception:
            await pool.close()
            raise
        return store

    async def close(self) -> None:
        if self._owns_pool:
            await self.pool.close()

    async def __aenter__(self) -> IndexStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncConnection[Any]]:
        """A pooled connection in autocommit mode, for reads and pipelines: a plain connection wraps each use in
        BEGIN/COMMIT, two extra round trips that doubled the cost of a small query."""
        async with self.pool.connection() as conn:
            await conn.set_autocommit(True)
            try:
                yield conn
            finally:
                if not conn.closed:  # a cancelled pipeline closes its connection; the pool discards it
                    await conn.set_autocommit(False)

    @asynccontextmanager
    async def run_lock(self, collection: str) -> AsyncIterator[None]:
        """Hold the collection's writer lock (indexing runs, removal), across processes: a Postgres session
        advisory lock on a connection of its own, released on exit or when the session ends. A second writer is
        refused rather than queued: both runs would index the same pages."""
        async with self.autocommit() as conn:
            with anyio.CancelScope(shield=True):  # a lock the server granted must be known here, to be released
                row = await (await conn.execute(_TRY_LOCK, (collection,))).fetchone()
            if not (row and row[0]):
                raise IndexStoreError(
                    f"collection {collection!r} is being updated by another index_data or remove_index run right "
                    "now; wait until it finishes, then run again (an index_data rerun only does what is left)"
                )
            try:
                yield
            finally:
                # Shielded: a cancelled run must still release the lock, or the pooled connection would keep it.
                with anyio.CancelScope(shield=True):
                    try:
                        await conn.execute(_UNLOCK, (collection,))
                    except psycopg.Error:
                        await conn.close()  # ending the session releases its locks; the pool drops the connection

    # -- collections ---------------------------------------------------------------------------------------

    async def collection_ref(self, name: str) -> CollectionRef | None:
        async with self.autocommit() as conn:
            row = await (await conn.execute(
                _SELECT_REF + " WHERE name = %s", (name,)
            )).fetchone()
        return CollectionRef(*row) if row else None

    async def require_collection(self, name: str) -> CollectionRef:
        ref = await self.collection_ref(name)
        if ref is None:
            raise IndexStoreError(f"collection '{name}' does not exist; create it with index_data first")
        return ref

    async def collection_refs(self) -> list[CollectionRef]:
        async with self.autocommit() as conn:
            rows = await (await conn.execute(
                _SELECT_REF + " ORDER BY name"
            )).fetchall()
        return [CollectionRef(*row) for row in rows]

    async def ensure_collection(self, name: str, embedder_id: str, dimension: int) -> CollectionRef:
        """Create the collection or check that it was built with this embedder (else EmbedderMismatch)."""
        if not name or len(name) > 200:
            raise IndexStoreError("a collection name must be 1 to 200 characters")
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO index_collections (name, embedder, dimension) VALUES (%s, %s, %s) "
                "ON CONFLICT (name) DO NOTHING",
                (name, embedder_id, dimension),
            )
            row = await (await conn.execute(
                _SELECT_REF + " WHERE name = %s FOR UPDATE",
                (name,),
            )).fetchone()
            assert row is not None
            ref = CollectionRef(*row)
            if ref.embedder != embedder_id or ref.dimension != dimension:
                raise EmbedderMismatch(
                    f"collection '{name}' was built with embedder {ref.embedder} ({ref.dimension} dimensions), "
                    f"but the configured embedder is {embedder_id} ({dimension} dimensions); re-index it with "
                    "clean=true, use another collection name, or switch [index] embedder back"
                )
            for statement in chunk_table_ddl(ref.id, ref.dimension):
                await conn.execute(statement)
        return ref

    async def list_collections(self) -> list[CollectionInfo]:
        return [info for ref in await self.collection_refs() if (info := await self._info(ref)) is not None]

    async def get_collection(self, name: str) -> CollectionInfo | None:
        ref = await self.collection_ref(name)
        return await self._info(ref) if ref else None

    async def _info(self, ref: CollectionRef) -> CollectionInfo | None:
        async with self.pool.connection() as conn:
            row = await (await conn.execute(
                "SELECT c.last_indexed, count(p.page_id), coalesce(array_agg(DISTINCT p.source) "
                "FILTER (WHERE p.source <> ''), '{}') FROM index_collections c "
                "LEFT JOIN index_pages p ON p.collection_id = c.id WHERE c.id = %s GROUP BY c.id",
                (ref.id,),
            )).fetchone()
            if row is None:
                return None
            chunks = await (await conn.execute(sql.SQL("SELECT count(*) FROM {}").format(ref.table))).fetchone()
        return CollectionInfo(ref.name, ref.embedder, ref.dimension, int(row[1]), int(chunks[0]) if chunks else 0,
                              sorted(row[2]), row[0])

    async def drop_collection(self, name: str) -> bool:
        """Remove a collection with all its pages and chunks; False when it did not exist."""
        async with self.pool.connection() as conn, conn.transaction():
            row = await (await conn.execute(
                "DELETE FROM index_collections WHERE name = %s RETURNING id", (name,)
            )).fetchone()
            if row is None:
                return False
            await conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(chunk_table(row[0])))
            await conn.execute("DELETE FROM index_postings WHERE collection_id = %s", (row[0],))
            await conn.execute("DELETE FROM index_lexemes WHERE collection_id = %s", (row[0],))
        return True

    async def touch_collection(self, name: str, *, changed: bool = True) -> None:
        """Record that an indexing run finished now; after changes, refresh word statistics and build the HNSW
        index if due. A run that changed nothing skips both, unless pages were written since the last finished
        run (an interrupted run left them without fresh statistics)."""
        ref = await self.collection_ref(name)
        if ref is None:
            return
        async with self.pool.connection() as conn:
            row = await (await conn.execute(
                "SELECT EXISTS (SELECT 1 FROM index_pages p JOIN index_collections c ON c.id = p.collection_id "
                "WHERE c.id = %s AND (c.last_indexed IS NULL OR p.indexed > c.last_indexed))", (ref.id,))).fetchone()
            await conn.execute("UPDATE index_collections SET last_indexed = now() WHERE id = %s", (ref.id,))
        if changed or (row is not None and row[0]):
            await self.refresh_text_stats(ref)
            await self.ensure_vector_index(ref)

    async def ensure_vector_index(self, ref: CollectionRef, *, min_chunks: int = HNSW_MIN_CHUNKS) -> bool:
        """Build the collection's HNSW index once it holds `min_chunks` chunks; True when the index exists."""
        async with self.pool.connection() as conn:
            exists = await (await conn.execute(
                "SELECT 1 FROM pg_class WHERE relname = %s AND relkind = 'i'", (hnsw_index_name(ref.id),)
            )).fetchone()
            if exists:
                return True
            count = await (await conn.execute(sql.SQL("SELECT count(*) FROM {}").format(ref.table))).fetchone()
            if count is None or count[0] < min_chunks:
                return False
            await conn.execute("SET maintenance_work_mem = '512MB'")  # the graph must fit to build fast
            await conn.execute(hnsw_index_ddl(ref.id))
            await conn.execute("RESET maintenance_work_mem")
            await conn.commit()
        return True

    async def refresh_text_stats(self, ref: CollectionRef) -> None:
        """Recount word page frequencies, page count and average page length of a collection (BM25 stats).

        One refresh per collection at a time (a transaction lock): a search on a collection whose first run has
        not finished refreshes them as the run does when it ends, and two deletes-then-inserts side by side
        collide on the statistics' primary key."""
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute(f"SELECT pg_advisory_xact_lock({_STATS_LOCK_KEY})", (ref.id,))
            await conn.execute("DELETE FROM index_lexemes WHERE collection_id = %s", (ref.id,))
            await conn.execute(
                "INSERT INTO index_lexemes (collection_id, lexeme, df) SELECT %s, lexeme, count(*) "
                "FROM index_postings WHERE collection_id = %s GROUP BY lexeme", (ref.id, ref.id),
            )
            await conn.execute(
                "UPDATE index_collections c SET stats_docs = s.pages, stats_avg_length = s.avg_length FROM "
                "(SELECT count(*) AS pages, coalesce(avg(text_length), 0) AS avg_length FROM index_pages "
                "WHERE collection_id = %s) s WHERE c.id = %s",
                (ref.id, ref.id),
            )

    # -- pages ---------------------------------------------------------------------------------------------

    async def page_states(self, collection: str) -> dict[str, PageState]:
        """page_id → version, space, labels, attachment signature, source, chunking, comment signature and site of
        every indexed page."""
        ref = await self.collection_ref(collection)
        if ref is None:
            return {}
        async with self.autocommit() as conn:
            rows = await (await conn.execute(
                "SELECT page_id, version, space, labels, attachments, source, chunking, comments, site "
                "FROM index_pages WHERE collection_id = %s", (ref.id,))).fetchall()
        return {row[0]: PageState(int(row[1]), row[2], tuple(row[3]), row[4], row[5], row[6], row[7], row[8])
                for row in rows}

    async def adopt_site(self, collection: str, site: str) -> int:
        """Record `site` for pages indexed before sites were recorded whose URL is on it (or unknown), so an
        upgrade does not redo them; the rest keep '' and count as another site's. Returns the pages updated."""
        ref = await self.collection_ref(collection)
        if ref is None:
            return 0
        async with self.autocommit() as conn:
            cur = await conn.execute(
                "UPDATE index_pages SET site = %(site)s WHERE collection_id = %(cid)s AND site = '' "
                "AND (url = '' OR starts_with(lower(url), %(prefix)s))",
                {"site": site, "cid": ref.id, "prefix": site.lower() + "/"})
            return cur.rowcount

    async def collection_spaces(self, collection: str) -> set[str]:
        """The spaces the collection's pages come from."""
        ref = await self.collection_ref(collection)
        if ref is None:
            return set()
        async with self.autocommit() as conn:
            rows = await (await conn.execute(
                "SELECT DISTINCT space FROM index_pages WHERE collection_id = %s", (ref.id,))).fetchall()
        return {row[0] for row in rows}

    async def replace_page(self, collection: str | CollectionRef, page: PageRecord, chunks: list[Chunk],
                           vectors: np.ndarray) -> None:
        """Replace one page's chunks in a single transaction (a crash leaves the old page or the new one)."""
        ref = collection if isinstance(collection, CollectionRef) else await self.require_collection(collection)
        await self.replace_pages(ref, [(page, chunks, vectors)])

    async def replace_pages(self, ref: CollectionRef, pages: list[tuple[PageRecord, list[Chunk], np.ndarray]]) -> None:
        """Replace several pages' chunks, one transaction per page, in one round trip.

        The statements of every page, each page inside its own BEGIN/COMMIT, are queued in one pipeline and
        synced once, so the server works through the group without waiting for this process between pages
        (a sync per page would wait for each page's results). When a page fails, the pages before it stay
        committed, its own transaction is rolled back (the old version stays whole) and the rest are not run."""
        params = [page_params(ref, *page) for page in pages]
        clear, write = sql.SQL(CLEAR_PAGE).format(chunks=ref.table), sql.SQL(WRITE_PAGE).format(chunks=ref.table)
        async with self.autocommit() as conn:
            try:
                async with conn.pipeline():
                    for page in params:
                        await conn.execute("BEGIN")
                        await conn.execute(clear, page)
                        await conn.execute(write, page)
                        await conn.execute("COMMIT")
            except BaseException:
                if not conn.closed and conn.info.transaction_status != TransactionStatus.IDLE:
                    await conn.execute("ROLLBACK")  # the failed page's clear must not outlive it
                raise

    async def delete_pages(self, collection: str, page_ids: list[str] | set[str]) -> int:
        """Remove pages and their chunks; returns how many pages were removed."""
        ids = sorted(set(page_ids))
        ref = await self.collection_ref(collection)
        if ref is None or not ids:
            return 0
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute(sql.SQL("DELETE FROM {} WHERE page_id = ANY(%s)").format(ref.table), (ids,))
            await conn.execute(DELETE_POSTINGS, {"cid": ref.id, "pages": ids})
            cur = await conn.execute(
                "DELETE FROM index_pages WHERE collection_id = %s AND page_id = ANY(%s)", (ref.id, ids)
            )
            return cur.rowcount

    async def search(self, collection: str | None, query: str, query_vector: np.ndarray | None, *,
                     top_k: int = 10, filters: SearchFilters | None = None, **options: Any) -> list[SearchHit]:
        """Shortcut for `confluence_mcp.index.search.hybrid_search(self, ...)`."""
        from confluence_mcp.index.search import hybrid_search

        return await hybrid_search(self, collection, query, query_vector, top_k=top_k, filters=filters, **options)
