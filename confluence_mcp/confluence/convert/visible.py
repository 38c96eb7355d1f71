"""The text a block shows, for telling an edit from a respelling the canonical form equates (whitespace inside code,
a space before a link, text after an empty paragraph): a merge keeps a stored block only when both agree."""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element

from .canonical import TASK_BOOKKEEPING, canonical_element, is_ignorable
from .xhtml import parse_fragment

__all__ = ["block_key", "renders_alike", "visible_text"]

# Where every character counts: code macro bodies and preformatted text (inline code reads collapsed).
_VERBATIM = frozenset({"ac:plain-text-body", "pre"})
_SPACES = re.compile(r"[\s\u00a0]+")
_LINK_BODIES = frozenset({"ac:link-body", "ac:plain-text-link-body"})
# Where a block starts or ends, whitespace shows nothing (`<td><p> x</p></td>` is `<td>x</td>`); a task is a line
# of its own (Server's editor writes newlines between a task's parts and between tasks).
_BLOCKS = frozenset({"p", "ul", "ol", "li", "table", "tbody", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6",
                     "blockquote", "div", "ac:task-list", "ac:task", "ac:task-status", "ac:task-body"})
_BLOCK_EDGES = re.compile(r"[ \x03]*\x03[ \x03]*")


def _link_target_name(link: Element) -> str:
    target = next((child for child in link if child.tag in ("ri:page", "ri:attachment", "ri:blog-post")), None)
    if target is None:
        return ""
    return target.get("ri:content-title") or target.get("ri:filename") or ""


def _shows_no_text(node: Element) -> bool:
    # A link without a body shows its target's title, also from inside a paragraph, list item or layout cell.
    return not "".join(node.itertext()).strip() and not any(
        child.tag == "ac:link" and _link_target_name(child) for child in node.iter())


def visible_text(element: Element) -> str:
    """The text a block shows: whitespace runs (and `&nbsp;`) as one space, except inside code, kept exactly;
    text after dropped editor elements (empty paragraphs) included; an element showing no text of its own (an
    image, an emoticon, a mention) as a mark, so the spacing around it counts; whitespace at a block's edges does
    not."""
    segments: list[tuple[str, bool]] = []

    def walk(node: Element, verbatim: bool) -> None:
        inside = verbatim or node.tag in _VERBATIM
        if node.tag == "br":
            segments.append((" ", inside))  # a line break shows as a space
            return
        if not isinstance(node.tag, str) or node.tag.startswith("ri:") or node.tag in TASK_BOOKKEEPING:
            # A comment shows nothing, a resource reference shows through the link or image holding it, and a
            # task's id and uuid are bookkeeping.
            return
        edge = [("\x03", False)] if node.tag in _BLOCKS else []
        if node is not element and _shows_no_text(node):
            if not is_ignorable(node):
                segments.extend([*edge, ("\x02", inside), *edge])
            return
        segments.extend([*edge, (node.text or "", inside)])
        if node.tag == "ac:link" and not any(child.tag in _LINK_BODIES for child in node):
            segments.append((_link_target_name(node), inside))  # Confluence shows the target's title
        for child in node:
            walk(child, inside)
            segments.append((child.tail or "", inside))
        segments.extend(edge)

    walk(element, False)
    out: list[str] = []
    loose: list[str] = []
    for text, verbatim in segments:
        if verbatim and text.strip("\r\n"):  # blank lines around a code body show nothing, nor spaces beside it
            out += [_SPACES.sub(" ", "".join(loose)).strip(), "\x01", text.strip("\r\n"), "\x01"]
            loose = []
        elif not verbatim:
            loose.append(text)
    out.append(_SPACES.sub(" ", "".join(loose)))
    return _BLOCK_EDGES.sub("\x03", "".join(out)).strip(" \x03")


def _layout_text(layout: Element) -> str:
    """A layout's text block by block, as a page's: the whitespace between a cell's blocks is layout, not text."""
    pieces = []
    for cell in layout.iter("ac:layout-cell"):
        pieces.append((cell.text or "").strip())
        for block in cell:
            pieces += ["" if is_ignorable(block) else visible_text(block), (block.tail or "").strip()]
        pieces.append("\x03")
    return "\x00".join(piece for piece in pieces if piece)


def block_key(element: Element) -> str:
    """Equal for two blocks that say the same: the canonical form, and the shown text (the canonical form alone
    equates whitespace edits in code and moves text after dropped elements); "" for an ignorable block."""
    key = canonical_element(element)
    if not key:
        return ""
    return key + "\x00" + (_layout_text(element) if element.tag == "ac:layout" else visible_text(element))


def renders_alike(left: str, right: str) -> bool:
    """The blocks of both say the same as a write tells it (`block_key`), so markdown that reading accepts for some
    blocks writes back as a no-op."""
    return _keys(left) == _keys(right)


def _keys(storage: str) -> list[str]:
    root = parse_fragment(storage)
    if (root.text or "").strip() or any((child.tail or "").strip() for child in root):
        return [canonical_element(root), visible_text(root)]  # loose text: the whole as one
    return [key for key in map(block_key, root) if key]
