"""An element's storage cut into its start tag, the gaps between its children, the children and its end tag, so a
merge can rebuild it from stored and new pieces while keeping the stored bytes (ids, whitespace) around them."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

from .canonical import canonicalize
from .xhtml import parse_top_level

__all__ = ["ElementParts", "element_parts", "merge_content", "same_tag"]

_START_TAG = re.compile(r"""<[^\s/>]+(?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*\s*(/?)>""")


@dataclass
class ElementParts:
    """`open` + gaps[0] + children[0] + gaps[1] + ... + `close`; `elements` are the parsed children."""

    open: str
    close: str
    children: list[str]
    gaps: list[str]  # len(children) + 1 stretches of whitespace
    elements: list[Element] = field(default_factory=list)

    def join(self, children: list[str], open_tag: str | None = None) -> str:
        """The element with `children` instead, between the stored gaps while there are as many."""
        gaps = self.gaps if len(children) == len(self.children) else [""] * (len(children) + 1)
        inner = "".join(gap + child for gap, child in zip(gaps, children, strict=False)) + gaps[-1]
        return (open_tag or self.open) + inner + self.close


def element_parts(storage: str, *, children: bool = True) -> ElementParts | None:
    """The parts of the one element `storage` holds; None when it is self-closed or loose text sits between its
    children. Without `children` the whole content is the one gap. Raises `StorageParseError` when malformed."""
    match = _START_TAG.match(storage)
    if match is None or match.group(1):  # self-closed: nothing inside to keep
        return None
    close_at = storage.rindex("</")
    inner = storage[match.end() : close_at]
    parts = ElementParts(storage[: match.end()], storage[close_at:], [], [inner])
    if not children:
        return parts
    root, nodes, body = parse_top_level(inner)
    if (root.text or "").strip() or any((child.tail or "").strip() for child in root):
        return None
    position, parts.gaps = 0, []
    for node in nodes:
        parts.gaps.append(body[position : node.start].decode("utf-8"))
        parts.children.append(body[node.start : node.end].decode("utf-8"))
        parts.elements.append(node.element)
        position = node.end
    parts.gaps.append(body[position:].decode("utf-8"))
    return parts


def same_tag(old: ElementParts, new: ElementParts) -> bool:
    """The two start tags say the same (their attributes differ in editor bookkeeping at most)."""
    return canonicalize(old.open + old.close) == canonicalize(new.open + new.close)


def merge_content(old: str, new: str, keep: Callable[[str, str], str]) -> str:
    """`new` (one element, a cell) with its content merged into the stored one's by `keep`, and the stored start
    tag (its editor ids) kept when it says the same."""
    old_parts, new_parts = element_parts(old, children=False), element_parts(new, children=False)
    if old_parts is None or new_parts is None:  # a self-closed element: kept only when equal
        return old if canonicalize(old) == canonicalize(new) else new
    content = keep(old_parts.gaps[0], new_parts.gaps[0])
    tags = old_parts if same_tag(old_parts, new_parts) else new_parts
    return tags.open + content + tags.close
