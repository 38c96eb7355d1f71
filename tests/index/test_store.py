"""IndexStore against a real embedded Postgres with the real local embedder."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg import sql

from confluence_mcp.config import IndexSettings
from confluence_mcp.errors import EmbedderMismatch, IndexStoreError
from confluence_mcp.index import migrations
from confluence_mcp.index.chunking import chunk_markdown
from confluence_mcp.index.embedders import LocalEmbedder, embed_texts, load_embedder
from confluence_mcp.index.migrations import MIGRATIONS, chunk_table_ddl, migrate
from confluence_mcp.index.store import IndexStore, PageRecord

pytestmark = pytest.mark.anyio


async def page_versions(store: IndexStore, collection: str, source: str | None = None) -> dict[str, tuple[int, str]]:
    """page id → (version, space) of the indexed pages (only `source`'s, when given)."""
    return {page_id: (state.version, state.space) for page_id, state in (await store.page_states(collection)).items()
            if source is None or state.source == source}

NOW = datetime(2026, 5, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    loaded = load_embedder(IndexSettings())
    assert isinstance(loaded, LocalEmbedder)
    return loaded


def page(page_id: str, title: str, *, space: str = "DOCS", version: int = 1, labels: tuple[str, ...] = (),
         source: str = "space:DOCS", modified: datetime = NOW) -> PageRecord:
    return PageRecord(page_id, title, space, f"http://127.0.0.1/wiki/{page_id}", version, modified, labels, source)


async def put(store: IndexStore, embedder: LocalEmbedder, collection: str, record: PageRecord, markdown: str) -> int:
    chunks = chunk_markdown(record.title, markdown)
    vectors = await embed_texts(embedder, [c.embed_text for c in chunks])
    await store.replace_page(collection, record, chunks, vectors)
    return len(chunks)


async def test_migrations_are_idempotent(index_settings: IndexSettings) -> None:
    store = await IndexStore.open(index_settings)
    try:
        async with store.pool.connection() as conn:
            assert await migrate(conn) == []
            rows = await (await conn.execute("SELECT version FROM index_schema_version ORDER BY 1")).fetchall()
        assert [r[0] for r in rows] == [m[0] for m in MIGRATIONS]
    finally:
        await store.close()
    again = await IndexStore.open(index_settings)  # a second open applies nothing and fails nothing
    await again.close()


async def test_collection_lifecycle_and_mismatch(index_settings: IndexSettings, embedder: LocalEmbedder) -> None:
    async with await IndexStore.open(index_settings) as store:
        await store.ensure_collection("life", embedder.model_id, embedder.dimensions)
        await store.ensure_collection("life", embedder.model_id, embedder.dimensions)  # idempotent
        with pytest.raises(EmbedderMismatch, match="was built with embedder local:"):
            await store.ensure_collection("life", "openai:text-embedding-3-small", 1536)
        chunks = await put(store, embedder, "life", page("1", "Vacation policy"), "# Leave\n\nTake time off.")
        await put(store, embedder, "life", page("2", "Other", source="cql:label=x"), "Body text")
        await store.touch_collection("life")
        info = await store.get_collection("life")
        assert info is not None
        assert (info.pages, info.chunks, info.dimension) == (2, chunks + 1, 256)
        assert info.sources == ["cql:label=x", "space:DOCS"] and info.last_indexed is not None
        assert "life" in [c.name for c in await store.list_collections()]
        assert await page_versions(store, "life", source="space:DOCS") == {"1": (1, "DOCS")}
        assert await store.drop_collection("life") is True
        assert await store.drop_collection("life") is False
        assert await store.get_collection("life") is None
        assert await page_versions(store, "life") == {}


async def test_replace_page_is_one_transaction(index_settings: IndexSettings, embedder: LocalEmbedder) -> None:
    async with await IndexStore.open(index_settings) as store:
        ref = await store.ensure_collection("tx", embedder.model_id, embedder.dimensions)
        long_page = "\n\n".join(f"## Part {i}\n\n" + f"Words about topic number {i}. " * 30 for i in range(5))
        first = await put(store, embedder, "tx", page("7", "Long page"), long_page)
        assert first > 1
        # Replacing with fewer chunks leaves no orphans from the old version.
        await put(store, embedder, "tx", page("7", "Long page", version=2), "Short now.")
        info = await store.get_collection("tx")
        assert info is not None and (info.pages, info.chunks) == (1, 1)
        # A failing insert (wrong vector count) rolls back: the page keeps version 2 and its single chunk.
        chunks = chunk_markdown("Long page", long_page)
        bad = np.zeros((len(chunks), 3), dtype=np.float32)
        with pytest.raises(EmbedderMismatch):
            await store.replace_page("tx", page("7", "Long page", version=3), chunks, bad)
        vectors = await embed_texts(embedder, [c.embed_text for c in chunks])
        vectors[-1, :] = np.nan  # pgvector rejects NaN mid-insert: the delete before it must roll back too
        with pytest.raises(psycopg.Error):
            await store.replace_page("tx", page("7", "Long page", version=3), chunks, vectors)
        assert await page_versions(store, "tx") == {"7": (2, "DOCS")}
        async with store.pool.connection() as conn:
            count = await (await conn.execute(f"SELECT count(*) FROM index_chunks_{ref.id}")).fetchone()
        assert count == (1,)
        async with store.pool.connection() as conn:
            words = await (await conn.execute(
                "SELECT array_agg(lexeme ORDER BY lexeme) FROM index_postings WHERE collection_id = %s", (ref.id,)
            )).fetchone()
        assert words == (["long", "page", "short"],)  # title + current text only, nothing left from version 1
        assert await store.delete_pages("tx", ["7", "missing"]) == 1
        info = await store.get_collection("tx")
        assert info is not None and (info.pages, info.chunks) == (0, 0)
        async with store.pool.connection() as conn:
            left = await (await conn.execute("SELECT count(*) FROM index_postings WHERE collection_id = %s",
                                             (ref.id,))).fetchone()
        assert left == (0,)


async def test_unknown_collection_errors(index_settings: IndexSettings, embedder: LocalEmbedder) -> None:
    async with await IndexStore.open(index_settings) as store:
        with pytest.raises(IndexStoreError, match="does not exist"):
            await store.replace_page("nope", page("1", "x"), [], np.zeros((0, 256), dtype=np.float32))
        assert await store.delete_pages("nope", ["1"]) == 0


async def test_updated_after_filter_uses_page_dates(index_settings: IndexSettings, embedder: LocalEmbedder) -> None:
    async with await IndexStore.open(index_settings) as store:
        await store.ensure_collection("dates", embedder.model_id, embedder.dimensions)
        await put(store, embedder, "dates", page("old", "Travel policy", modified=NOW - timedelta(days=400)),
                  "Book flights early.")
        await put(store, embedder, "dates", page("new", "Travel policy 2", modified=NOW), "Book trains early.")
        from confluence_mcp.index.search import SearchFilters

        vec = embedder.embed_batch(["booking travel"])[0]
        hits = await store.search("dates", "booking travel", vec,
                                  filters=SearchFilters(updated_after=NOW - timedelta(days=30)))
        assert [h.page_id for h in hits] == ["new"]


async def test_unchanged_run_keeps_statistics_unless_an_interrupted_run_wrote_pages(
        index_settings: IndexSettings, embedder: LocalEmbedder) -> None:
    async with await IndexStore.open(index_settings) as store:
        await store.ensure_collection("stats", embedder.model_id, embedder.dimensions)
        await put(store, embedder, "stats", page("s1", "Coffee machine"), "Descale it monthly.")
        await store.touch_collection("stats")
        assert (await store.require_collection("stats")).stats_docs == 1
        # An interrupted run wrote a page but never finished: the next run changes nothing, yet refreshes.
        await put(store, embedder, "stats", page("s2", "Kettle"), "Boil water.")
        await store.touch_collection("stats", changed=False)
        assert (await store.require_collection("stats")).stats_docs == 2
        async with store.pool.connection() as conn:
            await conn.execute("UPDATE index_collections SET stats_docs = 99 WHERE name = 'stats'")
        await store.touch_collection("stats", changed=False)  # nothing written since: statistics untouched
        assert (await store.require_collection("stats")).stats_docs == 99
        await store.drop_collection("stats")


async def test_migration_5_drops_chunk_text_vectors_of_existing_collections(
        fresh_index_settings: IndexSettings, embedder: LocalEmbedder, monkeypatch: pytest.MonkeyPatch) -> None:
    # A database at version 4 holding a collection whose chunk table still has the weighted tsv + GIN index.
    monkeypatch.setattr(migrations, "MIGRATIONS", MIGRATIONS[:4])
    async with await IndexStore.open(fresh_index_settings) as store:
        ref = await store.ensure_collection("old", embedder.model_id, embedder.dimensions)
        table = f"index_chunks_{ref.id}"
        async with store.pool.connection() as conn:
            await conn.execute(f"DROP TABLE {table}")
            await conn.execute(
                f"CREATE TABLE {table} (id bigserial PRIMARY KEY, page_id text NOT NULL, ordinal integer NOT NULL, "
                "heading_path text[] NOT NULL DEFAULT '{}', text text NOT NULL, space text NOT NULL DEFAULT '', "
                "labels text[] NOT NULL DEFAULT '{}', last_modified timestamptz, embedding vector(256) NOT NULL, "
                "tsv tsvector NOT NULL, UNIQUE (page_id, ordinal))")
            await conn.execute(f"CREATE INDEX {table}_tsv ON {table} USING gin (tsv)")
            for statement in chunk_table_ddl(ref.id, ref.dimension)[1:]:
                await conn.execute(statement)
            await conn.execute(
                f"INSERT INTO {table} (page_id, ordinal, text, embedding, tsv) VALUES "
                "('legacy', 0, 'Old text', %s, to_tsvector('english', 'Old text'))",
                (np.ones(256, dtype=np.float32),))
            await conn.commit()
    monkeypatch.setattr(migrations, "MIGRATIONS", MIGRATIONS)
    async with await IndexStore.open(fresh_index_settings) as store:
        async with store.pool.connection() as conn:
            columns = await (await conn.execute(
                "SELECT array_agg(attname::text) FROM pg_attribute WHERE attrelid = %s::regclass "
                "AND attnum > 0 AND NOT attisdropped", (table,))).fetchone()
            indexes = await (await conn.execute(
                "SELECT array_agg(indexname::text) FROM pg_indexes WHERE indexname LIKE '%%tsv'")).fetchone()
            legacy = await (await conn.execute(f"SELECT text FROM {table}")).fetchall()
        assert columns is not None and "tsv" not in columns[0] and "embedding" in columns[0]
        assert indexes == (None,)  # neither the chunk GIN index nor index_pages_tsv is left
        assert legacy == [("Old text",)]
        # The migrated table takes new pages, and text-only search ranks their chunks on the fly.
        await put(store, embedder, "old", page("n1", "Parking"), "# Bikes\n\n" + "Bike racks stand behind the "
                  "office. " * 40 + "\n\n# Cars\n\n" + "Visitors park on level two of the garage. " * 30)
        await store.touch_collection("old")
        hits = await store.search("old", "garage visitors", None, mode="text", top_k=1)
        assert [(h.page_id, h.heading_path) for h in hits] == [("n1", ("Cars",))]


async def test_migration_6_adds_a_nullable_attachment_signature_to_existing_pages(
        fresh_index_settings: IndexSettings, embedder: LocalEmbedder, monkeypatch: pytest.MonkeyPatch) -> None:
    # A database at version 5 with an indexed page (written as that version's code wrote pages).
    monkeypatch.setattr(migrations, "MIGRATIONS", MIGRATIONS[:5])
    async with await IndexStore.open(fresh_index_settings) as store:
        ref = await store.ensure_collection("old", embedder.model_id, embedder.dimensions)
        async with store.pool.connection() as conn:
            await conn.execute("INSERT INTO index_pages (collection_id, page_id, version, title, labels, source) "
                               "VALUES (%s, 'legacy', 3, 'Old page', '{b,a}', 'space:DOCS')", (ref.id,))
            await conn.commit()
    monkeypatch.setattr(migrations, "MIGRATIONS", MIGRATIONS)
    async with await IndexStore.open(fresh_index_settings) as store:
        states = await store.page_states("old")
        # NULL: indexed without attachment text, so the next run with attachments re-indexes it once.
        assert (states["legacy"].version, states["legacy"].labels, states["legacy"].attachments) == (
            3, ("b", "a"), None)
        await put(store, embedder, "old", replace(page("legacy", "Old page", version=3), attachments="5e1f"),
                  "Body and the text of its attachments.")
        await put(store, embedder, "old", page("plain", "Plain page"), "Body only.")
        states = await store.page_states("old")
        assert (states["legacy"].attachments, states["plain"].attachments) == ("5e1f", None)
        assert states["legacy"].source == "space:DOCS"


async def test_a_group_write_commits_each_page_on_its_own(index_settings: IndexSettings,
                                                          embedder: LocalEmbedder) -> None:
    """Pages written in one round trip: a page the server refuses (a NaN vector) rolls back alone, keeping its
    old version whole; the pages before it stay written, the ones after it are not run; NUL characters (text
    from a UTF-16 attachment, say) are dropped instead of failing the page."""
    async with await IndexStore.open(index_settings) as store:
        await store.drop_collection("group")
        ref = await store.ensure_collection("group", embedder.model_id, embedder.dimensions)
        await put(store, embedder, "group", page("b", "Old B"), "# Old\n\nThe old body of B.")

        def entry(page_id: str, text: str, *, broken: bool = False) -> tuple[PageRecord, list[Any], np.ndarray]:
            chunks = chunk_markdown(f"Page {page_id}", text)
            vectors = embedder.embed_batch([c.embed_text for c in chunks])
            if broken:
                vectors[0, 0] = np.nan
            return page(page_id, f"Page {page_id}", version=2), chunks, vectors

        with pytest.raises(psycopg.Error):
            await store.replace_pages(ref, [entry("a", "Alpha \x00 text"), entry("b", "New B", broken=True),
                                            entry("c", "Gamma")])
        assert await page_versions(store, "group") == {"a": (2, "DOCS"), "b": (1, "DOCS")}
        async with store.autocommit() as conn:
            texts = dict(await (await conn.execute(
                sql.SQL("SELECT page_id, string_agg(text, ' ') FROM {} GROUP BY page_id").format(ref.table)
            )).fetchall())
        assert "old body of B" in texts["b"] and "Alpha  text" in texts["a"] and "c" not in texts
        await store.replace_pages(ref, [entry("c", "Gamma")])  # the pool's connections are usable again
        assert set(await page_versions(store, "group")) == {"a", "b", "c"}
