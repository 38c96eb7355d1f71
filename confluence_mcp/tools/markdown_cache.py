"""Converted page markdown, remembered per page version for reads that come back to it.

Conversion is a pure function of the storage body, the site, the space, the page id and the mentioned users' names,
and it is the costly part of a read (~1.5 ms per KB with round-trip checks). Agents read the same version again
(read, edit, read back; label listings), and a long page is read in parts, each part a new call on the same body.
Entries are keyed by a digest of the storage, so a body is not held twice, and the cache is an LRU bounded both in
entries and in characters of markdown held: a 5 MB page is remembered while it is read in parts, and many large
pages never grow the process without bound.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import NamedTuple

__all__ = ["CacheInfo", "MarkdownCache"]

_Key = tuple[bytes, str, str | None, str, tuple[tuple[str, str], ...]]


class CacheInfo(NamedTuple):
    hits: int
    misses: int
    entries: int
    chars: int  # markdown characters held


class MarkdownCache:
    """An LRU of converted markdown, at most `max_entries` entries and `max_chars` characters of markdown; one
    markdown longer than `max_chars // 2` is converted every time. Safe to use from worker threads."""

    def __init__(self, *, max_entries: int = 64, max_chars: int = 24_000_000) -> None:
        self.max_entries, self.max_chars = max_entries, max_chars
        self._items: OrderedDict[_Key, str] = OrderedDict()
        self._chars = self._hits = self._misses = 0
        self._lock = threading.Lock()

    def markdown(self, convert: Callable[..., str], storage: str, site_url: str, space: str | None, page_id: str,
                 users: tuple[tuple[str, str], ...]) -> str:
        """`convert(storage, site_url, space, page_id, users)`, remembered."""
        # surrogatepass: a body from JSON may hold a lone surrogate, which plain UTF-8 cannot encode
        digest = hashlib.blake2b(storage.encode("utf-8", "surrogatepass"), digest_size=20).digest()
        key: _Key = (digest, site_url, space, page_id, users)
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                self._hits += 1
                return found
            self._misses += 1
        markdown = convert(storage, site_url, space, page_id, users)  # outside the lock: other reads go on
        if len(markdown) <= self.max_chars // 2:
            with self._lock:
                if key not in self._items:
                    self._items[key] = markdown
                    self._chars += len(markdown)
                while len(self._items) > self.max_entries or self._chars > self.max_chars:
                    _, dropped = self._items.popitem(last=False)
                    self._chars -= len(dropped)
        return markdown

    def info(self) -> CacheInfo:
        with self._lock:
            return CacheInfo(self._hits, self._misses, len(self._items), self._chars)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._chars = self._hits = self._misses = 0
