"""Relevance of the semantic index over the handbook corpus: recall@5 and MRR at page level.

Indexes `handbook.jsonl` straight from its markdown (no sandbox), then asks every question of
`relevance_questions.jsonl` in vector-only, text-only and hybrid mode, plus a plain BM25-over-pages baseline.

    python benchmarks/relevance.py                       # local embedder, fresh embedded Postgres in a tmp dir
    python benchmarks/relevance.py --embedder sentence-transformers
    python benchmarks/relevance.py --questions other.jsonl --corpus /path/handbook.jsonl
    CONFLUENCE_MCP_DATABASE_URL=postgresql://... python benchmarks/relevance.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

from pydantic import SecretStr

from confluence_mcp.config import IndexSettings
from confluence_mcp.index.chunking import DEFAULT_OVERLAP, chunk_markdown, outline_chunk
from confluence_mcp.index.embedders import Embedder, embed_texts, load_embedder
from confluence_mcp.index.pg import EmbeddedPostgres, create_database
from confluence_mcp.index.search import DEFAULT_FUSION, FusionParams, hybrid_search
from confluence_mcp.index.store import IndexStore, PageRecord

HERE = Path(__file__).resolve().parent
DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "handbook.jsonl"  # ../shared
_WORD = re.compile(r"[a-z0-9]+")


def load_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


class BM25:
    """Okapi BM25 over whole pages (title + body), the baseline the hybrid index must beat."""

    def __init__(self, docs: list[tuple[str, str]], k1: float = 1.2, b: float = 0.75) -> None:
        self.keys = [key for key, _ in docs]
        self.tfs = [Counter(_WORD.findall(text.lower())) for _, text in docs]
        self.lengths = [sum(tf.values()) for tf in self.tfs]
        self.avg = sum(self.lengths) / max(1, len(self.lengths))
        df: Counter[str] = Counter()
        for tf in self.tfs:
            df.update(tf.keys())
        n = len(docs)
        self.idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
        self.k1, self.b = k1, b

    def search(self, query: str, top: int = 10) -> list[str]:
        terms = _WORD.findall(query.lower())
        scores = []
        for key, tf, length in zip(self.keys, self.tfs, self.lengths, strict=True):
            score = 0.0
            for term in terms:
                f = tf.get(term, 0)
                if f:
                    norm = self.k1 * (1 - self.b + self.b * length / self.avg)
                    score += self.idf[term] * f * (self.k1 + 1) / (f + norm)
            scores.append((score, key))
        scores.sort(reverse=True)
        return [key for score, key in scores[:top] if score > 0]


def metrics(ranked: list[list[str]], targets: list[str]) -> tuple[float, float]:
    recall = sum(1 for r, t in zip(ranked, targets, strict=True) if t in r[:5]) / len(targets)
    mrr = sum(1 / (r.index(t) + 1) if t in r else 0.0 for r, t in zip(ranked, targets, strict=True)) / len(targets)
    return recall, mrr


async def build(store: IndexStore, embedder: Embedder, collection: str, pages: list[dict],
                max_chars: int, overlap: int) -> tuple[int, float]:
    started = time.perf_counter()
    await store.drop_collection(collection)
    await store.ensure_collection(collection, embedder.model_id, embedder.dimensions)
    all_chunks = [chunk_markdown(p["title"], p["markdown"], max_chars=max_chars, overlap=overlap) for p in pages]
    all_chunks = [[*chunks, outline_chunk(p["title"], p["markdown"], chunks)] for p, chunks in zip(pages, all_chunks,
                                                                                                   strict=True)]
    flat = [c.embed_text for chunks in all_chunks for c in chunks]
    vectors = await embed_texts(embedder, flat)
    offset = 0
    for page, chunks in zip(pages, all_chunks, strict=True):
        record = PageRecord(page["key"], page["title"], page["space"], page["key"], 1, None,
                            tuple(page.get("labels") or ()), f"space:{page['space']}")
        await store.replace_page(collection, record, chunks, vectors[offset:offset + len(chunks)])
        offset += len(chunks)
    await store.touch_collection(collection)
    return len(flat), time.perf_counter() - started


async def evaluate(store: IndexStore, embedder: Embedder, collection: str, questions: list[dict],
                   fusion: FusionParams) -> dict[str, tuple[float, float]]:
    targets = [q["key"] for q in questions]
    vectors = await embed_texts(embedder, [q["question"] for q in questions])
    out: dict[str, tuple[float, float]] = {}
    for mode in ("vector", "text", "hybrid"):
        ranked = []
        for question, vector in zip(questions, vectors, strict=True):
            hits = await hybrid_search(store, collection, question["question"], vector, top_k=10, mode=mode,
                                       one_per_page=True, fusion=fusion)
            ranked.append([h.page_id for h in hits])
        out[mode] = metrics(ranked, targets)
    return out


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--questions", type=Path, default=HERE / "relevance_questions.jsonl")
    parser.add_argument("--embedder", default="local", choices=["local", "sentence-transformers", "openai"])
    parser.add_argument("--model")
    parser.add_argument("--max-chars", type=int, nargs="*",
                        help="chunk size(s) to compare (default: the embedder's own chunk size)")
    parser.add_argument("--overlap", type=int, default=DEFAULT_OVERLAP)
    parser.add_argument("--alpha", type=float, nargs="*", default=[DEFAULT_FUSION.alpha],
                        help="vector weight(s) of the hybrid fusion to compare")
    args = parser.parse_args(argv)

    pages = load_jsonl(args.corpus)
    questions = load_jsonl(args.questions)
    bm25 = BM25([(p["key"], f"{p['title']}\n{p['markdown']}") for p in pages])
    recall, mrr = metrics([bm25.search(q["question"]) for q in questions], [q["key"] for q in questions])
    print(f"{len(pages)} pages, {len(questions)} questions")
    print(f"{'bm25-pages':<44} recall@5 {recall:.3f}  MRR {mrr:.3f}")

    embedder = load_embedder(IndexSettings(embedder=args.embedder, model=args.model))
    with tempfile.TemporaryDirectory(prefix="cmcp-relevance-") as tmp:
        url = os.environ.get("CONFLUENCE_MCP_DATABASE_URL")
        server = None
        if url is None:
            server = EmbeddedPostgres(Path(tmp) / "pg")
            url = create_database(server.start(), "relevance")
        try:
            async with await IndexStore.open(IndexSettings(database_url=SecretStr(url))) as store:
                for max_chars in args.max_chars or [embedder.chunk_chars]:
                    collection = f"handbook-{max_chars}"
                    chunks, seconds = await build(store, embedder, collection, pages, max_chars, args.overlap)
                    print(f"-- {embedder.model_id}, max_chars={max_chars}: {chunks} chunks indexed in {seconds:.1f}s")
                    for position, alpha in enumerate(args.alpha):
                        fusion = replace(DEFAULT_FUSION, alpha=alpha)
                        results = await evaluate(store, embedder, collection, questions, fusion)
                        for mode, (rec, rr) in results.items():
                            if mode != "hybrid" and position > 0:
                                continue
                            label = f"hybrid (alpha={alpha:g})" if mode == "hybrid" else mode
                            print(f"{label:<44} recall@5 {rec:.3f}  MRR {rr:.3f}")
        finally:
            if server is not None:
                server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
