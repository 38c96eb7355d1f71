"""Search excerpts: the window of a document's text that holds the most query terms, hits marked the way
Confluence marks them (`@@@hl@@@term@@@endhl@@@`)."""

from __future__ import annotations

import re
from collections import Counter

from confluence_mcp.sandbox.text_analysis import term_of

__all__ = ["HIGHLIGHT_END", "HIGHLIGHT_START", "build_excerpt"]

HIGHLIGHT_START = "@@@hl@@@"
HIGHLIGHT_END = "@@@endhl@@@"
_SPACES = re.compile(r"\s+")


def _best_window(hits: list[tuple[int, int, str]], max_chars: int) -> int:
    """Start offset of the window (anchored a little before a hit) covering the most distinct, then most, hits."""
    lead = max_chars // 5
    best_start, best_rank = 0, (-1, -1)
    right = 0
    in_window: Counter[str] = Counter()
    for left, (start, _, _) in enumerate(hits):
        window_end = max(start - lead, 0) + max_chars
        while right < len(hits) and hits[right][1] <= window_end:
            in_window[hits[right][2]] += 1
            right += 1
        rank = (len(in_window), right - left)
        if rank > best_rank:
            best_rank, best_start = rank, max(start - lead, 0)
        in_window[hits[left][2]] -= 1
        if not in_window[hits[left][2]]:
            del in_window[hits[left][2]]
    return best_start


def _find_hits(text: str, words: set[str]) -> list[tuple[int, int, str]]:
    """(start, end, term) of each whole-word occurrence of `words`; one C-level regex scan, not a tokenisation."""
    if not words:
        return []
    alternatives = "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True))
    pattern = re.compile(rf"(?<![^\W_])(?:{alternatives})(?![^\W_])", re.IGNORECASE)
    return [(m.start(), m.end(), term_of(m.group().lower())) for m in pattern.finditer(text)]


def build_excerpt(text: str, words: set[str], *, max_chars: int = 300, highlight: bool = True) -> str:
    """About `max_chars` characters of `text` around the hits of `words` (lower-cased surface forms of the query's
    terms), whitespace collapsed."""
    if max_chars <= 0 or not text:
        return ""
    hits = _find_hits(text, words)
    start = _best_window(hits, max_chars) if hits else 0
    if start > 0:
        # Begin on a word boundary rather than mid-word.
        boundary = text.find(" ", start)
        first_hit = next((h[0] for h in hits if h[0] >= start), start)
        if 0 <= boundary < first_hit:
            start = boundary + 1
    end = min(start + max_chars, len(text))
    if end < len(text):
        boundary = text.rfind(" ", start, end + 1)
        if boundary > start:
            end = boundary
    pieces: list[str] = []
    cursor = start
    for hit_start, hit_end, _ in hits:
        if hit_start < start or hit_end > end:
            continue
        pieces.append(text[cursor:hit_start])
        word = text[hit_start:hit_end]
        pieces.append(f"{HIGHLIGHT_START}{word}{HIGHLIGHT_END}" if highlight else word)
        cursor = hit_end
    pieces.append(text[cursor:end])
    return _SPACES.sub(" ", "".join(pieces)).strip()
