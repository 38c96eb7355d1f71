"""Hybrid retrieval over the index: vector (cosine, HNSW at scale) + full text, fused per page.

Per collection, one SQL round trip returns both candidate lists, filters applied inside both scans: the
`depth` nearest chunks, and the `depth` best pages by full text (BM25 over field-weighted postings:
title > headings > body), the best of which carry their chunk nearest to the query (with selective filters,
whose vector side is an exact scan, the two lists are two queries run at once). A second query fetches the
winners' text and page metadata.

Fusion, chosen by measurement on the handbook's dev and validation questions (`benchmarks/relevance.py`,
`benchmarks/relevance_e2e.py`): a convex combination
of min-max normalised cosine (per chunk) and normalised page text score, `alpha * v + (1 - alpha) * t`.
On the dev questions it beat reciprocal-rank fusion (which buries a page found by only one side) and
chunk-level full text (a question's words are spread over a page's sections). Pages found only by full
text contribute their nearest chunk. Scores are in 0..1; 1.0 means best in both lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import anyio
from psycopg import sql

from confluence_mcp.errors import EmbedderMismatch, IndexStoreError

if TYPE_CHECKING:
    import numpy as np

    from confluence_mcp.index.store import CollectionRef, IndexStore

__all__ = ["DEFAULT_FUSION", "FusionParams", "SearchFilters", "SearchHit", "SearchMode", "hybrid_search"]

SearchMode = Literal["hybrid", "vector", "text"]


@dataclass
class SearchFilters:
    space: list[str] | None = None
    labels: list[str] | None = None  # a chunk matches when its page has any of these labels
    page_ids: list[str] | None = None
    updated_after: datetime | None = None


@dataclass
class SearchHit:
    page_id: str
    title: str
    url: str
    heading_path: tuple[str, ...]
    text: str
    score: float
    space: str
    labels: tuple[str, ...]
    version: int
    last_modified: datetime | None
    collection: str = ""
    text_match: bool = False  # the page holds some of the query's words (hybrid and text modes)


@dataclass(frozen=True)
class FusionParams:
    """Knobs of retrieval and fusion; the defaults are the measured choice."""

    alpha: float = 0.35  # weight of the vector side; 1 - alpha for full text
    depth_factor: int = 5  # candidates per list = max(min_depth, depth_factor * top_k)
    min_depth: int = 120
    ef_search: int = 100
    exact_page_ratio: float = 0.15  # filters keeping fewer pages than this share get exact vector distances
    best_chunk_factor: int = 2  # text-only pages get a representative chunk down to rank factor * top_k
    max_df_ratio: float = 0.6  # query words on more pages than this are ignored (except the rarest)
    max_terms: int = 12
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    weights: str = "{0.1, 0.2, 0.4, 1.0}"  # ts_rank weights (D, C body, B headings, A title) to pick a chunk
    # Hybrid with an exact vector scan (selective filters): the two lists as two queries on two connections at
    # once (space filter at 100k chunks: 18 -> 14 ms p50). Walking the HNSW graph is quick: one query wins there.
    parallel_exact: bool = True


DEFAULT_FUSION = FusionParams()

# Full text is BM25 over pages, from the postings table (field-weighted term frequencies: title 3, headings 2, body
# 1). Page frequencies come from `index_lexemes` (counted when a run finishes; a word not counted yet is treated as
# rare). Words on more than `max_df_ratio` of the pages are ignored, except the rarest counted word of the query (a
# typo must not push every common word out), and at most `max_terms` words count: common words barely move the ranking
# and their postings are the expensive part. idf is cast to float8 (its 0.5 literals make it numeric, and numeric
# arithmetic over every posting cost a quarter of the query), and the pages are cut to the top k before they are
# numbered (a top-k sort instead of sorting every page that matched a word).
_PAGE_TEXT = """
(WITH q AS (SELECT DISTINCT unnest(tsvector_to_array(to_tsvector('english', %(q)s))) AS lexeme),
 terms AS (
   SELECT q.lexeme, coalesce(s.df, 1) AS df, s.df IS NOT NULL AS known FROM q
   LEFT JOIN index_lexemes s ON s.collection_id = %(cid)s AND s.lexeme = q.lexeme),
 chunk_query AS (SELECT replace(plainto_tsquery('english', %(q)s)::text, ' & ', ' | ')::tsquery AS q),
 kept AS (
   SELECT lexeme, ln(1 + (greatest(%(n)s, df) - df + 0.5) / (df + 0.5))::float8 AS idf FROM terms
   WHERE df <= %(max_df)s OR lexeme = (SELECT lexeme FROM terms ORDER BY known DESC, df, lexeme LIMIT 1)
   ORDER BY df LIMIT %(max_terms)s),
 scored AS MATERIALIZED (
   SELECT p.page_id COLLATE "default" AS page_id, sum(kept.idf * p.tf * (%(k1)s + 1)
          / (p.tf + %(k1)s * (1 - %(b)s + %(b)s * p.doc_length / %(avg)s))) AS score
   FROM index_postings p JOIN kept ON p.collection_id = %(cid)s AND p.lexeme = kept.lexeme {allowed}
   GROUP BY p.page_id)  -- postings use the C collation; page ids revert to the default to match other indexes
 SELECT 't' AS kind, best.id, top.page_id, top.score::float8 AS score, best.cos
 FROM (SELECT page_id, score, row_number() OVER (ORDER BY score DESC, page_id) AS rank FROM (
       SELECT s.page_id, s.score FROM scored s ORDER BY s.score DESC, s.page_id LIMIT %(k)s) ranked) top
 LEFT JOIN LATERAL (SELECT c.id, {cos} AS cos FROM {chunks} WHERE c.page_id = top.page_id AND top.rank <= %(best_n)s
                    {uncovered} ORDER BY {order}, c.ordinal LIMIT 1) best ON TRUE)"""
_ALLOWED = ('WHERE p.page_id IN (SELECT f.page_id COLLATE "C" FROM index_pages f '
            "WHERE f.collection_id = %(cid)s AND {})")
# A page the vector list already holds is represented by its chunks there: its nearest chunk is not looked up.
_UNCOVERED = "AND NOT EXISTS (SELECT 1 FROM nearest n WHERE n.page_id = top.page_id)"
# `{order}` is the distance itself (HNSW walk) or the distance plus zero, an expression no index matches, so
# Postgres computes exact distances over the rows the filters select.
_NEAREST = (
    "WITH nearest AS MATERIALIZED (SELECT id, page_id, (1 - (embedding <=> %(vec)s))::float8 AS score "
    "FROM {t} c WHERE {w} ORDER BY {order} LIMIT %(k)s) "
    "SELECT 'v' AS kind, id, page_id, score, NULL::float8 AS cos FROM nearest"
)
_HNSW_ORDER = "embedding <=> %(vec)s"
_EXACT_ORDER = "(embedding <=> %(vec)s) + 0"
# How a page found by full text picks the chunk that represents it (select, order, from): nearest to the query
# vector, or (text mode) best ts_rank against the query's words. Chunk text vectors are not stored (they cost
# as much to write as everything else); the one of each candidate chunk is built here: title A, headings B,
# text C, as the page's own.
_BEST_BY_VECTOR = ("(1 - (c.embedding <=> %(vec)s))::float8", "c.embedding <=> %(vec)s", "{t} c")
_BEST_BY_TEXT = (
    "NULL::float8",
    "ts_rank(%(weights)s::float4[], pt.tsv || setweight(to_tsvector('english', array_to_string(c.heading_path, ' ')), "
    "'B') || setweight(to_tsvector('english', c.text), 'C'), (SELECT q FROM chunk_query), 1) DESC",
    "(SELECT setweight(to_tsvector('english', title), 'A') AS tsv FROM index_pages "
    "WHERE collection_id = %(cid)s AND page_id = top.page_id) pt, {t} c",
)


def _active(filters: SearchFilters | None) -> bool:
    """True when the filters select anything (an empty SearchFilters selects every page)."""
    return filters is not None and any((filters.space, filters.labels, filters.page_ids, filters.updated_after))


def _filter_sql(filters: SearchFilters | None, params: dict[str, Any], alias: str) -> sql.Composable:
    """The WHERE clause of the filters on columns of `alias` (a chunk table or index_pages: same names)."""
    clauses: list[sql.Composable] = [sql.SQL("TRUE")]
    if filters is None:
        return clauses[0]
    column = {name: sql.Identifier(alias, name) for name in ("space", "labels", "page_id", "last_modified")}
    if filters.space:
        params["f_space"] = list(filters.space)
        clauses.append(sql.SQL("{} = ANY(%(f_space)s)").format(column["space"]))
    if filters.labels:
        params["f_labels"] = list(filters.labels)
        clauses.append(sql.SQL("{} && %(f_labels)s::text[]").format(column["labels"]))
    if filters.page_ids:
        params["f_pages"] = [str(p) for p in filters.page_ids]
        clauses.append(sql.SQL("{} = ANY(%(f_pages)s)").format(column["page_id"]))
    if filters.updated_after is not None:
        params["f_after"] = filters.updated_after
        clauses.append(sql.SQL("{} > %(f_after)s").format(column["last_modified"]))
    return sql.SQL(" AND ").join(clauses)


def _term_params(ref: CollectionRef, query: str, fusion: FusionParams) -> dict[str, Any]:
    pages = max(ref.stats_docs or 1, 1)
    return {"q": query, "cid": ref.id, "n": pages, "max_df": max(1, int(pages * fusion.max_df_ratio)),
            "weights": fusion.weights, "k1": fusion.bm25_k1, "b": fusion.bm25_b, "max_terms": fusion.max_terms,
            "avg": max(ref.stats_avg_length or 1.0, 1.0)}


@dataclass
class _Candidates:
    chunks: list[tuple[float, int, str]] = field(default_factory=list)  # (cosine, chunk id, page id)
    # (text score, page id, id of its best chunk, that chunk's cosine). Only the first `best_n` pages get a
    # chunk: a page deeper in the text list and absent from the vector list cannot reach the top_k.
    pages: list[tuple[float, str, int | None, float | None]] = field(default_factory=list)


async def _selective(store: IndexStore, ref: CollectionRef, filters: SearchFilters | None,
                     fusion: FusionParams) -> bool:
    """True when filters keep so few pages that exact distances beat walking the HNSW graph past misses."""
    if filters is None or not _active(filters):  # (None for mypy: _active says so too)
        return False
    if filters.page_ids:
        return True
    params: dict[str, Any] = {"cid": ref.id}
    where = _filter_sql(filters, params, "p")
    statement = sql.SQL("SELECT count(*) FROM index_pages p WHERE p.collection_id = %(cid)s AND {}").format(where)
    async with store.autocommit() as conn:
        row = await (await conn.execute(statement, params)).fetchone()
    return row is not None and row[0] <= fusion.exact_page_ratio * max(ref.stats_docs or 1, 1)


async def _candidates(store: IndexStore, ref: CollectionRef, query: str, vector: np.ndarray | None,
                      mode: SearchMode, depth: int, top_k: int, filters: SearchFilters | None,
                      fusion: FusionParams, *, alone: bool = True) -> _Candidates:
    """Both candidate lists of one collection. `alone`: the only collection searched, so its vector list is not
    cut down against other collections' and a page in it needs no representative chunk from the text side."""
    best_n = top_k if mode == "text" else fusion.best_chunk_factor * top_k
    params: dict[str, Any] = {"k": depth, "best_n": best_n, "vec": vector, **_term_params(ref, query, fusion)}
    parts: list[sql.Composed] = []
    nearest = mode in ("hybrid", "vector") and vector is not None
    exact = False
    if nearest:
        exact = await _selective(store, ref, filters, fusion)
        parts.append(sql.SQL(_NEAREST).format(t=ref.table, w=_filter_sql(filters, params, "c"),
                                               order=sql.SQL(_EXACT_ORDER if exact else _HNSW_ORDER)))
    parallel = exact and fusion.parallel_exact
    if mode in ("hybrid", "text") and query.strip():
        # Filters keep the postings of the pages they select, before scoring (half the work of filtering the
        # scored pages at 100k chunks); without filters the postings alone rank the pages.
        allowed = sql.SQL(_ALLOWED).format(_filter_sql(filters, params, "f")) if _active(filters) else sql.SQL("")
        cos, order, chunks = _BEST_BY_VECTOR if vector is not None else _BEST_BY_TEXT
        parts.append(sql.SQL(_PAGE_TEXT).format(allowed=allowed, cos=sql.SQL(cos), order=sql.SQL(order),
                                                chunks=sql.SQL(chunks).format(t=ref.table),
                                                uncovered=sql.SQL(_UNCOVERED if nearest and alone
                                                                  and not parallel else "")))
    found = _Candidates()
    if not parts:
        return found
    ef_search = sql.SQL("SET hnsw.ef_search = {}").format(sql.Literal(max(fusion.ef_search, depth)))

    async def run(statement: sql.Composed, into: list[Any]) -> None:
        # One round trip: the setting (for this connection, every search sets its own) and the query, pipelined.
        async with store.autocommit() as conn, conn.pipeline():
            await conn.execute(ef_search)
            into += await (await conn.execute(statement, params)).fetchall()

    rows: list[Any] = []
    if parallel and len(parts) == 2:
        try:
            async with anyio.create_task_group() as group:
                for part in parts:
                    group.start_soon(run, part, rows)
        except BaseExceptionGroup as group_error:  # callers handle database errors, not task groups
            raise group_error.exceptions[0] from None
    else:
        await run(sql.SQL(" UNION ALL ").join(parts), rows)
    for kind, chunk_id, page_id, score, cos in rows:
        if kind == "v":
            found.chunks.append((float(score), int(chunk_id), page_id))
        else:
            found.pages.append((float(score or 0.0), page_id, None if chunk_id is None else int(chunk_id),
                                None if cos is None else float(cos)))
    return found


async def _fetch(store: IndexStore, ref: CollectionRef, ids: list[int]) -> dict[int, SearchHit]:
    statement = sql.SQL(
        "SELECT c.id, c.page_id, c.heading_path, c.text, p.title, p.url, p.space, p.labels, p.version, "
        "p.last_modified FROM {t} c JOIN index_pages p ON p.collection_id = %s AND p.page_id = c.page_id "
        "WHERE c.id = ANY(%s)"
    ).format(t=ref.table)
    async with store.autocommit() as conn:
        rows = await (await conn.execute(statement, (ref.id, ids))).fetchall()
    return {
        int(r[0]): SearchHit(page_id=r[1], title=r[4], url=r[5], heading_path=tuple(r[2]), text=r[3], score=0.0,
                             space=r[6], labels=tuple(r[7]), version=int(r[8]), last_modified=r[9],
                             collection=ref.name)
        for r in rows
    }


async def _targets(store: IndexStore, collection: str | None, vector: np.ndarray | None,
                   embedder: str | None, mode: SearchMode) -> list[CollectionRef]:
    if collection is not None:
        ref = await store.require_collection(collection)
        if mode != "text":
            if embedder is not None and ref.embedder != embedder:
                raise EmbedderMismatch(
                    f"collection '{collection}' was built with embedder {ref.embedder}, but the query uses "
                    f"{embedder}; search it with the same embedder or re-index it"
                )
            if vector is not None and len(vector) != ref.dimension:
                raise EmbedderMismatch(
                    f"collection '{collection}' holds {ref.dimension}-dimensional vectors, the query vector has "
                    f"{len(vector)}"
                )
        return [ref]
    refs = await store.collection_refs()
    if mode == "text":
        return refs
    if embedder is not None:
        return [r for r in refs if r.embedder == embedder]
    dim = len(vector) if vector is not None else None
    refs = [r for r in refs if r.dimension == dim]
    if len({r.embedder for r in refs}) > 1:
        raise EmbedderMismatch("collections built with different embedders share this dimension; "
                               "name the collection or pass the query's embedder")
    return refs


async def hybrid_search(store: IndexStore, collection: str | None, query: str, query_vector: np.ndarray | None,
                        *, top_k: int = 10, filters: SearchFilters | None = None, mode: SearchMode = "hybrid",
                        one_per_page: bool = False, cut_off: float | None = None, embedder: str | None = None,
                        fusion: FusionParams = DEFAULT_FUSION) -> list[SearchHit]:
    """The best `top_k` chunks for `query`; `collection=None` searches every collection of the query's embedder.

    `score` is the cosine similarity (vector mode), the page's text score mapped to 0..1 (text mode: one
    chunk per page) or the fused score in 0..1 (hybrid); `cut_off` drops hits scoring below it.
    """
    import numpy as np

    if top_k < 1:
        raise IndexStoreError("top_k must be at least 1")
    vector = None if query_vector is None else np.asarray(query_vector, dtype=np.float32).reshape(-1)
    if mode != "text" and vector is None:
        raise IndexStoreError(f"{mode} search needs a query vector")
    refs = await _targets(store, collection, vector, embedder, mode)
    if mode != "vector" and any(ref.stats_docs is None for ref in refs):
        # Collections never finished by an indexing run get their text statistics now, once.
        for ref in refs:
            if ref.stats_docs is None:
                await store.refresh_text_stats(ref)
        refreshed = {r.id: r for r in await store.collection_refs()}
        refs = [refreshed.get(ref.id, ref) for ref in refs]
    depth = max(fusion.min_depth, fusion.depth_factor * top_k)
    found = {ref.id: await _candidates(store, ref, query, vector, mode, depth, top_k, filters, fusion,
                                       alone=len(refs) == 1) for ref in refs}
    by_ref = {ref.id: ref for ref in refs}
    # Across collections of one embedder raw scores are comparable: keep the global top `depth` of each list.
    chunks = sorted(((s, rid, cid, pid) for rid, f in found.items() for s, cid, pid in f.chunks), reverse=True)[:depth]
    pages = sorted(((s, rid, pid, cid, cos) for rid, f in found.items() for s, pid, cid, cos in f.pages),
                   key=lambda item: -item[0])[:depth]
    scored = _score(chunks, pages, mode, fusion)
    # Rounded before cut_off so a caller re-using a returned score as cut_off gets that hit back.
    ranked = sorted(((key, round(float(score), 6)) for key, score in scored.items()), key=lambda item: -item[1])
    if cut_off is not None:
        ranked = [(key, score) for key, score in ranked if score >= cut_off]
    if one_per_page:  # a page indexed in several collections is still one page
        best: dict[str, tuple[tuple[int, int, str], float]] = {}
        for key, score in ranked:
            best.setdefault(key[2], (key, score))  # ranked is best first
        ranked = list(best.values())
    # Collections overlapping on a page hold the same chunks: fetch enough to fill top_k with distinct ones.
    ranked = ranked[:top_k * len(refs)]
    fetched: dict[tuple[int, int], SearchHit] = {}
    for rid in {key[0] for key, _ in ranked}:
        rows = await _fetch(store, by_ref[rid], [key[1] for key, _ in ranked if key[0] == rid])
        fetched.update({(rid, cid): hit for cid, hit in rows.items()})
    distinct: set[tuple[str, str]] = set()
    worded = {(rid, pid) for _, rid, pid, _, _ in pages}
    kept: list[tuple[int, SearchHit]] = []
    for (rid, cid, pid), score in ranked:
        hit = fetched.get((rid, cid))
        # A page replaced between the two queries simply drops out.
        if hit is not None and (hit.page_id, hit.text) not in distinct and len(kept) < top_k:
            distinct.add((hit.page_id, hit.text))
            hit.score, hit.text_match = score, mode == "text" or (rid, pid) in worded
            kept.append((rid, hit))
    if mode == "hybrid" and kept and not any(hit.text_match for _, hit in kept):
        await _mark_worded(store, query, kept)
    return [hit for _, hit in kept]


# The pages among some that hold any of the query's words, from the postings (the BM25 list skips common words);
# `has_words` is false for a query without a word full text indexes (only stopwords, say).
_WORDED = ("SELECT DISTINCT p.page_id COLLATE \"default\", cardinality(q.lexemes) > 0 FROM (SELECT "
           "tsvector_to_array(to_tsvector('english', %(q)s)) AS lexemes) q LEFT JOIN index_postings p "
           "ON p.collection_id = %(cid)s AND p.lexeme = ANY(q.lexemes) AND p.page_id = ANY(%(pages)s)")


async def _mark_worded(store: IndexStore, query: str, kept: list[tuple[int, SearchHit]]) -> None:
    """Set `text_match` from the postings when the BM25 list matched none of the hits; a query without an
    indexable word marks every hit (there is nothing to tell about its words)."""
    async with store.autocommit() as conn:
        for rid in {rid for rid, _ in kept}:
            pages = sorted({hit.page_id for r, hit in kept if r == rid})
            rows = await (await conn.execute(_WORDED, {"q": query, "cid": rid, "pages": pages})).fetchall()
            holding = {row[0] for row in rows if row[0] is not None}
            for r, hit in kept:
                if r == rid:
                    hit.text_match = hit.page_id in holding or not (rows and rows[0][1])


def _score(chunks: list[tuple[float, int, int, str]],
           pages: list[tuple[float, int, str, int | None, float | None]],
           mode: SearchMode, fusion: FusionParams) -> dict[tuple[int, int, str], float]:
    """Score candidate chunks, keyed (collection id, chunk id, page id)."""
    if mode == "vector":
        return {(rid, cid, pid): cos for cos, rid, cid, pid in chunks}
    if mode == "text":
        return {(rid, cid, pid): score / (1 + score) for score, rid, pid, cid, _ in pages if cid is not None}
    # Pages found by full text only are represented by their best chunk.
    covered = {(rid, pid) for _, rid, _, pid in chunks}
    extra = [(cos or 0.0, rid, cid, pid) for _, rid, pid, cid, cos in pages
             if cid is not None and (rid, pid) not in covered]
    text_max = max((score for score, *_ in pages), default=0.0) or 1.0
    text = {(rid, pid): score / text_max for score, rid, pid, _, _ in pages}
    top = chunks[0][0] if chunks else 1.0
    bottom = chunks[-1][0] if len(chunks) > 1 else top - 1.0
    span = (top - bottom) or 1.0
    alpha = fusion.alpha
    return {
        (rid, cid, pid): alpha * max(0.0, (cos - bottom) / span) + (1 - alpha) * text.get((rid, pid), 0.0)
        for cos, rid, cid, pid in chunks + extra
    }
