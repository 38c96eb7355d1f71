"""A part of a long markdown text that ends where a block ends, so a large page can be read in pieces without a
piece ever splitting a paragraph, a table or a fenced placeholder (which would not write back)."""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = ["MarkdownWindow", "markdown_window"]

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


class MarkdownWindow(NamedTuple):
    text: str
    start: int
    end: int  # where the next window starts; == total when this one reaches the end
    total: int


def _block_starts(markdown: str) -> list[int]:
    """Offsets where a block starts: after a blank line, outside fenced code."""
    starts: list[int] = []
    fence: str | None = None  # the opening run of a fence we are in
    blank = False
    position = 0
    for line in markdown.splitlines(keepends=True):
        stripped = line.strip()
        if fence is None and blank and stripped:
            starts.append(position)
        match = _FENCE.match(line)
        if fence is None and match and not (match.group(1)[0] == "`" and "`" in line[match.end() :]):
            fence = match.group(1)  # (a backtick in the info string makes the line a code span, not a fence)
        elif fence is not None and match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence) \
                and not line.strip()[len(match.group(1)):].strip():
            fence = None
        blank = not stripped
        position += len(line)
    return starts


def markdown_window(markdown: str, offset: int, max_chars: int) -> MarkdownWindow:
    """At most `max_chars` characters of `markdown` from `offset`, cut at the last block start that fits (at a line
    end when one block alone is longer, and mid-line only for a single line longer than `max_chars`)."""
    total = len(markdown)
    start = min(max(offset, 0), total)
    limit = start + max_chars
    if limit >= total:
        return MarkdownWindow(markdown[start:], start, total, total)
    fitting = [s for s in _block_starts(markdown) if start < s <= limit]
    if fitting:
        end = fitting[-1]
    else:
        newline = markdown.rfind("\n", start, limit)
        end = newline + 1 if newline >= start else limit
    return MarkdownWindow(markdown[start:end], start, end, total)
