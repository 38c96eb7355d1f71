"""Hybrid retrieval over the index: vector (HNSW, cosine) + full text (weighted tsvector), fused by rank.

Per collection, one SQL round trip returns both candidate lists (a few × top_k each, filters applied inside
both scans); a second fetches the winners' text and page metadata. Fusion is weighted reciprocal rank, chosen
by measurement over the handbook questions (see `benchmarks/relevance.py`): raw cosine and ts_rank scores live
on unrelated scales, ranks do not. Scores are scaled so 1.0 means "first in both lists".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from psycopg import sql

from confluence_mcp.errors import EmbedderMismatch, IndexStoreError

if TYPE_CHECKING:
    import numpy as np

    from confluence_mcp.index.store import CollectionRef, IndexStore

__all__ = ["FusionParams", "SearchFilters", "SearchHit", "SearchMode", "hybrid_search", "text_query_sql"]

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


@dataclass(frozen=True)
class FusionParams:
    """Knobs of the fusion, measured by the relevance benchmark (defaults are the chosen ones)."""

    rrf_k: float = 60.0
    vector_weight: float = 1.0
    text_weight: float = 1.0
    depth_factor: int = 5  # candidates per list = max(min_depth, depth_factor * top_k)
    min_depth: int = 40
    ef_search: int = 100
    max_df_ratio: float = 0.25  # query words in more chunks than this are ignored (if rarer words remain)
    extra: dict[str, Any] = field(default_factory=dict)


DEFAULT_FUSION = FusionParams()

# Full-text candidates: chunks matching any of the query's lexemes, scored by sum(idf(word) * ts_rank(word)).
# ts_rank alone has no notion of how rare a word is, so "policy" would weigh as much as "yubikey"; the IDF
# comes from per-collection document frequencies (`index_lexemes`). Words found in most chunks are dropped,
# which also keeps the candidate set small. Weights {D, C, B, A}: body C, headings B, title A.
_TSQUERY = "replace(plainto_tsquery('english', %(q)s)::text, ' & ', ' | ')::tsquery"
_TEXT_CANDIDATES = """
(WITH q AS (SELECT DISTINCT unnest(tsvector_to_array(to_tsvector('english', %(q)s))) AS lexeme),
 terms AS (
   SELECT q.lexeme, coalesce(s.df, 1) AS df,
          ln(1 + (%(n)s - coalesce(s.df, 1) + 0.5) / (coalesce(s.df, 1) + 0.5)) AS idf
   FROM q LEFT JOIN index_lexemes s ON s.collection_id = %(cid)s AND s.lexeme = q.lexeme
   WHERE position(chr(92) IN q.lexeme) = 0),
 kept AS (SELECT * FROM terms WHERE df <= %(max_df)s OR NOT EXISTS (SELECT 1 FROM terms WHERE df <= %(max_df)s)),
 tsq AS (SELECT string_agg(quote_literal(lexeme), ' | ')::tsquery AS q FROM kept)
 SELECT 't' AS kind, c.id,
        (SELECT sum(k.idf * ts_rank('{{0.1, 0.2, 0.4, 1.0}}', c.tsv, quote_literal(k.lexeme)::tsquery, 1))
         FROM kept k) AS score
 FROM {t} c, tsq WHERE c.tsv @@ tsq.q AND {w} ORDER BY score DESC, c.id LIMIT %(k)s)
"""


def text_query_sql() -> str:
    """The SQL expression turning a question into the OR-tsquery used for full-text candidates."""
    return _TSQUERY


def _filter_sql(filters: SearchFilters | None, params: dict[str, Any]) -> sql.Composable:
    clauses: list[sql.Composable] = [sql.SQL("TRUE")]
    if filters is None:
        return clauses[0]
    if filters.space:
        params["f_space"] = list(filters.space)
        clauses.append(sql.SQL("space = ANY(%(f_space)s)"))
    if filters.labels:
        params["f_labels"] = list(filters.labels)
        clauses.append(sql.SQL("labels && %(f_labels)s::text[]"))
    if filters.page_ids:
        params["f_pages"] = [str(p) for p in filters.page_ids]
        clauses.append(sql.SQL("page_id = ANY(%(f_pages)s)"))
    if filters.updated_after is not None:
        params["f_after"] = filters.updated_after
        clauses.append(sql.SQL("last_modified > %(f_after)s"))
    return sql.SQL(" AND ").join(clauses)


async def _candidates(store: IndexStore, ref: CollectionRef, query: str, vector: np.ndarray | None,
                      mode: SearchMode, depth: int, filters: SearchFilters | None,
                      fusion: FusionParams) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    """(vector list, text list) of (chunk id, raw score), best first."""
    params: dict[str, Any] = {"q": query, "k": depth, "vec": vector}
    where = _filter_sql(filters, params)
    parts: list[sql.Composable] = []
    if mode in ("hybrid", "vector") and vector is not None:
        parts.append(sql.SQL(
            "(SELECT 'v' AS kind, id, 1 - (embedding <=> %(vec)s) AS score FROM {t} WHERE {w} "
            "ORDER BY embedding <=> %(vec)s LIMIT %(k)s)"
        ).format(t=ref.table, w=where))
    if mode in ("hybrid", "text") and query.strip():
        chunks = max(ref.stats_chunks or 1, 1)
        params.update(cid=ref.id, n=chunks, max_df=max(1, int(chunks * fusion.max_df_ratio)))
        parts.append(sql.SQL(_TEXT_CANDIDATES).format(t=ref.table, w=where))
    if not parts:
        return [], []
    statement = sql.SQL(" UNION ALL ").join(parts)
    async with store.pool.connection() as conn, conn.transaction():
        await conn.execute(sql.SQL("SET LOCAL hnsw.ef_search = {}").format(sql.Literal(max(fusion.ef_search, depth))))
        rows = await (await conn.execute(statement, params)).fetchall()
    vector_hits = [(int(r[1]), float(r[2])) for r in rows if r[0] == "v"]
    text_hits = [(int(r[1]), float(r[2])) for r in rows if r[0] == "t"]
    return vector_hits, text_hits


async def _fetch(store: IndexStore, ref: CollectionRef, ids: list[int]) -> dict[int, SearchHit]:
    statement = sql.SQL(
        "SELECT c.id, c.page_id, c.heading_path, c.text, p.title, p.url, p.space, p.labels, p.version, "
        "p.last_modified FROM {t} c JOIN index_pages p ON p.collection_id = %s AND p.page_id = c.page_id "
        "WHERE c.id = ANY(%s)"
    ).format(t=ref.table)
    async with store.pool.connection() as conn:
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

    `score` is cosine similarity (vector mode), ts_rank mapped to 0..1 (text mode) or the fused rank score
    scaled to 0..1 (hybrid); `cut_off` drops hits scoring below it.
    """
    import numpy as np

    if top_k < 1:
        raise IndexStoreError("top_k must be at least 1")
    vector = None if query_vector is None else np.asarray(query_vector, dtype=np.float32).reshape(-1)
    if mode != "text" and vector is None:
        raise IndexStoreError(f"{mode} search needs a query vector")
    refs = await _targets(store, collection, vector, embedder, mode)
    if mode != "vector" and any(ref.stats_chunks is None for ref in refs):
        # Never-touched collections (e.g. a run that crashed before its end) get word statistics now, once.
        for ref in refs:
            if ref.stats_chunks is None:
                await store.refresh_lexeme_stats(ref)
        refreshed = {r.id: r for r in await store.collection_refs()}
        refs = [refreshed.get(ref.id, ref) for ref in refs]
    depth = max(fusion.min_depth, fusion.depth_factor * top_k * (2 if one_per_page else 1))
    vector_lists: list[tuple[float, CollectionRef, int]] = []
    text_lists: list[tuple[float, CollectionRef, int]] = []
    for ref in refs:
        vec_hits, text_hits = await _candidates(store, ref, query, vector, mode, depth, filters, fusion)
        vector_lists += [(score, ref, cid) for cid, score in vec_hits]
        text_lists += [(score, ref, cid) for cid, score in text_hits]
    # Across collections of one embedder raw scores are comparable, so merging by score gives one ranking.
    vector_lists.sort(key=lambda item: -item[0])
    text_lists.sort(key=lambda item: -item[0])
    scored = _fuse(vector_lists[:depth], text_lists[:depth], mode, fusion)
    ranked = sorted(scored.items(), key=lambda item: -item[1])
    hits: list[SearchHit] = []
    fetched: dict[tuple[int, int], SearchHit] = {}
    by_ref = {ref.id: ref for ref in refs}
    seen_pages: set[tuple[int, str]] = set()
    # Fetch in slices so one_per_page can skip duplicates without reading every candidate's text.
    position = 0
    while len(hits) < top_k and position < len(ranked):
        window = ranked[position:position + top_k * 2]
        position += len(window)
        for ref_id in {key[0] for key, _ in window}:
            ids = [key[1] for key, _ in window if key[0] == ref_id]
            fetched.update({(ref_id, cid): hit for cid, hit in (await _fetch(store, by_ref[ref_id], ids)).items()})
        for key, score in window:
            hit = fetched.get(key)
            if hit is None or (cut_off is not None and score < cut_off):
                continue
            page_key = (key[0], hit.page_id)
            if one_per_page and page_key in seen_pages:
                continue
            seen_pages.add(page_key)
            hit.score = round(float(score), 6)
            hits.append(hit)
            if len(hits) == top_k:
                break
    return hits


def _fuse(vector_list: list[tuple[float, CollectionRef, int]], text_list: list[tuple[float, CollectionRef, int]],
          mode: SearchMode, fusion: FusionParams) -> dict[tuple[int, int], float]:
    if mode == "vector":
        return {(ref.id, cid): score for score, ref, cid in vector_list}
    if mode == "text":
        return {(ref.id, cid): score / (1 + score) for score, ref, cid in text_list}
    k = fusion.rrf_k
    best = (fusion.vector_weight + fusion.text_weight) / (k + 1)
    scores: dict[tuple[int, int], float] = {}
    for weight, ranked in ((fusion.vector_weight, vector_list), (fusion.text_weight, text_list)):
        for rank, (_, ref, cid) in enumerate(ranked, start=1):
            scores[(ref.id, cid)] = scores.get((ref.id, cid), 0.0) + weight / (k + rank)
    return {key: value / best for key, value in scores.items()}
