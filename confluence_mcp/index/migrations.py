"""Numbered schema migrations for the index database, applied when a store opens.

Each `mNNN_*` coroutine runs once, inside one transaction with its row in `index_schema_version`; an advisory
lock serialises processes that open the same database at the same time. Per-collection chunk tables are not
created here (their vector dimension depends on the collection) but by `chunk_table_ddl`, which later
migrations must also apply to every existing collection when they change the chunk layout.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from psycopg import AsyncConnection, sql

__all__ = ["MIGRATIONS", "chunk_table", "chunk_table_ddl", "hnsw_index_ddl", "hnsw_index_name", "migrate"]

_LOCK_KEY = 0x636F6E666C  # arbitrary constant: "confl"

Migration = Callable[[AsyncConnection[Any]], Awaitable[None]]


async def m001_initial(conn: AsyncConnection[Any]) -> None:
    await conn.execute(
        """
        CREATE TABLE index_collections (
            id           serial PRIMARY KEY,
            name         text NOT NULL UNIQUE,
            embedder     text NOT NULL,
            dimension    integer NOT NULL CHECK (dimension > 0),
            created      timestamptz NOT NULL DEFAULT now(),
            last_indexed timestamptz
        )
        """
    )
    await conn.execute(
        """
        CREATE TABLE index_pages (
            collection_id integer NOT NULL REFERENCES index_collections(id) ON DELETE CASCADE,
            page_id       text NOT NULL,
            version       integer NOT NULL,
            title         text NOT NULL,
            space         text NOT NULL DEFAULT '',
            url           text NOT NULL DEFAULT '',
            labels        text[] NOT NULL DEFAULT '{}',
            last_modified timestamptz,
            source        text NOT NULL DEFAULT '',
            indexed       timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (collection_id, page_id)
        )
        """
    )
    await conn.execute("CREATE INDEX index_pages_source ON index_pages (collection_id, source)")
    await conn.execute("CREATE INDEX index_pages_space ON index_pages (collection_id, space)")


async def m002_lexeme_stats(conn: AsyncConnection[Any]) -> None:
    # Document frequencies of lexemes per collection, so full-text ranking can weigh rare words above common
    # ones (ts_rank alone has no IDF). Refreshed at the end of every indexing run (`touch_collection`).
    await conn.execute(
        """
        CREATE TABLE index_lexemes (
            collection_id integer NOT NULL REFERENCES index_collections(id) ON DELETE CASCADE,
            lexeme        text NOT NULL,
            df            integer NOT NULL,
            PRIMARY KEY (collection_id, lexeme)
        )
        """
    )
    await conn.execute("ALTER TABLE index_collections ADD COLUMN stats_chunks integer")


async def m003_page_text(conn: AsyncConnection[Any]) -> None:
    # Full text is ranked per page (title A > headings B > body C over the whole page): measured on the
    # handbook questions, page-level ranking beats chunk-level ranking clearly, since a question's words are
    # spread over a page's sections. Word statistics are therefore per page too.
    await conn.execute("ALTER TABLE index_pages ADD COLUMN tsv tsvector NOT NULL DEFAULT ''::tsvector")
    await conn.execute("CREATE INDEX index_pages_tsv ON index_pages USING gin (tsv)")
    await conn.execute("ALTER TABLE index_collections RENAME COLUMN stats_chunks TO stats_docs")
    await conn.execute("UPDATE index_collections SET stats_docs = NULL")


async def m004_postings(conn: AsyncConnection[Any]) -> None:
    # An inverted index of page words with their field-weighted term frequency, for BM25 at query time.
    # Ranking with ts_rank over whole-page tsvectors costs a detoast per matching page (tens of ms at 10k
    # pages); summing postings of the query words is an index-only scan proportional to those postings.
    await conn.execute(
        """
        CREATE TABLE index_postings (
            collection_id integer NOT NULL,  -- no foreign key and no page index: each costs per-row work
            lexeme        text COLLATE "C" NOT NULL,
            page_id       text COLLATE "C" NOT NULL,
            tf            real NOT NULL,
            doc_length    real NOT NULL,
            PRIMARY KEY (collection_id, lexeme, page_id) INCLUDE (tf, doc_length)
        )
        """
    )
    await conn.execute("ALTER TABLE index_pages ADD COLUMN text_length integer NOT NULL DEFAULT 0")
    await conn.execute("ALTER TABLE index_collections ADD COLUMN stats_avg_length real")
    await conn.execute("UPDATE index_collections SET stats_docs = NULL")
    # index_lexemes now holds page frequencies counted from the postings (refreshed when a run finishes), so a
    # query reads postings of its rarer words only.
    await conn.execute("ALTER TABLE index_lexemes ALTER COLUMN lexeme TYPE text COLLATE \"C\"")
    await conn.execute("DELETE FROM index_lexemes")


async def m005_no_chunk_text_vectors(conn: AsyncConnection[Any]) -> None:
    # Computing a text vector per chunk doubled the server work of writing a page, for one use only: text-only
    # search picking a page's best chunk, which now ranks the few candidate chunks on the fly. Full text is
    # BM25 over the postings, so no query searches text vectors through an index (dropping the column drops
    # the chunk tables' GIN index with it).
    rows = await (await conn.execute("SELECT id FROM index_collections")).fetchall()
    for (collection_id,) in rows:
        await conn.execute(sql.SQL("ALTER TABLE IF EXISTS {} DROP COLUMN IF EXISTS tsv").format(
            chunk_table(collection_id)))
    await conn.execute("DROP INDEX IF EXISTS index_pages_tsv")


async def m006_page_attachments(conn: AsyncConnection[Any]) -> None:
    # A signature of the attachments (id and version) a page was indexed with: an attachment change does not
    # bump the page's version. NULL: the page's entry holds no attachment text (pages indexed before this
    # migration too, so the next run with attachments re-indexes them once).
    await conn.execute("ALTER TABLE index_pages ADD COLUMN attachments text")


async def m007_page_chunking(conn: AsyncConnection[Any]) -> None:
    # How each page was cut into chunks (`chunking.chunking_id`), so a run redoes pages cut another way, e.g. by
    # an older release or for an embedder with another input size. NULL: unknown, redone on the next run.
    await conn.execute("ALTER TABLE index_pages ADD COLUMN chunking text")


async def m008_space_pages_index(conn: AsyncConnection[Any]) -> None:
    # A filtered search lists the pages its filters keep; with page ids in the space index that list is an
    # index-only scan instead of a visit to every selected page row (a quarter of a space-filtered search).
    await conn.execute("CREATE INDEX index_pages_space_pages ON index_pages (collection_id, space) INCLUDE (page_id)")
    await conn.execute("DROP INDEX IF EXISTS index_pages_space")


async def m009_page_comments(conn: AsyncConnection[Any]) -> None:
    # A signature of the comments (id and version) a page was indexed with, as for attachments: a new or edited
    # comment does not bump the page's version. NULL: the page's entry holds no comment text.
    await conn.execute("ALTER TABLE index_pages ADD COLUMN comments text")


async def m010_page_site(conn: AsyncConnection[Any]) -> None:
    # The site (normalised web base) a page was fetched from: page ids are unique per site only, and a page's URL
    # points at its site, so a run from another site (a restarted sandbox on a new port, a changed base_url)
    # must not take the entry as up to date. '': recorded before this migration (see `IndexStore.adopt_site`).
    await conn.execute("ALTER TABLE index_pages ADD COLUMN site text NOT NULL DEFAULT ''")


MIGRATIONS: list[tuple[int, str, Migration]] = [
    (1, "initial", m001_initial),
    (2, "lexeme_stats", m002_lexeme_stats),
    (3, "page_text", m003_page_text),
    (4, "postings", m004_postings),
    (5, "no_chunk_text_vectors", m005_no_chunk_text_vectors),
    (6, "page_attachments", m006_page_attachments),
    (7, "page_chunking", m007_page_chunking),
    (8, "space_pages_index", m008_space_pages_index),
    (9, "page_comments", m009_page_comments),
    (10, "page_site", m010_page_site),
]


def chunk_table(collection_id: int) -> sql.Identifier:
    """The chunk table of a collection: named from its integer id, never from user input."""
    return sql.Identifier(f"index_chunks_{int(collection_id)}")


def chunk_table_ddl(collection_id: int, dimension: int) -> list[sql.Composed]:
    """Statements creating one collection's chunk table with a typed vector column and its indexes.

    One table per collection (rather than one shared table with an untyped vector column) keeps the column
    typed `vector(dim)`, so the HNSW index is an ordinary index the planner always uses (a partial expression
    index would only match when the collection id is a literal), and dropping a collection is a DROP TABLE.
    Space, labels and last_modified are copied onto each chunk so filters apply inside the vector scan.
    The HNSW index is not created here: see `hnsw_index_ddl`.
    """
    table = chunk_table(collection_id)
    dim = sql.Literal(int(dimension))
    name = f"index_chunks_{int(collection_id)}"
    return [
        sql.SQL(
            """
            CREATE TABLE IF NOT EXISTS {table} (
                id            bigserial PRIMARY KEY,
                page_id       text NOT NULL,
                ordinal       integer NOT NULL,
                heading_path  text[] NOT NULL DEFAULT '{{}}',
                text          text NOT NULL,
                space         text NOT NULL DEFAULT '',
                labels        text[] NOT NULL DEFAULT '{{}}',
                last_modified timestamptz,
                embedding     vector({dim}) NOT NULL,
                UNIQUE (page_id, ordinal)
            )
            """
        ).format(table=table, dim=dim),
        # Vectors stay in the row (long texts are TOASTed instead), so an exact scan never detoasts.
        sql.SQL("ALTER TABLE {} ALTER COLUMN embedding SET STORAGE PLAIN").format(table),
        sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} USING gin (labels)").format(
            sql.Identifier(f"{name}_labels"), table
        ),
        sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (space)").format(sql.Identifier(f"{name}_space"), table),
    ]


def hnsw_index_name(collection_id: int) -> str:
    return f"index_chunks_{int(collection_id)}_hnsw"


def hnsw_index_ddl(collection_id: int) -> sql.Composed:
    """The HNSW (cosine) index of a collection's chunk table.

    Built once a collection is large enough to need it (`IndexStore.ensure_vector_index`): inserting into a
    live HNSW graph costs milliseconds per row, so a first full run loads rows unindexed and builds the graph
    at the end in one pass, and below a few thousand chunks an exact scan is as fast and never misses.
    """
    return sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} USING hnsw (embedding vector_cosine_ops)").format(
        sql.Identifier(hnsw_index_name(collection_id)), chunk_table(collection_id)
    )


async def migrate(conn: AsyncConnection[Any]) -> list[int]:
    """Apply pending migrations; return the versions applied now (empty when up to date)."""
    applied_now: list[int] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        await conn.execute(
            """
            CREATE TABLE IF NOT EXISTS index_schema_version (
                version integer PRIMARY KEY,
                name    text NOT NULL,
                applied timestamptz NOT NULL DEFAULT now()
            )
            """
        )
        rows = await (await conn.execute("SELECT version FROM index_schema_version")).fetchall()
        done = {row[0] for row in rows}
        for version, name, migration in MIGRATIONS:
            if version in done:
                continue
            await migration(conn)
            await conn.execute(
                "INSERT INTO index_schema_version (version, name) VALUES (%s, %s)", (version, name)
            )
            applied_now.append(version)
    return applied_now
