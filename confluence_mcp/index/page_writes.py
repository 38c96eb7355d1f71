"""One page's write: the SQL that clears and rewrites a page (row, text vector, BM25 postings, chunks) and its
parameters. `IndexStore.replace_pages` runs it, one transaction per page."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from confluence_mcp.errors import EmbedderMismatch, IndexStoreError

if TYPE_CHECKING:
    import numpy as np

    from confluence_mcp.index.chunking import Chunk
    from confluence_mcp.index.store import CollectionRef, PageRecord

__all__ = ["CLEAR_PAGE", "DELETE_POSTINGS", "TSV_SQL", "WRITE_PAGE", "page_params"]

# The weighted text vector of a page; parameters: title, heading text, body.
TSV_SQL = (
    "setweight(to_tsvector('english', %s), 'A') || setweight(to_tsvector('english', %s), 'B') || "
    "setweight(to_tsvector('english', %s), 'C')"
)

# A page's write, one statement: upsert the page row with its weighted text vector, derive the page's postings
# from that vector (term frequency weighted by field: title 3, headings 2, body 1) without reading the row
# back, and insert the chunks from parallel arrays (one statement per page rather than one per chunk: each
# statement is a message the server wakes up for). Heading paths travel as array literals (they are ragged).
WRITE_PAGE = (
    "WITH page AS (INSERT INTO index_pages (collection_id, page_id, version, title, space, url, labels, "
    "last_modified, source, indexed, text_length, attachments, chunking, comments, site, tsv) VALUES (%(cid)s, "
    "%(page)s, %(version)s, %(title)s, %(space)s, %(url)s, %(labels)s, %(modified)s, %(source)s, now(), %(length)s, "
    "%(attachments)s, %(chunking)s, %(comments)s, %(site)s, "
    + TSV_SQL % ("%(title)s", "%(headings)s", "%(body)s") + ") "
    "ON CONFLICT (collection_id, page_id) DO UPDATE SET version = EXCLUDED.version, "
    "title = EXCLUDED.title, space = EXCLUDED.space, url = EXCLUDED.url, labels = EXCLUDED.labels, "
    "last_modified = EXCLUDED.last_modified, source = EXCLUDED.source, indexed = now(), "
    "attachments = EXCLUDED.attachments, chunking = EXCLUDED.chunking, comments = EXCLUDED.comments, "
    "site = EXCLUDED.site, "
    "text_length = EXCLUDED.text_length, tsv = EXCLUDED.tsv RETURNING collection_id, page_id, text_length, tsv), "
    "postings AS (INSERT INTO index_postings (collection_id, lexeme, page_id, tf, doc_length) "
    "SELECT page.collection_id, u.lexeme, page.page_id, cardinality(u.positions) "
    "+ 2 * cardinality(array_positions(u.weights, 'A')) + cardinality(array_positions(u.weights, 'B')), "
    "page.text_length FROM page, unnest(page.tsv) AS u) "
    "INSERT INTO {chunks} (page_id, ordinal, heading_path, text, space, labels, last_modified, embedding) "
    "SELECT %(page)s, c.ordinal, c.path::text[], c.text, %(space)s, %(labels)s, %(modified)s, c.embedding "
    "FROM unnest(%(ordinals)b::int[], %(paths)b::text[], %(texts)b::text[], %(vectors)b::vector[]) "
    "AS c(ordinal, path, text, embedding)"
)

# A page's postings are found through the words of its stored text vector (primary-key lookups), which
# spares a second index on the postings table. Removing pages: their postings (the caller deletes the rows).
DELETE_POSTINGS = (
    "DELETE FROM index_postings p USING (SELECT page_id, unnest(tsvector_to_array(tsv)) AS lexeme "
    "FROM index_pages WHERE collection_id = %(cid)s AND page_id = ANY(%(pages)s)) w "
    "WHERE p.collection_id = %(cid)s AND p.lexeme = w.lexeme AND p.page_id = w.page_id"
)
# Before a page's write: its chunks and its postings. Kept apart from DELETE_POSTINGS: for one page this form
# is an index lookup per word, where the join above, planned without knowing the page is new, made a full index
# of the handbook 1.7x slower.
CLEAR_PAGE = (
    "WITH chunks AS (DELETE FROM {chunks} WHERE page_id = %(page)s) "
    "DELETE FROM index_postings WHERE collection_id = %(cid)s AND page_id = %(page)s AND lexeme = ANY(coalesce(("
    "SELECT tsvector_to_array(tsv) FROM index_pages WHERE collection_id = %(cid)s AND page_id = %(page)s), '{{}}'))"
)


def page_params(ref: CollectionRef, page: PageRecord, chunks: list[Chunk], vectors: np.ndarray) -> dict[str, Any]:
    """The parameters of one page's `CLEAR_PAGE` and `WRITE_PAGE`."""
    if len(chunks) != len(vectors):
        raise IndexStoreError(f"page {page.page_id}: {len(chunks)} chunks but {len(vectors)} vectors")
    if len(vectors) and vectors.shape[1] != ref.dimension:
        raise EmbedderMismatch(
            f"collection '{ref.name}' stores {ref.dimension}-dimensional vectors, got {vectors.shape[1]}"
        )
    # Postgres text cannot hold NUL characters (text decoded from a UTF-16 attachment, say): drop them here, where
    # a refused parameter would otherwise fail the page after its old chunks were queued for deletion.
    if "\x00" in page.title or any("\x00" in c.text or "\x00" in "".join(c.heading_path) for c in chunks):
        chunks = [replace(c, text=_no_nul(c.text), heading_path=tuple(map(_no_nul, c.heading_path))) for c in chunks]
        page = replace(page, title=_no_nul(page.title))
    # The page's own text vector: every distinct heading, and the chunk texts (overlaps repeat a few words).
    headings = " ".join(dict.fromkeys(h for chunk in chunks for h in chunk.heading_path))
    body = "\n".join(chunk.text for chunk in chunks)
    return {
        "cid": ref.id, "page": page.page_id, "version": page.version, "title": page.title, "space": page.space,
        "url": page.url, "labels": list(page.labels), "modified": page.last_modified, "source": page.source,
        "attachments": page.attachments, "chunking": page.chunking, "comments": page.comments,
        "site": page.site,
        # BM25 page length in words, weighted like the postings' term frequencies (title 3, headings 2).
        "length": 3 * len(page.title.split()) + 2 * len(headings.split()) + len(body.split()),
        "headings": headings, "body": body, "ordinals": [chunk.ordinal for chunk in chunks],
        "paths": [_array_literal(chunk.heading_path) for chunk in chunks], "texts": [c.text for c in chunks],
        "vectors": list(vectors),  # binary (%b): dumping 256 floats as text costs more than the insert
    }


def _no_nul(text: str) -> str:
    return text.replace("\x00", "")


def _array_literal(items: tuple[str, ...]) -> str:
    """A Postgres text[] literal, every element quoted (so empty strings and "NULL" stay text)."""
    return "{" + ",".join('"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"' for item in items) + "}"
