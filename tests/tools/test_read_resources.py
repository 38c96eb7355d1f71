"""What a long-lived server must get right on reads: a long page read in parts is converted once, and the markdown
cache stays within its bounds however many (and however large) pages are read."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from _mcp_fixtures import call, make_settings, mcp_client

from confluence_mcp.sandbox.runner import SandboxOptions, start_sandbox
from confluence_mcp.tools.content import MARKDOWN_CACHE
from confluence_mcp.tools.markdown_cache import MarkdownCache

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def own_sandbox() -> Iterator[Any]:
    with start_sandbox(SandboxOptions(flavor="cloud")) as sandbox:
        yield sandbox


def _big_storage(paragraphs: int) -> str:
    return "".join(f"<h2>Section {n}</h2><p>Paragraph {n} " + "lorem ipsum dolor sit amet " * 30 + "</p>"
                   for n in range(paragraphs))


async def test_a_page_read_in_parts_is_converted_once(own_sandbox: Any) -> None:
    # Above the size the cache used to skip (256,000 characters of storage): every part converted the whole page
    # again, ~9 s a part for a 5 MB page of 80 parts.
    storage = _big_storage(450)
    assert len(storage) > 300_000
    page = own_sandbox.store.create(space_key="DEMO", title=f"Big {uuid.uuid4().hex[:8]}", body=storage)
    MARKDOWN_CACHE.clear()
    async with mcp_client(make_settings(own_sandbox.base_url)) as client:
        parts, offset = [], 0
        while offset is not None:
            part = await call(client, "read_page_by_id", {"page_id": page.id, "offset": offset})
            parts.append(part["markdown"])
            offset = part.get("next_offset")
    info = MARKDOWN_CACHE.info()
    assert len(parts) >= 5 and len("".join(parts)) == part["total_chars"]
    assert (info.misses, info.hits) == (1, len(parts) - 1)


def test_the_markdown_cache_is_bounded_in_entries_and_characters() -> None:
    cache = MarkdownCache(max_entries=8, max_chars=10_000)

    def convert(storage: str, *_: Any) -> str:
        return storage.upper()

    for n in range(100):  # many distinct pages: the entry bound holds
        cache.markdown(convert, f"page {n}", "https://site", "S", str(n), ())
        assert cache.info().entries <= 8
    for n in range(20):  # large pages: the character bound holds, the last one read is kept
        markdown = cache.markdown(convert, f"{n:04d}" + "x" * 3000, "https://site", "S", f"big{n}", ())
        assert markdown.startswith(f"{n:04d}")
        info = cache.info()
        assert info.chars <= 10_000 and info.entries <= 8
    cache.markdown(convert, "0019" + "x" * 3000, "https://site", "S", "big19", ())
    assert cache.info().hits == 1
    # One markdown above half the budget is not held at all (it would push out everything else).
    cache.markdown(convert, "y" * 6000, "https://site", "S", "huge", ())
    cache.markdown(convert, "y" * 6000, "https://site", "S", "huge", ())
    assert cache.info().hits == 1 and cache.info().chars <= 10_000


def test_the_key_is_the_whole_input() -> None:
    cache = MarkdownCache()
    seen: list[tuple[Any, ...]] = []

    def convert(*args: Any) -> str:
        seen.append(args)
        return repr(args)

    base = ("<p>x</p>", "https://a.example/wiki", "S", "1", (("u1", "Ann"),))
    variants = [base, ("<p>y</p>", *base[1:]), (base[0], "https://b.example/wiki", *base[2:]),
                (*base[:2], "T", *base[3:]), (*base[:3], "2", base[4]), (*base[:4], (("u1", "Bob"),)),
                ("<p>\ud800</p>", *base[1:])]  # a lone surrogate (JSON allows it) is a body like any other
    for args in variants * 2:
        assert cache.markdown(convert, *args) == repr(args)
    assert len(seen) == len(variants) and cache.info().hits == len(variants)
