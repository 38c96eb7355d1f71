"""search_index latency at scale: a synthetic collection of ~100k chunks, then p50/p99 of hybrid_search.

Chunks are realistic rather than random: every synthetic page is a handbook page whose chunks get sentences
of other chunks mixed in, and whose vectors are the real chunk vectors (local embedder) blended with another
chunk's and a little noise. Queries are the relevance questions plus handbook titles, embedded for real.
Rows are bulk-loaded with COPY (the store's per-page path is for incremental runs), then the collection is
finished exactly as an indexing run finishes it (`touch_collection`: word statistics + HNSW index).

    python -m benchmarks.search_scale                     # 100k chunks in a fresh embedded Postgres
    python -m benchmarks.search_scale --chunks 20000 --queries 100
    python -m benchmarks.search_scale --data-dir /tmp/scale   # keep the database; later runs skip the load
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from psycopg import sql
from pydantic import SecretStr

from benchmarks.relevance import DEFAULT_CORPUS, HERE, load_jsonl
from confluence_mcp.config import IndexSettings
from confluence_mcp.index.chunking import chunk_markdown, chunking_id
from confluence_mcp.index.embedders import Embedder, load_embedder
from confluence_mcp.index.migrations import MIGRATIONS
from confluence_mcp.index.pg import EmbeddedPostgres, create_database
from confluence_mcp.index.search import SearchFilters, hybrid_search
from confluence_mcp.index.store import TSV_SQL, IndexStore

COLLECTION = "scale"


def synthesize(pages: list[dict], embedder: Embedder, target: int, seed: int = 7):
    """Yield (page_id, title, space, labels, [(heading_path, text, vector)]) until ~target chunks."""
    rng = random.Random(seed)
    base = [(p, chunk_markdown(p["title"], p["markdown"])) for p in pages]
    flat = [c for _, chunks in base for c in chunks]
    vectors = embedder.embed_batch([c.embed_text for c in flat])
    index_of = {id(c): i for i, c in enumerate(flat)}
    sentences = [s for c in flat for s in c.text.split(". ") if len(s) > 20]
    made = 0
    number = 0
    while made < target:
        page, chunks = base[rng.randrange(len(base))]
        rows = []
        for chunk in chunks:
            other = rng.randrange(len(flat))
            mixed = chunk.text + " " + ". ".join(rng.sample(sentences, 2))
            vector = 0.8 * vectors[index_of[id(chunk)]] + 0.2 * vectors[other]
            vector = vector + np.random.default_rng(made).normal(0, 0.02, vector.shape).astype(np.float32)
            rows.append((chunk.heading_path, mixed, (vector / np.linalg.norm(vector)).astype(np.float32)))
        number += 1
        made += len(rows)
        yield (f"s{number}", f"{page['title']} ({number})", page["space"], tuple(page.get("labels") or ()), rows)


async def load(store: IndexStore, embedder: Embedder, target: int) -> float:
    started = time.perf_counter()
    await store.drop_collection(COLLECTION)
    ref = await store.ensure_collection(COLLECTION, embedder.model_id, embedder.dimensions)
    pages = load_jsonl(DEFAULT_CORPUS)
    async with store.pool.connection() as conn:
        await conn.execute(
            "CREATE TEMP TABLE staging (page_id text, ordinal int, heading_path text[], text text, space text, "
            "labels text[], embedding vector, title text, headings text)"
        )
        async with conn.cursor() as cur, cur.copy("COPY staging FROM STDIN") as copy:
            for page_id, title, space, labels, rows in synthesize(pages, embedder, target):
                for ordinal, (path, text, vector) in enumerate(rows):
                    await copy.write_row((page_id, ordinal, list(path), text, space, list(labels),
                                          vector, title, " ".join(path)))
        await conn.execute(sql.SQL(
            "INSERT INTO {t} (page_id, ordinal, heading_path, text, space, labels, last_modified, embedding) "
            "SELECT page_id, ordinal, heading_path, text, space, labels, now() - random() * interval '3 years', "
            "embedding FROM staging"
        ).format(t=ref.table))
        await conn.execute(
            "INSERT INTO index_pages (collection_id, page_id, version, title, space, url, labels, last_modified, "
            "source, tsv) SELECT %s, page_id, 1, min(title), min(space), 'http://127.0.0.1/' || page_id, "
            "min(labels), now(), 'space:' || min(space), "
            + TSV_SQL.replace("%s", "{}").format("min(title)", "string_agg(headings, ' ')", "string_agg(text, ' ')")
            + " FROM staging GROUP BY page_id",
            (ref.id,),
        )
        # Same derivation as IndexStore.replace_page, in bulk: page length, then field-weighted postings.
        await conn.execute(
            "UPDATE index_pages SET text_length = 3 * array_length(regexp_split_to_array(title, '\\s+'), 1) "
            "+ coalesce(length(tsv), 0) WHERE collection_id = %s", (ref.id,),
        )
        await conn.execute(
            "INSERT INTO index_postings (collection_id, lexeme, page_id, tf, doc_length) "
            "SELECT p.collection_id, u.lexeme, p.page_id, cardinality(u.positions) "
            "+ 2 * cardinality(array_positions(u.weights, 'A')) + cardinality(array_positions(u.weights, 'B')), "
            "p.text_length FROM index_pages p, unnest(p.tsv) AS u WHERE p.collection_id = %s", (ref.id,),
        )
        await conn.execute("DROP TABLE staging")
        await conn.commit()
    await store.touch_collection(COLLECTION)
    async with store.pool.connection() as conn:
        await conn.set_autocommit(True)  # VACUUM refuses to run inside a transaction
        await conn.execute(sql.SQL("VACUUM ANALYZE {}").format(ref.table))
        await conn.execute("VACUUM ANALYZE index_pages")
        await conn.execute("VACUUM ANALYZE index_postings")
        await conn.set_autocommit(False)
    return time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(store: IndexStore, embedder: Embedder, count: int, **options: object) -> tuple[float, float]:
    questions = [q["question"] for q in load_jsonl(HERE / "relevance_questions.jsonl")]
    titles = [p["title"] for p in load_jsonl(DEFAULT_CORPUS)]
    queries = (questions + titles)[:count]
    vectors = embedder.embed_batch(queries)
    # One unmeasured pass: steady-state latency, not the first reads of a freshly started database from disk
    # (which put the first case's p99 at 110+ ms).
    for query, vector in zip(queries, vectors, strict=True):
        await hybrid_search(store, COLLECTION, query, vector, **options)  # type: ignore[arg-type]
    timings = []
    for query, vector in zip(queries, vectors, strict=True):
        started = time.perf_counter()
        await hybrid_search(store, COLLECTION, query, vector, **options)  # type: ignore[arg-type]
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings), percentile(timings, 0.99)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--data-dir", type=Path, help="keep the embedded Postgres here (reused when present)")
    args = parser.parse_args()
    embedder = load_embedder(IndexSettings())
    with tempfile.TemporaryDirectory(prefix="cmcp-scale-") as tmp:
        server = EmbeddedPostgres((args.data_dir or Path(tmp)) / "pg")
        dsn = server.start()
        # A kept database is reused only if it was built by this schema and chunker: tables made by older code
        # (vectors stored out of line, say) measure something else.
        stamp = f"schema {len(MIGRATIONS)}, {chunking_id()}, {args.chunks} chunks"
        marker = args.data_dir / ".loaded" if args.data_dir is not None else None
        try:
            if marker is None or not marker.exists() or marker.read_text() != stamp:
                dsn = create_database(dsn, "scale")
            else:
                from psycopg.conninfo import make_conninfo
                dsn = make_conninfo(dsn, dbname="scale")
            async with await IndexStore.open(IndexSettings(database_url=SecretStr(dsn))) as store:
                info = await store.get_collection(COLLECTION)
                if info is None or info.chunks < args.chunks * 0.95:
                    seconds = await load(store, embedder, args.chunks)
                    print(f"loaded in {seconds:.1f}s")
                    if marker is not None:
                        marker.write_text(stamp)
                info = await store.get_collection(COLLECTION)
                assert info is not None
                print(f"collection: {info.chunks} chunks, {info.pages} pages, embedder {info.embedder}")
                cases: list[tuple[str, dict[str, object]]] = [
                    ("hybrid top_k=10", {"top_k": 10}),
                    ("hybrid top_k=10 one_per_page", {"top_k": 10, "one_per_page": True}),
                    ("hybrid top_k=10 space filter", {"top_k": 10, "filters": SearchFilters(space=["COMPANY"])}),
                    ("vector top_k=10", {"top_k": 10, "mode": "vector"}),
                    ("text top_k=10", {"top_k": 10, "mode": "text"}),
                ]
                for label, options in cases:
                    p50, p99 = await measure(store, embedder, args.queries, **options)
                    print(f"{label:<34} p50 {p50:6.1f} ms   p99 {p99:6.1f} ms")
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
