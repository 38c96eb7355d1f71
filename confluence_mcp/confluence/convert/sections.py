"""Replace the content under one heading, leaving every other byte of the storage untouched."""

from __future__ import annotations

import re
from collections.abc import Callable
from xml.etree.ElementTree import Element

from .xhtml import TopLevelNode, layout_cells, top_level_nodes, validate_storage

__all__ = ["SectionNotFound", "list_headings", "replace_section"]

_HEADING = re.compile(r"^h([1-6])$")
_WHITESPACE = re.compile(r"\s+")


class SectionNotFound(ValueError):
    """No heading with the requested text; the message lists the headings that exist."""

    def __init__(self, heading: str, available: list[str]) -> None:
        self.heading, self.available = heading, available
        listing = ", ".join(repr(title) for title in available) or "none"
        super().__init__(f"No section with heading {heading!r}. Available headings: {listing}")


def _heading_text(element: Element) -> str:
    return _WHITESPACE.sub(" ", "".join(element.itertext())).strip()


def _heading_level(element: Element) -> int | None:
    match = _HEADING.match(element.tag) if isinstance(element.tag, str) else None
    return int(match.group(1)) if match else None


def _scopes(storage: str) -> tuple[list[tuple[list[TopLevelNode], int]], bytes]:
    """Where sections live: the page's top level, then each layout cell (a section ends with its cell)."""
    nodes, body = top_level_nodes(storage)
    scopes = [(nodes, len(body))]
    if any(node.element.tag == "ac:layout" for node in nodes):
        scopes += layout_cells(storage)[0]
    return scopes, body


def list_headings(storage: str) -> list[str]:
    """Texts of the headings at the top level and in layout cells, in order."""
    scopes, _ = _scopes(storage)
    return [_heading_text(node.element) for nodes, _ in scopes for node in nodes if _heading_level(node.element)]


def replace_section(storage: str, heading: str, new_storage: str,
                    keep: Callable[[str, str], str] | None = None) -> str:
    """Replace what follows the heading `heading` up to the next heading of the same or higher level.

    The match is case-insensitive on whitespace-trimmed text; the heading itself is kept. Headings inside layout
    cells count too, their section ending with the cell. Raises `StorageParseError` when `new_storage` is
    malformed, `SectionNotFound` when no heading matches. `keep(old, new)` may merge the section's stored content
    into the new one (see `merge.keep_unchanged_blocks`).
    """
    validate_storage(new_storage)
    scopes, body = _scopes(storage)
    wanted = _WHITESPACE.sub(" ", heading).strip().casefold()
    for nodes, scope_end in scopes:
        for index, node in enumerate(nodes):
            level = _heading_level(node.element)
            if level is None or _heading_text(node.element).casefold() != wanted:
                continue
            end = scope_end
            for following in nodes[index + 1 :]:
                following_level = _heading_level(following.element)
                if following_level is not None and following_level <= level:
                    end = following.start
                    break
            if keep is not None:
                new_storage = keep(body[node.end : end].decode("utf-8"), new_storage)
            return (body[: node.end] + new_storage.encode("utf-8") + body[end:]).decode("utf-8")
    raise SectionNotFound(heading, list_headings(storage))
