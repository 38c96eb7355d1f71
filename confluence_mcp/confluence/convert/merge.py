"""Keep the stored bytes of every top-level block a markdown write left unchanged.

Reading drops what markdown cannot show and a reader would not miss (editor ids, empty paragraphs, column widths,
`&nbsp;`, whitespace at link edges) once it has checked that the markdown renders to a block `canonicalize` calls
equal. Writing that markdown back renders new storage; here each new block that is canonically equal to the stored
one at its place, and shows the same text (`visible_text`: exact inside code), is replaced by the stored original,
so an unchanged page is byte-for-byte unchanged (no new version) and an edit touches only the blocks it changed.
An edited layout is merged the same way cell by cell (`layouts.merge_layout`), so editing one cell leaves the
other cells' stored bytes alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from xml.etree.ElementTree import Element

from .canonical import TASK_BOOKKEEPING, canonical_element, is_ignorable
from .layouts import merge_layout
from .xhtml import StorageParseError, parse_top_level

__all__ = ["keep_unchanged_blocks", "unique_task_ids", "visible_text"]

_TASK_ID = re.compile(r"(<ac:task-id>)\s*(\d+)\s*(</ac:task-id>)")


def unique_task_ids(storage: str) -> str:
    """`storage` with every task id used once: a kept task list keeps its stored ids while new ones are numbered in
    page order (a section write numbers from 1), so a repeated id gets the next free one."""
    found = [int(match.group(2)) for match in _TASK_ID.finditer(storage)]
    if len(set(found)) == len(found):
        return storage
    seen: set[int] = set()
    fresh = max(found) + 1

    def renumber(match: re.Match[str]) -> str:
        nonlocal fresh
        number = int(match.group(2))
        if number in seen:
            number, fresh = fresh, fresh + 1
        seen.add(number)
        return f"{match.group(1)}{number}{match.group(3)}"

    return _TASK_ID.sub(renumber, storage)


# Where every character counts: code macro bodies and preformatted text (inline code reads collapsed).
_VERBATIM = frozenset({"ac:plain-text-body", "pre"})
_SPACES = re.compile(r"[\s\u00a0]+")
_LINK_BODIES = frozenset({"ac:link-body", "ac:plain-text-link-body"})
# Where a block starts or ends, whitespace shows nothing (`<td><p> x</p></td>` is `<td>x</td>`).
_BLOCKS = frozenset({"p", "ul", "ol", "li", "table", "tbody", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6",
                     "blockquote", "div"})
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


@dataclass
class _Unit:
    """A block with the ignorable blocks (empty paragraphs) that follow it, as a byte span of its storage."""

    key: str
    start: int
    end: int
    # Where the block itself ends: what follows up to `end` is ignorable and re-attached after an edited block.
    block_end: int
    block_start: int  # after the empty paragraphs before the first block
    layout: bool  # an `ac:layout`, merged cell by cell when edited


def _units(storage: str) -> tuple[list[_Unit], bytes] | None:
    """The storage's blocks, or None when loose text sits between them (nothing then to align safely)."""
    root, nodes, body = parse_top_level(storage)
    if (root.text or "").strip() or any((child.tail or "").strip() for child in root):
        return None
    units: list[_Unit] = []
    pending_start: int | None = None  # ignorable blocks before the first real one
    for node in nodes:
        key = canonical_element(node.element)
        if key:  # the canonical form alone equates whitespace edits in code and text after dropped elements
            layout = node.element.tag == "ac:layout"
            key += "\x00" + (_layout_text(node.element) if layout else visible_text(node.element))
        if not key and units:
            units[-1].end = node.end
        elif not key:
            pending_start = node.start if pending_start is None else pending_start
        else:
            start = node.start if pending_start is None else pending_start
            units.append(_Unit(key, start, node.end, node.end, node.start, node.element.tag == "ac:layout"))
            pending_start = None
    return units, body


def keep_unchanged_blocks(old: str, new: str) -> str:
    """`new` with each block equal (canonically) to the stored one at its place taken from `old` byte-for-byte."""
    try:
        old_split, new_split = _units(old), _units(new)
    except StorageParseError:
        return new
    if old_split is None or new_split is None:
        return new
    (old_units, old_body), (new_units, new_body) = old_split, new_split
    if not old_units or not new_units:  # nothing but empty paragraphs (an empty layout cell) on one side
        return old if not old_units and not new_units else new
    matcher = SequenceMatcher(None, [u.key for u in old_units], [u.key for u in new_units], autojunk=False)
    opcodes = matcher.get_opcodes()
    if len(opcodes) == 1 and opcodes[0][0] == "equal":
        return old
    out: list[bytes] = []
    for op, i1, i2, j1, j2 in opcodes:
        if op == "equal":
            out.append(old_body[old_units[i1].start : old_units[i2 - 1].end])
            continue
        # Edited layouts pair up in order when both sides of the change have as many.
        old_layouts = [unit for unit in old_units[i1:i2] if unit.layout]
        new_layouts = [unit for unit in new_units[j1:j2] if unit.layout]
        paired = dict(zip(map(id, new_layouts), old_layouts, strict=True)) if len(old_layouts) == len(new_layouts) \
            else {}
        for offset, unit in enumerate(new_units[j1:j2]):
            stored_layout = paired.get(id(unit))
            if stored_layout is None:
                out.append(new_body[unit.start : unit.end])
            else:
                merged = merge_layout(old_body[stored_layout.block_start : stored_layout.block_end].decode("utf-8"),
                                      new_body[unit.block_start : unit.block_end].decode("utf-8"),
                                      keep_unchanged_blocks)
                out += [new_body[unit.start : unit.block_start], merged.encode("utf-8"),
                        new_body[unit.block_end : unit.end]]
            if op == "replace" and i2 - i1 == j2 - j1:  # an edited block keeps the empty paragraphs after it
                stored = old_units[i1 + offset]
                out.append(old_body[stored.block_end : stored.end])
    return b"".join(out).decode("utf-8")
