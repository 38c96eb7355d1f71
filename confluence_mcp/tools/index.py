"""Semantic index tools: build a collection from pages, list/remove collections, hybrid search, stepback, summary.

The index service starts on first use (embedded Postgres, embedder). Stepback and summary use an LLM: the configured
OpenAI-compatible endpoint, else the client's sampling through the SDK's portable `Resolve`/`Sample` form (resolvers
run before the tool body, so they find their toolkit from the request), else they say how to enable one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from mcp.server.mcpserver import Context, Resolve, Sample
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CreateMessageResult
from pydantic import BaseModel, Field

from confluence_mcp.errors import ConfluenceMCPError, IndexStoreError, PolicyError
from confluence_mcp.index import llm
from confluence_mcp.index.service import (
    Citation,
    IndexHit,
    IndexService,
    SearchRequest,
    fuse,
    get_index_service,
    hits_for_prompt,
    run_index_search,
    search_collection,
)
from confluence_mcp.index.sync import IndexReport, Selection, index_pages, report_note
from confluence_mcp.tools.context import CURRENT_TOOLKIT, KitRuntime, app_state, current_kit, resolver_kit
from confluence_mcp.tools.registry import tool

__all__ = [
    "index_data",
    "list_collections",
    "remove_index",
    "search_index",
    "stepback_search_index",
    "stepback_summary_index",
]

Collection = Annotated[str, Field(min_length=1, max_length=200, description="Collection name, e.g. handbook.")]
OptionalCollection = Annotated[str | None, Field(min_length=1, max_length=200, description=(
    "Collection to search (default: all)."))]
Query = Annotated[str, Field(min_length=1, max_length=2000, description="What to look for, in natural language.")]
TopK = Annotated[int, Field(ge=1, le=100, description="Results to return.")]
CutOff = Annotated[float | None, Field(ge=0, description=(
    "Drop results scoring below this (scores are relative)."))]
Space = Annotated[str | None, Field(description="Only pages of this space key.")]
Labels = Annotated[list[str] | None, Field(description="Only pages with any of these labels.")]
PageIds = Annotated[list[str] | None, Field(description="Only these page ids.")]
UpdatedAfter = Annotated[datetime | None, Field(description="Only pages modified after this.")]
OnePerPage = Annotated[bool, Field(description=(
    "Only the best chunk of each page."))]


class IndexDataResult(IndexReport):
    note: str | None = None


class CollectionInfoOut(BaseModel):
    name: str
    embedder: str
    dimension: int
    pages: int
    chunks: int
    sources: list[str]
    last_indexed: datetime | None = None


class CollectionList(BaseModel):
    collections: list[CollectionInfoOut]
    note: str | None = None


class RemoveIndexResult(BaseModel):
    collection: str
    removed: bool
    note: str


class SearchIndexResult(BaseModel):
    collection: str
    query: str
    results: list[IndexHit]
    note: str | None = None


class StepbackSearchResult(SearchIndexResult):
    stepback_query: str | None = None
    llm: str = Field(description="Which LLM rewrote the query: configured, sampling or none.")


class SummaryResult(BaseModel):
    collection: str
    query: str
    answered: bool
    answer: str
    citations: list[Citation]
    stepback_query: str | None = None
    llm: str
    results: list[IndexHit] = Field(default_factory=list, description="The chunks the answer was drawn from.")
    note: str | None = None


@tool("index", "Index pages for semantic search", read_only=False, destructive=False, idempotent=True,
      aliases={"index_name": "collection"})
async def index_data(
    ctx: Context,
    collection: Collection,
    space: Space = None,
    cql: Annotated[str | None, Field(description="CQL selecting pages.")] = None,
    labels: Labels = None,
    page_ids: PageIds = None,
    include_comments: Annotated[bool, Field(description="Also index footer comments.")] = False,
    include_attachments: Annotated[bool, Field(description=(
        "Also index text attachments (.txt .md .csv .json .html .xml)."))] = False,
    clean: Annotated[bool, Field(description="Rebuild the collection from scratch.")] = False,
) -> IndexDataResult:
    """Build or refresh an index collection from pages (a space, CQL, labels or page ids; default: the toolkit's
    space, else all allowed spaces). Incremental: only new or changed pages are embedded, pages gone or no longer
    matching are dropped."""
    kit = current_kit(ctx)
    nothing_chosen = not (space or cql or labels or page_ids)
    if nothing_chosen and not kit.toolkit.space and kit.toolkit.allowed_spaces:
        selected_space = None  # no default space: every allowed space
    else:
        selected_space = kit.default_space(space) if (space or nothing_chosen) else None
    selection = Selection(space=selected_space, cql=cql, labels=tuple(labels or ()), page_ids=tuple(page_ids or ()),
                          allowed_spaces=kit.toolkit.allowed_spaces)
    service = await get_index_service(kit)
    if clean:
        await _require_own_pages(kit, service, collection, "rebuild it with clean=true")
    last = -1

    async def progress(done: int, total: int, message: str) -> None:
        nonlocal last
        if done > last:  # MCP progress must increase
            last = done
            await ctx.report_progress(done, total, message)

    report = await index_pages(service, kit.client, collection, selection, include_comments=include_comments,
                               include_attachments=include_attachments, clean=clean, progress=progress)
    note = await report_note(service, report, selection)
    return IndexDataResult(**report.model_dump(), note=note)


@tool("index", "List index collections", read_only=True)
async def list_collections(ctx: Context) -> CollectionList:
    """The index collections: embedder, size, sources, when last indexed."""
    service = await get_index_service(current_kit(ctx))
    infos = await service.store.list_collections()
    collections = [CollectionInfoOut(name=i.name, embedder=i.embedder, dimension=i.dimension, pages=i.pages,
                                     chunks=i.chunks, sources=list(i.sources), last_indexed=i.last_indexed)
                   for i in infos]
    note = None if collections else "No collections yet: build one with index_data(collection=..., space=...)."
    return CollectionList(collections=collections, note=note)


@tool("index", "Remove an index collection", read_only=False, destructive=True, idempotent=True,
      aliases={"index_name": "collection"})
async def remove_index(ctx: Context, collection: Collection) -> RemoveIndexResult:
    """Delete an index collection (the Confluence pages are not touched)."""
    kit = current_kit(ctx)
    service = await get_index_service(kit)
    existing = await service.collection_names()
    if collection not in existing:
        listed = ", ".join(sorted(existing)) or "none"
        return RemoveIndexResult(collection=collection, removed=False,
                                 note=f"No collection named {collection!r}; nothing removed. Existing: {listed}.")
    async with service.store.run_lock(collection):
        await _require_own_pages(kit, service, collection, "remove it")
        await service.drop_collection(collection)
    return RemoveIndexResult(collection=collection, removed=True, note=f"Collection {collection!r} removed.")


async def _require_own_pages(kit: KitRuntime, service: IndexService, collection: str, action: str) -> None:
    """Refuse to drop a collection that also holds pages of spaces outside this toolkit's policy: another
    toolkit sharing the collection indexed them, and dropping them would reach past allowed_spaces."""
    foreign = sorted(s for s in await service.store.collection_spaces(collection) if not kit.toolkit.space_allowed(s))
    if foreign:
        allowed = ", ".join(kit.toolkit.allowed_spaces)
        raise PolicyError(f"Collection {collection!r} also holds pages of space(s) {', '.join(foreign)}, outside this "
                          f"toolkit's allowed spaces ({allowed}), so this toolkit may not {action}. Use a toolkit "
                          "allowed those spaces, or index into a collection of your own.")


def _request(kit: KitRuntime, query: str, collection: str | None, top_k: int,
             cut_off: float | None, space: str | None, labels: list[str] | None, page_ids: list[str] | None,
             updated_after: datetime | None, one_per_page: bool) -> SearchRequest:
    if space:
        kit.require_space(space)
    return SearchRequest(query=query, collection=collection, top_k=top_k, cut_off=cut_off,
                         space=space.upper() if space and not space.startswith("~") else space,
                         # Confluence stores labels in lower case (`CEO` is saved as `ceo`).
                         labels=[label.strip().lower() for label in labels or [] if label.strip()],
                         page_ids=page_ids or [], updated_after=updated_after,
                         one_per_page=one_per_page, allowed_spaces=list(kit.toolkit.allowed_spaces))


@tool("index", "Search an index collection", read_only=True,
      aliases={"index_name": "collection", "search_top": "top_k"})
async def search_index(
    ctx: Context,
    query: Query,
    collection: OptionalCollection = None,
    top_k: TopK = 10,
    cut_off: CutOff = None,
    space: Space = None,
    labels: Labels = None,
    page_ids: PageIds = None,
    updated_after: UpdatedAfter = None,
    one_per_page: OnePerPage = True,
) -> SearchIndexResult:
    """Hybrid semantic + full-text search of indexed pages: the best chunks with page title, heading path, URL
    and score."""
    kit = current_kit(ctx)
    request = _request(kit, query, collection, top_k, cut_off, space, labels, page_ids,
                       updated_after, one_per_page)
    service = await get_index_service(kit)
    found = await search_collection(service, request)
    return SearchIndexResult(collection=found.collection, query=query, results=found.hits, note=found.note)


# -- LLM paths: resolvers run before the tool body, outside the toolkit binding ---------------------------------

_LLM_TOOLS = ("stepback_search_index", "stepback_summary_index")


def _llm_source(ctx: Context) -> str:
    return llm.llm_source(app_state(ctx).settings.llm, ctx)


async def _stepback_sample(query: str, ctx: Context) -> Sample | None:
    """Ask the client's LLM for the stepback question, when sampling is the LLM source."""
    if _llm_source(ctx) != "sampling":
        return None
    return llm.sample_request(*llm.stepback_prompt(query), max_tokens=200)


class _Retrieval(BaseModel):
    collection: str
    stepback_query: str | None
    hits: list[IndexHit]
    note: str | None


async def _retrieve(
    ctx: Context, query: str, collection: str | None, top_k: int, cut_off: float | None,
    space: str | None, labels: list[str] | None, page_ids: list[str] | None, updated_after: datetime | None,
    one_per_page: bool, sampled: Annotated[CreateMessageResult | None, Resolve(_stepback_sample)],
) -> _Retrieval:
    """Stepback rewrite (configured LLM or the sampled one) + both searches fused."""
    kit = resolver_kit(ctx, _LLM_TOOLS)
    token = CURRENT_TOOLKIT.set(kit.name)
    try:
        request = _request(kit, query, collection, top_k, cut_off, space, labels, page_ids,
                           updated_after, one_per_page)
        service = await get_index_service(kit)
        source = _llm_source(ctx)
        failed = None
        broader = None
        if source == "configured":
            try:
                broader = await llm.stepback_rewrite(kit.settings.llm, query)
            except IndexStoreError as exc:  # the search still works without the rewrite
                failed = f"The stepback rewrite failed, so this is a plain hybrid search: {exc}"
        if source == "sampling":
            broader = llm.clean_stepback(llm.sampled_text(sampled), query)
        name, hits, note = await search_collection(service, request)
        if broader and broader.strip().lower() != query.strip().lower():
            _, more = await run_index_search(service, request.model_copy(update={"query": broader}))
            hits = fuse([hits, more], request.top_k, one_per_page=request.one_per_page)
            note = request.empty_note(name, hits)  # the broader question may well use the pages' words
        notes = [text for text in (failed, note) if text]
        return _Retrieval(collection=name, stepback_query=broader, hits=hits, note=" ".join(notes) or None)
    except ConfluenceMCPError as exc:
        raise ToolError(str(exc)) from exc
    finally:
        CURRENT_TOOLKIT.reset(token)


async def _summary_sample(query: str, ctx: Context,
                          retrieval: Annotated[_Retrieval, Resolve(_retrieve)]) -> Sample | None:
    if _llm_source(ctx) != "sampling" or not retrieval.hits:
        return None
    return llm.sample_request(*llm.summary_prompt(query, hits_for_prompt(retrieval.hits)), max_tokens=800)


@tool("index", "Stepback search of an index collection", read_only=True,
      aliases={"index_name": "collection", "search_top": "top_k"}, samples=True)
async def stepback_search_index(
    ctx: Context,
    retrieval: Annotated[_Retrieval, Resolve(_retrieve)],
    query: Query,
    collection: OptionalCollection = None,
    top_k: TopK = 10,
    cut_off: CutOff = None,
    space: Space = None,
    labels: Labels = None,
    page_ids: PageIds = None,
    updated_after: UpdatedAfter = None,
    one_per_page: OnePerPage = True,
) -> StepbackSearchResult:
    """Like search_index, but also searches an LLM's broader step-back version of the question and fuses both
    results. Without an LLM it runs a plain search and says so."""
    source = _llm_source(ctx)
    notes = [retrieval.note] if retrieval.note else []
    if source == "none":
        notes.insert(0, f"Ran plain hybrid search without a stepback rewrite. {llm.no_llm_message()}")
    return StepbackSearchResult(collection=retrieval.collection, query=query, results=retrieval.hits,
                                stepback_query=retrieval.stepback_query, llm=source,
                                note=" ".join(notes) or None)


@tool("index", "Answer a question from an index collection", read_only=True,
      aliases={"index_name": "collection", "search_top": "top_k"}, samples=True)
async def stepback_summary_index(
    ctx: Context,
    retrieval: Annotated[_Retrieval, Resolve(_retrieve)],
    sampled: Annotated[CreateMessageResult | None, Resolve(_summary_sample)],
    query: Query,
    collection: OptionalCollection = None,
    top_k: TopK = 10,
    cut_off: CutOff = None,
    space: Space = None,
    labels: Labels = None,
    page_ids: PageIds = None,
    updated_after: UpdatedAfter = None,
    one_per_page: OnePerPage = False,
) -> SummaryResult:
    """Answer a question ONLY from indexed chunks (stepback search, then an LLM), citing sources per claim;
    answered=false when the chunks lack the answer."""
    source = _llm_source(ctx)
    hits = retrieval.hits
    base: dict[str, Any] = {"collection": retrieval.collection, "query": query, "llm": source,
                            "stepback_query": retrieval.stepback_query, "results": hits}
    if not hits:
        return SummaryResult(**base, answered=False, answer="", citations=[],
                             note=retrieval.note or "No chunks were retrieved, so there is nothing to answer from.")
    if source == "none":
        return SummaryResult(**base, answered=False, answer="", citations=[],
                             note=f"Retrieved {len(hits)} chunks but cannot summarise them. {llm.no_llm_message()}")
    if source == "configured":
        chat = llm.configured_llm(current_kit(ctx).settings.llm)
        assert chat is not None
        try:
            text = await chat.complete(*llm.summary_prompt(query, hits_for_prompt(hits)), max_tokens=800)
        finally:
            await chat.aclose()
    else:
        text = llm.sampled_text(sampled)
    summary = llm.parse_summary(text, len(hits))
    citations = [Citation.of(hits[n - 1], n) for n in summary.cited]
    note = None if summary.answered else (
        "The retrieved chunks do not answer this question; try other words, a broader question or another "
        "collection.")
    return SummaryResult(**base, answered=summary.answered, answer=summary.answer, citations=citations, note=note)
