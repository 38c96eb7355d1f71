"""Replace the content under one heading, leaving every other byte of the storage untouched."""

from __future__ import annotations

import re
from collections.abc import Callable
from xml.etree.ElementTree import Element

from .layouts import LayoutSyntaxError
from .xhtml import TopLevelNode, layout_cells, top_level_nodes, validate_storage

__all__ = ["AmbiguousSection", "SectionNotFound", "list_headings", "replace_section", "section_storage"]

_HEADING = re.compile(r"^h([1-6])$")
_WHITESPACE = re.compile(r"\s+")
_MARKDOWN_HASHES = re.compile(r"^#{1,6}\s+")  # "## Notes": the heading as written in markdown
PATH_SEPARATOR = " / "


class SectionNotFound(ValueError):
    """No heading with the requested text; the message lists the headings that exist."""

    def __init__(self, heading: str, available: list[str]) -> None:
        self.heading, self.available = heading, available
        listing = ", ".join(repr(title) for title in available) or "none"
        super().__init__(f"No section with heading {heading!r}. Available headings: {listing}")


class AmbiguousSection(ValueError):
    """Several headings match; `paths` names each by its enclosing headings ("Team B / Notes")."""

    def __init__(self, heading: str, paths: list[str]) -> None:
        self.heading, self.paths = heading, paths
        listing = ", ".join(repr(path) for path in paths)
        super().__init__(f"{len(paths)} headings match {heading!r}: {listing}. Give the path of the one to edit.")


def _heading_text(element: Element) -> str:
    """The text a heading shows: a macro's parameters (a status lozenge's colour) are not part of it."""
    parts: list[str] = []

    def walk(node: Element) -> None:
        if not isinstance(node.tag, str) or node.tag == "ac:parameter":
            return  # a comment shows nothing either
        parts.append(node.text or "")
        for child in node:
            walk(child)
            parts.append(child.tail or "")

    walk(element)
    return _WHITESPACE.sub(" ", "".join(parts)).strip()


def _heading_level(element: Element) -> int | None:
    match = _HEADING.match(element.tag) if isinstance(element.tag, str) else None
    return int(match.group(1)) if match else None


def _key(text: str) -> str:
    """Comparable form: case-folded, whitespace collapsed, no spaces around `/` (so paths compare too)."""
    text = _MARKDOWN_HASHES.sub("", _WHITESPACE.sub(" ", text).strip())
    return re.sub(r"\s*/\s*", "/", text).casefold()


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


def _with_paths(nodes: list[TopLevelNode]) -> list[tuple[int, list[str]]]:
    """(node index, texts of the enclosing headings then its own) for each top-level heading."""
    found: list[tuple[int, list[str]]] = []
    stack: list[tuple[int, str]] = []
    for index, node in enumerate(nodes):
        level = _heading_level(node.element)
        if level is None:
            continue
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, _heading_text(node.element)))
        found.append((index, [text for _, text in stack]))
    return found


# Inline markdown as read_page_by_id writes it in a heading: a link's text, `code`, **strong**, _em_, ~~del~~, \_.
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|~<>])")
_MD_EMPHASIS = re.compile(r"(\*\*|__|~~|`|(?<!\w)[*_])(\S(?:.*?\S)?)\1(?!\w)")


def _plain(heading: str) -> str:
    """`heading` without inline markdown, so a heading copied from the markdown matches its stored text."""
    text = _MD_LINK.sub(r"\1", heading)
    previous = None
    while previous != text:
        previous, text = text, _MD_EMPHASIS.sub(r"\2", text)
    return _MD_ESCAPE.sub(r"\1", text)


def _wanted(heading: str) -> set[str]:
    return {_key(heading), _key(_plain(heading))}


def _matches(path: list[str], wanted: set[str]) -> bool:
    # The heading's own text, or a path ending with it ("Team B / Notes" under "Handbook").
    return any(_key("/".join(path[start:])) in wanted for start in range(len(path)))


def _drop_repeated_heading(new_storage: str, heading: Element) -> bytes:
    """`new_storage` without a leading heading equal to the section's own (an agent resending it)."""
    nodes, body = top_level_nodes(new_storage)
    first = nodes[0] if nodes else None
    if (first is not None and _heading_level(first.element) is not None and not body[: first.start].strip()
            and _key(_heading_text(first.element)) == _key(_heading_text(heading))):
        return body[first.end:]
    return new_storage.encode("utf-8")


def _locate(storage: str, heading: str) -> tuple[bytes, TopLevelNode, int, bool]:
    """The storage bytes, the heading's node, where its section ends (see `replace_section`) and whether it lies
    in a layout cell."""
    scopes, body = _scopes(storage)
    wanted = _wanted(heading)
    candidates = [(nodes, scope_end, index, path) for nodes, scope_end in scopes
                  for index, path in _with_paths(nodes) if _matches(path, wanted)]
    if not candidates:
        raise SectionNotFound(heading, list_headings(storage))
    if len(candidates) > 1:
        raise AmbiguousSection(heading, [PATH_SEPARATOR.join(path) for *_, path in candidates])
    nodes, end, index, _ = candidates[0]
    node, level = nodes[index], _heading_level(nodes[index].element)
    for following in nodes[index + 1 :]:
        following_level = _heading_level(following.element)
        # A layout ends a top-level section: its cells hold sections of their own, never replaced wholesale.
        if following.element.tag == "ac:layout" or (following_level is not None and level is not None
                                                     and following_level <= level):
            end = following.start
            break
    return body, node, end, nodes is not scopes[0][0]


def section_storage(storage: str, heading: str) -> str:
    """The heading `heading` and its section's content, as storage (located as `replace_section` does)."""
    body, node, end, _ = _locate(storage, heading)
    return body[node.start : end].decode("utf-8")


def replace_section(storage: str, heading: str, new_storage: str,
                    keep: Callable[[str, str], str] | None = None) -> str:
    """Replace what follows the heading `heading` up to the next heading of the same or higher level.

    `heading` is the heading's text or its path ("Team B / Notes"), case-insensitive on trimmed text; the heading
    itself is kept, and a copy of it at the start of `new_storage` is dropped. Headings inside layout cells count
    too, their section ending with the cell; a top-level section ends where a layout begins. `keep(old, new)` may
    merge the section's stored content into the new one (see `merge.keep_unchanged_blocks`). Raises
    `StorageParseError` when `new_storage` is malformed, `SectionNotFound` when no heading matches,
    `AmbiguousSection` when several do, `LayoutSyntaxError` when `new_storage` holds a layout and the section lies
    in a layout cell (layouts do not nest).
    """
    validate_storage(new_storage)
    body, node, end, in_cell = _locate(storage, heading)
    if in_cell and any(child.element.tag == "ac:layout" for child in top_level_nodes(new_storage)[0]):
        raise LayoutSyntaxError(f"Section {_heading_text(node.element)!r} lies in a layout cell, and layouts do not "
                                "nest: write its content without layout markers, or replace the whole body to "
                                "change the layout.")
    replacement = _drop_repeated_heading(new_storage, node.element).decode("utf-8")
    if keep is not None:
        replacement = keep(body[node.end : end].decode("utf-8"), replacement)
    return (body[: node.end] + replacement.encode("utf-8") + body[end:]).decode("utf-8")
