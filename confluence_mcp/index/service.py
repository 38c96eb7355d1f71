"""The index service a toolkit uses: one store (Postgres pool) and its embedder, created on first use.

A server that never touches the index pays nothing: no model load, no Postgres start. Toolkits whose index settings
are equal share one store per process (and per event loop, since a psycopg pool belongs to the loop it was opened
on). Embedding runs in worker threads so the event loop keeps serving other requests.
"""

from __future__ import annotations

import asyncio
import re
import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

import anyio
from pydantic import BaseModel, Field

from confluence_mcp.config import IndexSettings, Settings
from confluence_mcp.errors import BadRequest, EmbedderMismatch, IndexStoreError
from confluence_mcp.index.llm import PromptChunk

if TYPE_CHECKING:
    import numpy as np

    from confluence_mcp.index.embedders import Embedder
    from confluence_mcp.index.store import IndexStore
    from confluence_mcp.tools.context import KitRuntime

__all__ = [
    "Citation",
    "IndexHit",
    "IndexService",
    "SearchOutcome",
    "SearchRequest",
    "clean_query",
    "close_shared_stores",
    "fuse",
    "get_index_service",
    "hits_for_prompt",
    "open_service",
    "run_index_search",
    "search_collection",
    "shutdown_index",
]

_STORES: dict[tuple[Any, ...], tuple[asyncio.AbstractEventLoop, IndexStore]] = {}
_STORES_LOCK = threading.Lock()
_OPENING: dict[tuple[Any, ...], tuple[asyncio.AbstractEventLoop, asyncio.Lock]] = {}


class IndexService:
    """The store plus the configured embedder; the index tools and the sync code work through it."""

    def __init__(self, settings: IndexSettings, store: IndexStore) -> None:
        self.settings = settings
        self.store = store
        self._embedder: Embedder | None = None
        self._embedder_lock = asyncio.Lock()

    async def embedder(self) -> Embedder:
        """The configured embedder, loaded once (in a worker thread: loading reads model files)."""
        if self._embedder is None:
            async with self._embedder_lock:
                if self._embedder is None:
                    from confluence_mcp.index.embedders import load_embedder

                    self._embedder = await anyio.to_thread.run_sync(load_embedder, self.settings)
        return self._embedder

    async def embed(self, texts: list[str]) -> np.ndarray:
        """Vectors for `texts`, computed in worker threads in the embedder's batch size."""
        from confluence_mcp.index.embedders import embed_texts

        return await embed_texts(await self.embedder(), texts)

    async def ensure_collection(self, collection: str) -> None:
        """Create the collection for the configured embedder; EmbedderMismatch if it was built with another."""
        embedder = await self.embedder()
        await self.store.ensure_collection(collection, embedder.model_id, embedder.dimensions)

    async def drop_collection(self, collection: str) -> bool:
        return bool(await self.store.drop_collection(collection))

    async def collection_names(self) -> list[str]:
        # From the collections' rows alone: list_collections also counts every collection's pages and chunks.
        return [ref.name for ref in await self.store.collection_refs()]

    async def require_collection(self, collection: str) -> Any:
        """The collection's reference; IndexStoreError listing the existing ones when it does not exist,
        EmbedderMismatch when it was built with another embedder than the configured one."""
        collections = {ref.name: ref for ref in await self.store.collection_refs()}
        info = collections.get(collection)
        if info is None:
            existing = ", ".join(sorted(collections)) or "none yet"
            raise IndexStoreError(
                f"No index collection named {collection!r}. Existing collections: {existing}. "
                "Build one with index_data(collection=..., space=...)."
            )
        embedder = await self.embedder()
        if info.embedder != embedder.model_id:
            raise EmbedderMismatch(
                f"Collection {collection!r} was built with embedder {info.embedder} but this server is configured "
                f"with {embedder.model_id}; query it with the same [index] embedder, or rebuild it with "
                "index_data(..., clean=true)."
            )
        return info


def _store_key(settings: IndexSettings) -> tuple[Any, ...]:
    url = settings.database_url.get_secret_value() if settings.database_url else None
    return (url, str(settings.data_dir or ""), id(asyncio.get_running_loop()))


async def _shared_store(settings: IndexSettings) -> IndexStore:
    """One open store per (database, event loop) in this process."""
    from confluence_mcp.index.store import IndexStore

    key = _store_key(settings)
    loop = asyncio.get_running_loop()
    with _STORES_LOCK:
        cached = _STORES.get(key)
        if cached is not None and cached[0] is not loop:  # a dead loop's id reused: its pool is unusable
            del _STORES[key]
        opening = _OPENING.setdefault(key, (loop, asyncio.Lock()))
        if opening[0] is not loop:
            opening = _OPENING[key] = (loop, asyncio.Lock())
    async with opening[1]:
        entry = _STORES.get(key)
        if entry is None:
            entry = (loop, await IndexStore.open(settings))
            with _STORES_LOCK:
                _STORES[key] = entry
        return entry[1]


async def open_service(settings: Settings) -> IndexService:
    """An index service for these settings (the store shared with other services on the same database)."""
    return IndexService(settings.index, await _shared_store(settings.index))


async def get_index_service(kit: KitRuntime) -> IndexService:
    """The toolkit's index service, created on first use and kept in `kit.index`."""
    if kit.index is None:
        lock = kit.extras.setdefault("index_lock", asyncio.Lock())
        async with lock:
            if kit.index is None:
                kit.index = await open_service(kit.settings)
    service: IndexService = kit.index
    return service


async def close_shared_stores() -> None:
    """Close the stores opened on the running event loop (server shutdown, end of a CLI run or a test)."""
    loop = asyncio.get_running_loop()
    with _STORES_LOCK:
        mine = [key for key, (owner, _) in _STORES.items() if owner is loop]
        stores = [_STORES.pop(key)[1] for key in mine]
        for key in mine:
            _OPENING.pop(key, None)
    for store in stores:
        await store.close()


async def shutdown_index(settings: Settings) -> None:
    """Server shutdown: close this loop's stores and release the embedded Postgres if this process started it."""
    await close_shared_stores()
    if settings.index.database_url is None:
        from confluence_mcp.index.pg import embedded_server

        data_dir = settings.index.data_dir / "pg" if settings.index.data_dir else None
        server = embedded_server(data_dir)
        if server.running:
            await anyio.to_thread.run_sync(server.stop)


# -- searching ---------------------------------------------------------------------------------------------------

_RRF_K = 60


class IndexHit(BaseModel):
    """One retrieved chunk."""

    page_id: str
    title: str
    url: str | None = None
    heading_path: str = Field("", description="Headings above the chunk, joined with ' › '.")
    text: str
    score: float


class Citation(BaseModel):
    """A source of a summary answer: `number` is the [n] used in the answer text."""

    number: int
    page_id: str
    title: str
    url: str | None = None
    heading_path: str = ""

    @classmethod
    def of(cls, hit: IndexHit, number: int) -> Citation:
        return cls(number=number, page_id=hit.page_id, title=hit.title, url=hit.url, heading_path=hit.heading_path)


class SearchRequest(BaseModel):
    """A search over one collection with its filters (the tool arguments, validated)."""

    query: str
    collection: str | None = None
    top_k: int = 10
    cut_off: float | None = None
    space: str | None = None
    labels: list[str] = Field(default_factory=list)
    page_ids: list[str] = Field(default_factory=list)
    updated_after: datetime | None = None
    one_per_page: bool = False
    allowed_spaces: list[str] = Field(default_factory=list)

    def describe(self, collection: str) -> str:
        filters = [f"space {self.space}" if self.space else "",
                   f"labels {', '.join(self.labels)}" if self.labels else "",
                   f"page ids {', '.join(self.page_ids)}" if self.page_ids else "",
                   f"updated after {self.updated_after.isoformat()}" if self.updated_after else "",
                   f"score >= {self.cut_off}" if self.cut_off is not None else ""]
        used = "; ".join(f for f in filters if f)
        return f"collection {collection!r}" + (f" with filters: {used}" if used else " without filters")

    def empty_note(self, collection: str, hits: list[IndexHit]) -> str | None:
        if hits:
            return None
        return (f"No chunks matched {self.query!r} in {self.describe(collection)}. Try other words, drop filters "
                "or the cut-off, or check with list_collections that the collection holds the pages you expect.")


async def _resolve_collection(service: IndexService, name: str | None) -> str | None:
    """The collection to search: the named one, the only one, or None for every collection of this embedder."""
    if name:
        await service.require_collection(name)
        return name
    refs = await service.store.collection_refs()
    if len(refs) == 1:
        await service.require_collection(refs[0].name)
        return refs[0].name
    if not refs:
        raise IndexStoreError("There are no index collections yet: build one with index_data(collection=..., "
                              "space=...).")
    embedder = (await service.embedder()).model_id
    if not any(ref.embedder == embedder for ref in refs):
        built = "; ".join(f"{ref.name} ({ref.embedder})" for ref in refs)
        raise EmbedderMismatch(
            f"No index collection was built with this server's embedder {embedder}, so there is nothing to search. "
            f"Existing collections: {built}. Name one built with {embedder}, build one with "
            "index_data(collection=..., space=...), or switch [index] embedder back."
        )
    return None


async def run_index_search(service: IndexService, request: SearchRequest) -> tuple[str, list[IndexHit]]:
    """Hybrid search of one collection; returns the collection searched and its hits."""
    outcome = await search_collection(service, request)
    return outcome.collection, outcome.hits


class SearchOutcome(NamedTuple):
    collection: str  # the one searched, or every one of this embedder, comma-separated
    hits: list[IndexHit]
    note: str | None  # what a caller should know about these hits


async def search_collection(service: IndexService, request: SearchRequest) -> SearchOutcome:
    """Hybrid search with a note: nothing matched (what was searched), or no hit holds any of the query's words
    (the nearest passages by meaning, which may be unrelated: vector scores are relative to the query)."""
    from confluence_mcp.index.search import SearchFilters, hybrid_search

    request = request.model_copy(update={"query": clean_query(request.query)})
    collection = await _resolve_collection(service, request.collection)
    vector = (await service.embed([request.query]))[0]
    spaces = [request.space] if request.space else list(request.allowed_spaces)
    if (collection is not None and not request.space and spaces
            and await service.store.collection_spaces(collection) <= set(spaces)):
        # Every indexed page is in an allowed space: the policy filter would select everything, only slower.
        spaces = []
    filters = SearchFilters(space=spaces or None, labels=list(request.labels) or None,
                            page_ids=list(request.page_ids) or None, updated_after=request.updated_after)
    embedder = (await service.embedder()).model_id
    found = await hybrid_search(service.store, collection, request.query, vector, top_k=request.top_k,
                                filters=filters, one_per_page=request.one_per_page, cut_off=request.cut_off,
                                embedder=embedder)
    if collection is None:  # searched every collection built with this embedder
        searched = sorted({ref.name for ref in await service.store.collection_refs() if ref.embedder == embedder})
        collection = ", ".join(searched)
    hits = [_hit(item) for item in found]
    note = request.empty_note(collection, hits)
    if found and not any(item.text_match for item in found) and not _holds_words(request.query, hits):
        note = ("None of the query's words occur in these pages: they are the passages nearest in meaning and may "
                "be unrelated. Check their text, or rephrase with words the pages would use.")
    return SearchOutcome(collection, hits, note)


def _holds_words(query: str, hits: list[IndexHit]) -> bool:
    """True when a hit's title or text holds one of the query's words as written: full text splits Chinese,
    Japanese or Thai only at spaces and punctuation, so it misses words the pages do hold."""
    text = "\n".join(f"{hit.title}\n{hit.text}" for hit in hits).casefold()
    for word in re.findall(r"\w{2,}", query.casefold()):
        if (re.search(rf"\b{re.escape(word)}\b", text) if word.isascii() else word in text):
            return True
    return False


def clean_query(query: str) -> str:
    """The query without NUL and other control characters (Postgres text cannot hold NUL); BadRequest when
    nothing is left to search for."""
    cleaned = "".join(ch if ch.isprintable() or ch in "\t\n" else " " for ch in query).strip()
    if not cleaned:
        raise BadRequest("The query is empty: give the words or question to search for.")
    return cleaned


def _hit(item: Any) -> IndexHit:
    path = item.heading_path
    heading = " › ".join(path) if isinstance(path, list | tuple) else str(path or "")
    return IndexHit(page_id=str(item.page_id), title=str(item.title), url=item.url or None, heading_path=heading,
                    text=str(item.text), score=round(float(item.score), 6))


def fuse(rankings: list[list[IndexHit]], top_k: int, *, one_per_page: bool = False) -> list[IndexHit]:
    """The union of several hit lists (same chunk = same page, heading path and text), each chunk scored by its
    best score in any list: the lists share search_index's 0..1 scale, so scores and `cut_off` keep their meaning.
    Equal scores go to the chunk ranked higher across the lists (reciprocal rank)."""
    best: dict[tuple[str, str, str], IndexHit] = {}
    ranks: dict[tuple[str, str, str], float] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking):
            key = (hit.page_id, hit.heading_path, hit.text)
            ranks[key] = ranks.get(key, 0.0) + 1.0 / (_RRF_K + rank + 1)
            if key not in best or hit.score > best[key].score:
                best[key] = hit
    ordered = sorted(best, key=lambda k: (-best[k].score, -ranks[k]))
    if one_per_page:
        firsts: dict[str, tuple[str, str, str]] = {}
        for key in ordered:
            firsts.setdefault(key[0], key)  # each page's best chunk, order kept
        ordered = list(firsts.values())
    return [best[k] for k in ordered[:top_k]]


def hits_for_prompt(hits: list[IndexHit]) -> list[PromptChunk]:
    return [PromptChunk(title=h.title, url=h.url, heading_path=h.heading_path, text=h.text) for h in hits]
