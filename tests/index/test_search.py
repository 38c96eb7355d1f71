"""Hybrid search over a small hand-written collection: modes, filters, one_per_page, cut_off, relevance smoke."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from confluence_mcp.config import IndexSettings
from confluence_mcp.errors import EmbedderMismatch, IndexStoreError
from confluence_mcp.index.chunking import chunk_markdown
from confluence_mcp.index.embedders import Embedder, embed_texts, load_embedder
from confluence_mcp.index.search import DEFAULT_FUSION, SearchFilters, hybrid_search
from confluence_mcp.index.store import IndexStore, PageRecord

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 6, 1, tzinfo=UTC)
PAGES = [
    ("p1", "Paid time off policy", "HR", ("leave", "policy"), 10, """
Teammates take as much vacation as they need, with a minimum of three weeks per year.

## Booking leave
Record every absence in the HR calendar at least two weeks ahead and tell your manager.

## Public holidays
Local public holidays are not counted against your vacation allowance.
"""),
    ("p2", "Parental leave", "HR", ("leave",), 40, """
New parents receive sixteen weeks of fully paid parental leave, whether birth, adoption or foster.

## Returning to work
A phased return over four weeks at reduced hours is available after the leave.
"""),
    ("p3", "Expense reimbursement", "FIN", ("finance", "policy"), 5, """
Submit receipts for every business purchase within thirty days through the expense tool.

## Internet and phone
A monthly stipend covers home internet and mobile phone costs.
"""),
    ("p4", "Deploying the search service", "ENG", ("ops",), 200, """
Deploy with the release pipeline; the Kubernetes rollout waits for health checks before shifting traffic.

## Rollback
Run the rollback job with the previous image tag when error rates climb after a deploy.

```bash
kubectl rollout undo deployment/search
```
"""),
    ("p5", "Security keys", "ENG", ("security",), 90, """
Every teammate receives two hardware security keys: one stays in the laptop, the spare goes somewhere safe.

## Lost keys
Report a lost key to the security team immediately so it can be revoked.
"""),
]


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return load_embedder(IndexSettings())


@pytest.fixture(scope="module")
async def store(index_settings: IndexSettings, embedder: Embedder) -> AsyncIterator[IndexStore]:
    opened = await IndexStore.open(index_settings)
    await opened.ensure_collection("handbook", embedder.model_id, embedder.dimensions)
    for page_id, title, space, labels, age_days, markdown in PAGES:
        chunks = chunk_markdown(title, markdown, max_chars=200, overlap=0)
        vectors = await embed_texts(embedder, [c.embed_text for c in chunks])
        record = PageRecord(page_id, title, space, f"http://127.0.0.1/wiki/{page_id}", 1,
                            NOW - timedelta(days=age_days), labels, f"space:{space}")
        await opened.replace_page("handbook", record, chunks, vectors)
    await opened.touch_collection("handbook")
    yield opened
    await opened.close()


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


async def ask(store: IndexStore, embedder: Embedder, query: str, **options: object) -> list:
    vector = embedder.embed_batch([query])[0]
    return await hybrid_search(store, "handbook", query, vector, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(("question", "expected"), [
    ("how many weeks of leave do I get after having a baby", "p2"),
    ("how do I undo a bad release", "p4"),
    ("who pays for my home internet", "p3"),
    ("what should I do if I lose my yubikey", "p5"),
    ("do public holidays count as vacation", "p1"),
])
async def test_relevance_smoke(store: IndexStore, embedder: Embedder, question: str, expected: str) -> None:
    hits = await ask(store, embedder, question, top_k=3, one_per_page=True)
    assert expected in [h.page_id for h in hits[:2]], [(h.page_id, h.score) for h in hits]


@pytest.mark.parametrize("mode", ["hybrid", "vector", "text"])
async def test_modes_return_scored_hits_with_metadata(store: IndexStore, embedder: Embedder, mode: str) -> None:
    hits = await ask(store, embedder, "rollback a deploy with kubectl", top_k=3, mode=mode)
    assert hits and hits[0].page_id == "p4"
    top = hits[0]
    assert top.title == "Deploying the search service" and top.url.endswith("/p4") and top.space == "ENG"
    assert top.labels == ("ops",) and top.version == 1 and top.collection == "handbook"
    assert 0 < top.score <= 1.0 and [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


async def test_text_mode_needs_no_vector(store: IndexStore) -> None:
    hits = await hybrid_search(store, "handbook", "receipts stipend", None, mode="text", top_k=2)
    assert hits[0].page_id == "p3"
    with pytest.raises(IndexStoreError, match="needs a query vector"):
        await hybrid_search(store, "handbook", "receipts", None, mode="hybrid")


@pytest.mark.parametrize("mode", ["text", "vector"])
async def test_a_filter_only_removes_pages(store: IndexStore, embedder: Embedder, mode: str) -> None:
    """Filters select pages before scoring; the pages they keep rank exactly as without them."""
    query = "policy for leave, security and deploys"
    everything = await ask(store, embedder, query, top_k=50, mode=mode)
    sizes = []
    for filters in (SearchFilters(space=["ENG", "HR"]), SearchFilters(labels=["policy"]),
                    SearchFilters(updated_after=NOW - timedelta(days=20))):
        kept = await ask(store, embedder, query, top_k=50, mode=mode, filters=filters)
        keep = {h.page_id for h in kept}
        assert kept and [(h.page_id, h.score) for h in kept] == [
            (h.page_id, h.score) for h in everything if h.page_id in keep]
        sizes.append(len(keep))
    assert min(sizes) < len({h.page_id for h in everything})


async def test_selective_filters_run_both_lists_at_once_with_the_same_results(store: IndexStore,
                                                                             embedder: Embedder) -> None:
    """Page-id filters always take the exact vector scan, where the two candidate queries run concurrently."""
    filters = SearchFilters(page_ids=["p1", "p3", "p4"])
    one_query = dataclasses.replace(DEFAULT_FUSION, parallel_exact=False)
    for query in ("leave policy", "rollback a deploy with kubectl", "receipts stipend"):
        both = await ask(store, embedder, query, top_k=10, filters=filters)
        single = await ask(store, embedder, query, top_k=10, filters=filters, fusion=one_query)
        assert both and [(h.page_id, h.text, h.score) for h in both] == [(h.page_id, h.text, h.score) for h in single]
    # A database error in one of the two queries reaches the caller as itself, not inside a task group.
    failing = dataclasses.replace(DEFAULT_FUSION, max_terms=-1)  # LIMIT -1: the text query fails
    with pytest.raises(psycopg.Error, match="LIMIT must not be negative"):
        await ask(store, embedder, "leave policy", filters=filters, fusion=failing)


async def test_filters(store: IndexStore, embedder: Embedder) -> None:
    query = "leave policy and security"
    by_space = await ask(store, embedder, query, top_k=10, filters=SearchFilters(space=["ENG"]))
    assert by_space and {h.space for h in by_space} == {"ENG"}
    by_label = await ask(store, embedder, query, top_k=10, filters=SearchFilters(labels=["policy"]))
    assert by_label and {h.page_id for h in by_label} <= {"p1", "p3"}
    by_page = await ask(store, embedder, query, top_k=10, filters=SearchFilters(page_ids=["p5"]))
    assert by_page and {h.page_id for h in by_page} == {"p5"}
    recent = await ask(store, embedder, query, top_k=10,
                       filters=SearchFilters(updated_after=NOW - timedelta(days=20)))
    assert recent and {h.page_id for h in recent} <= {"p1", "p3"}
    combined = SearchFilters(space=["HR"], labels=["leave"], updated_after=NOW - timedelta(days=20))
    assert {h.page_id for h in await ask(store, embedder, query, top_k=10, filters=combined)} == {"p1"}
    assert await ask(store, embedder, query, filters=SearchFilters(space=["NOPE"])) == []


async def test_one_per_page_and_cut_off(store: IndexStore, embedder: Embedder) -> None:
    query = "vacation leave holidays parental"
    many = await ask(store, embedder, query, top_k=10)
    assert len({h.page_id for h in many}) < len(many)  # several chunks of one page
    unique = await ask(store, embedder, query, top_k=10, one_per_page=True)
    assert len({h.page_id for h in unique}) == len(unique) == 5
    threshold = unique[2].score
    cut = await ask(store, embedder, query, top_k=10, one_per_page=True, cut_off=threshold)
    assert cut == unique[:len(cut)] and all(h.score >= threshold for h in cut) and len(cut) >= 3
    assert await ask(store, embedder, query, cut_off=1.01) == []


async def test_all_collections_and_embedder_checks(store: IndexStore, embedder: Embedder) -> None:
    await store.ensure_collection("second", embedder.model_id, embedder.dimensions)
    chunks = chunk_markdown("Office plants", "Water the office plants every Tuesday.")
    await store.replace_page("second", PageRecord("s1", "Office plants", "OPS", "u", 1, NOW, (), "space:OPS"),
                             chunks, await embed_texts(embedder, [c.embed_text for c in chunks]))
    vector = embedder.embed_batch(["watering plants"])[0]
    hits = await hybrid_search(store, None, "watering plants", vector, top_k=3)
    assert hits[0].page_id == "s1" and hits[0].collection == "second"
    assert {h.collection for h in hits} == {"second", "handbook"}
    with pytest.raises(EmbedderMismatch, match="was built with embedder"):
        await hybrid_search(store, "handbook", "x", vector, embedder="openai:other-model")
    with pytest.raises(EmbedderMismatch, match="dimensional"):
        await hybrid_search(store, "handbook", "x", vector[:10])
    with pytest.raises(IndexStoreError, match="does not exist"):
        await hybrid_search(store, "missing", "x", vector)
    assert await store.drop_collection("second")
