"""Seeding: the built-in demo space, or a JSONL corpus (`key, space, title, parent_key, labels, markdown`).

Markdown goes through the same converter the write tools use. Conversion is the expensive part, so its
result is cached on disk, keyed by the corpus bytes and the converter's source (set
CONFLUENCE_MCP_SANDBOX_CACHE=0 to disable): restarts and repeated test runs skip it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import timedelta
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path

from pydantic import BaseModel

from confluence_mcp.confluence.convert import markdown_to_storage, storage_to_text
from confluence_mcp.sandbox.demo import load_demo
from confluence_mcp.sandbox.model import utc_now
from confluence_mcp.sandbox.store import Store

__all__ = ["CorpusPage", "load_corpus", "seed_store"]

POOL_THRESHOLD = 200  # pages; below this, forking costs more than it saves



class CorpusPage(BaseModel):
    key: str
    space: str
    title: str
    parent_key: str | None = None
    labels: list[str] = []
    markdown: str = ""


def _convert(markdown: str) -> tuple[str, str]:
    storage = markdown_to_storage(markdown)
    return storage, storage_to_text(storage)


def _convert_all(pages: list[CorpusPage]) -> list[tuple[str, str]]:
    """Convert every page; large corpora use forked workers when that is safe.

    Only `fork` avoids re-importing `__main__` (spawn/forkserver break scripts and embedding hosts), and
    fork is only safe while this process runs no other thread, as in `confluence-mcp sandbox` start-up.
    """
    markdowns = [page.markdown for page in pages]
    workers = min(os.cpu_count() or 1, 4)
    if (len(markdowns) >= POOL_THRESHOLD and workers >= 2 and threading.active_count() == 1
            and "fork" in get_all_start_methods()):
        try:
            with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("fork")) as pool:
                return list(pool.map(_convert, markdowns, chunksize=max(1, len(markdowns) // (workers * 4))))
        except (BrokenProcessPool, OSError):
            pass  # fall back to converting here
    return [_convert(markdown) for markdown in markdowns]


def _cache_file(corpus: bytes) -> Path | None:
    if os.environ.get("CONFLUENCE_MCP_SANDBOX_CACHE", "1") in ("0", "false", "no"):
        return None
    digest = hashlib.sha256(corpus)
    converter = Path(markdown_to_storage.__code__.co_filename).parent
    for source in sorted(converter.glob("*.py")):
        digest.update(source.read_bytes())
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "confluence-mcp" / "sandbox-seed"
    return root / f"{digest.hexdigest()[:32]}.json"


def _converted(pages: list[CorpusPage], corpus: bytes) -> list[tuple[str, str]]:
    """Storage and plain text per page, from the disk cache when the corpus and converter are unchanged."""
    cache = _cache_file(corpus)
    if cache is not None and cache.is_file():
        try:
            cached = json.loads(cache.read_text(encoding="utf-8"))
            if len(cached) == len(pages):
                return [(storage, text) for storage, text in cached]
        except (OSError, ValueError):
            pass
    converted = _convert_all(pages)
    if cache is not None:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", dir=cache.parent, delete=False, encoding="utf-8") as tmp:
                json.dump(converted, tmp)
            Path(tmp.name).replace(cache)
        except OSError:
            pass  # a read-only home only costs speed
    return converted


def _ordered(pages: list[CorpusPage]) -> list[CorpusPage]:
    """Parents before children; a missing parent makes the page top-level."""
    by_key = {page.key: page for page in pages}
    done: set[str] = set()
    ordered: list[CorpusPage] = []

    def visit(page: CorpusPage, trail: frozenset[str]) -> None:
        if page.key in done:
            return
        parent = by_key.get(page.parent_key or "")
        if parent is not None and parent.key not in trail:
            visit(parent, trail | {page.key})
        done.add(page.key)
        ordered.append(page)

    for page in pages:
        visit(page, frozenset())
    return ordered


def load_corpus(store: Store, path: Path) -> int:
    """Load a JSONL corpus into the store; returns the number of pages created."""
    corpus = path.read_bytes()
    pages = [CorpusPage.model_validate_json(line) for line in corpus.decode("utf-8").splitlines()
             if line.strip()]
    pages = _ordered(pages)
    converted = _converted(pages, corpus)
    ids: dict[str, str] = {}
    base = utc_now() - timedelta(days=len(pages))
    for index, (page, (storage, text)) in enumerate(zip(pages, converted, strict=True)):
        space_key = page.space.upper()
        if space_key not in store.spaces:
            store.create_space(space_key, space_key.title())
        title = page.title
        if (space_key, "page", title.lower()) in store.titles:
            title = f"{title} ({page.key.rsplit('/', 1)[-1]})"  # corpora may repeat titles; Confluence cannot
        parent = ids.get(page.parent_key or "")
        if parent is not None and store.contents[parent].space_key != space_key:
            parent = None
        content = store.create(space_key=space_key, title=title, body=storage, parent_id=parent,
                               labels=[label for label in page.labels if label.strip()],
                               when=base + timedelta(days=index), check=False, text=text)
        ids[page.key] = content.id
    return len(ids)


def seed_store(store: Store, seed: str | Path | None) -> None:
    """`demo` (the built-in space), a JSONL path, or None/"none" for an empty site."""
    if seed is None or str(seed) in ("", "none", "empty"):
        return
    if str(seed) == "demo":
        load_demo(store)
        return
    path = Path(seed)
    if not path.is_file():
        raise FileNotFoundError(f"seed corpus not found: {path}")
    load_corpus(store, path)
