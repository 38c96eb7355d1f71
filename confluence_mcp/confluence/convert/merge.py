"""Keep the stored bytes of every top-level block a markdown write left unchanged.

Reading drops what markdown cannot show and a reader would not miss (editor ids, empty paragraphs, column widths,
`&nbsp;`, whitespace at link edges) once it has checked that the markdown renders to a block `canonicalize` calls
equal. Writing that markdown back renders new storage; here each new block that is canonically equal to the stored
one at its place, and shows the same text (`visible_text`: exact inside code), is replaced by the stored original,
so an unchanged page is byte-for-byte unchanged (no new version) and an edit touches only the blocks it changed.
An edited layout or table is merged the same way cell by cell (`layouts.merge_layout`, `table_merge.merge_table`),
a list item by item (`list_merge.merge_list`), and a macro in its rich-text body (`details.merge_macro`), so editing
one cell leaves the other cells' stored bytes alone; a block whose merge gives back the stored bytes (a table whose
header column markdown writes as plain cells) counts as unchanged. Content with loose inline text (a list item's, a
cell's) keeps its unchanged inline elements (`inline_merge`). Whitespace before the first block and after the last
(Server's trailing newline) stays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Literal

from .block_merge import MERGED_BLOCKS, merge_block
from .details import merge_macro
from .inline_merge import merge_inline
from .layouts import merge_layout
from .list_merge import merge_list
from .table_merge import merge_table
from .task_ids import unique_task_ids
from .task_merge import merge_task_list
from .visible import block_key, visible_text
from .xhtml import StorageParseError, parse_top_level

__all__ = ["keep_unchanged_blocks", "unique_task_ids", "visible_text"]

Opcode = tuple[Literal["replace", "delete", "insert", "equal"], int, int, int, int]
# Blocks merged piece by piece when edited, so an edit to one cell leaves the other cells' stored bytes alone (a
# macro's: in its rich-text body). A merger may raise StorageParseError; the block is then written as new.
_MERGERS: dict[str, Callable[[str, str, Callable[[str, str], str]], str]] = {
    "ac:layout": merge_layout, "table": merge_table, "ac:task-list": merge_task_list,
    "ac:structured-macro": merge_macro, **dict.fromkeys(MERGED_BLOCKS, merge_block), "ul": merge_list,
    "ol": merge_list}


@dataclass
class _Unit:
    """A block with the ignorable blocks (empty paragraphs) that follow it, as a byte span of its storage."""

    key: str
    start: int
    end: int
    # Where the block itself ends: what follows up to `end` is ignorable and re-attached after an edited block.
    block_end: int
    block_start: int  # after the empty paragraphs before the first block
    tag: str


def _units(storage: str) -> tuple[list[_Unit], bytes] | None:
    """The storage's blocks, or None when loose text sits between them (nothing then to align safely)."""
    root, nodes, body = parse_top_level(storage)
    if (root.text or "").strip() or any((child.tail or "").strip() for child in root):
        return None
    units: list[_Unit] = []
    pending_start: int | None = None  # ignorable blocks before the first real one
    for node in nodes:
        key = block_key(node.element)
        if not key and units:
            units[-1].end = node.end
        elif not key:
            pending_start = node.start if pending_start is None else pending_start
        else:
            start = node.start if pending_start is None else pending_start
            tag = node.element.tag if isinstance(node.element.tag, str) else ""
            units.append(_Unit(key, start, node.end, node.end, node.start, tag))
            pending_start = None
    return units, body


def _paired(old_units: list[_Unit], new_units: list[_Unit]) -> dict[int, _Unit]:
    """Edited layouts and tables paired up in order (by the new unit's id), per kind, when both sides of the change
    have as many."""
    paired: dict[int, _Unit] = {}
    for tag in _MERGERS:
        old = [unit for unit in old_units if unit.tag == tag]
        new = [unit for unit in new_units if unit.tag == tag]
        if len(old) == len(new):
            paired.update(zip(map(id, new), old, strict=True))
    return paired


class _Merges:
    """Edited layouts, tables and task lists merged with their stored pair, each pair once."""

    def __init__(self, old_body: bytes, new_body: bytes) -> None:
        self.old_body, self.new_body = old_body, new_body
        self.done: dict[tuple[int, int], bytes] = {}

    def block(self, stored: _Unit, unit: _Unit) -> bytes:
        """The new block `unit` with the stored bytes of its pair kept where they say the same."""
        pair = (id(stored), id(unit))
        if pair not in self.done:
            new = self.new_body[unit.block_start : unit.block_end]
            try:
                self.done[pair] = _MERGERS[unit.tag](self.old_body[stored.block_start : stored.block_end].decode(
                    "utf-8"), new.decode("utf-8"), keep_unchanged_blocks).encode("utf-8")
            except StorageParseError:  # a merger that cannot read a side (at any depth) leaves the block as written
                self.done[pair] = new
        return self.done[pair]

    def unit(self, stored: _Unit, unit: _Unit) -> bytes:
        """The block as `block`, with the empty paragraphs around it in the new storage."""
        body = self.new_body
        return body[unit.start : unit.block_start] + self.block(stored, unit) + body[unit.block_end : unit.end]

    def settle(self, old_units: list[_Unit], new_units: list[_Unit], opcodes: list[Opcode]) -> bool:
        """Give each edited block whose merge with a stored one showing the same text gives back that one's bytes
        (a header column's `th` put back in a table) the stored key, so it is unchanged, wherever the other blocks
        around it were added or removed; True when some did."""
        settled = False
        for op, i1, i2, j1, j2 in opcodes:
            if op == "equal":
                continue
            candidates = [unit for unit in old_units[i1:i2] if unit.tag in _MERGERS]
            for unit in new_units[j1:j2]:
                stored = next((old for old in candidates if old.tag == unit.tag and _text(old) == _text(unit)
                               and self.block(old, unit) == self.old_body[old.block_start : old.block_end]), None)
                if stored is not None:
                    candidates.remove(stored)
                    unit.key, settled = stored.key, True
        return settled


def _text(unit: _Unit) -> str:
    """The text part of the unit's key (`block_key`): what a merge cannot change."""
    return unit.key.partition("\x00")[2]


def _opcodes(old_units: list[_Unit], new_units: list[_Unit]) -> list[Opcode]:
    return SequenceMatcher(None, [u.key for u in old_units], [u.key for u in new_units], autojunk=False).get_opcodes()


def keep_unchanged_blocks(old: str, new: str) -> str:
    """`new` with each block equal (canonically) to the stored one at its place taken from `old` byte-for-byte."""
    try:
        old_split, new_split = _units(old), _units(new)
    except StorageParseError:
        return new
    if old_split is None or new_split is None:  # loose inline content (a list item's, a cell's): its elements
        return merge_inline(old, new)
    (old_units, old_body), (new_units, new_body) = old_split, new_split
    if not old_units or not new_units:  # nothing but empty paragraphs (an empty layout cell) on one side
        return old if not old_units and not new_units else new
    opcodes, merges = _opcodes(old_units, new_units), _Merges(old_body, new_body)
    if merges.settle(old_units, new_units, opcodes):
        opcodes = _opcodes(old_units, new_units)
    if len(opcodes) == 1 and opcodes[0][0] == "equal":
        return old
    # What lies before the first block and after the last (a trailing newline) comes with the block beside it, and
    # stays while both sides have only whitespace there.
    head, tail = (old_body[: old_units[0].start], new_body[: new_units[0].start]), \
        (old_body[old_units[-1].end :], new_body[new_units[-1].end :])
    out = [_edge(head, opcodes[0][0] == "equal")]
    for op, i1, i2, j1, j2 in opcodes:
        if op == "equal":
            out.append(old_body[old_units[i1].start : old_units[i2 - 1].end])
            continue
        paired = _paired(old_units[i1:i2], new_units[j1:j2])
        for offset, unit in enumerate(new_units[j1:j2]):
            in_place = old_units[i1 + offset] if op == "replace" and i2 - i1 == j2 - j1 else None
            if in_place is not None:  # an edited block keeps the empty paragraphs around it (before: on top)
                out.append(old_body[in_place.start : in_place.block_start])
            stored = paired.get(id(unit))
            out.append(new_body[unit.start : unit.end] if stored is None else merges.unit(stored, unit))
            if in_place is not None:
                out.append(old_body[in_place.block_end : in_place.end])
    out.append(_edge(tail, opcodes[-1][0] == "equal"))
    return b"".join(out).decode("utf-8")


def _edge(sides: tuple[bytes, bytes], unchanged: bool) -> bytes:
    """The stored bytes at a page's edge when the block beside it is unchanged or both edges are whitespace."""
    old, new = sides
    return old if unchanged or not (old.strip() or new.strip()) else new
