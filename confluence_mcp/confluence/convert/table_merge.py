"""Keeping stored bytes inside an edited table, as `layouts.merge_layout` does inside a layout.

A table edited in markdown is rendered anew, without what reading dropped: Server's empty lines (`<p><br/></p>`)
and content wrappers, Cloud's `<p>` cell wrappers, ids and column widths. Here rows are aligned by what they say, a
row whose cells are all unchanged keeps its stored bytes, an edited row keeps its unchanged cells, and an edited
cell's content is merged block by block (`merge.keep_unchanged_blocks`), so its empty lines next to unchanged or
rewritten paragraphs stay. The table tag stays while its attributes say the same, the column widths while the
table has as many columns. A table written from markdown gets its header columns' `th` from the stored one
(`header_cells`), so its unchanged rows are as stored, while it shares some cell's text with it (another table
written in its place is written as markdown says).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from difflib import SequenceMatcher
from xml.etree.ElementTree import Element

from .canonical import is_cell_block
from .element_parts import ElementParts, element_parts, merge_content, same_tag
from .header_cells import column_kinds, has_header_row, with_kind
from .visible import block_key, visible_text
from .xhtml import parse_top_level

__all__ = ["merge_table"]

Keep = Callable[[str, str], str]
_CELL_KIND = re.compile(r"<(td|th)[\s/>]")


def merge_table(old: str, new: str, keep: Keep) -> str:
    """`new` (a table) with the stored bytes of `old` kept wherever they say the same; StorageParseError when
    either does not parse (the caller, `merge`, then keeps `new`)."""
    return _merge_table(old, new, keep) or new


def _merge_table(old: str, new: str, keep: Keep) -> str | None:
    old_parts, new_parts = element_parts(old), element_parts(new)
    if old_parts is None or new_parts is None:
        return None
    old_sections, new_sections = _sections(old_parts), _sections(new_parts)
    if old_sections is None or new_sections is None or new_sections[0] is not None:
        return None
    (old_head_index, old_index), new_index = old_sections, new_sections[1]
    old_head = element_parts(old_parts.children[old_head_index]) if old_head_index is not None else None
    old_body, new_body = element_parts(old_parts.children[old_index]), element_parts(new_parts.children[new_index])
    if old_body is None or new_body is None or (old_head_index is not None and old_head is None):
        return None
    kinds = _stored_kinds([*(old_head.elements if old_head else []), *old_body.elements], new_parts, new_body)
    if kinds is not None and not _shares_a_cell([*(old_head.elements if old_head else []), *old_body.elements],
                                                new_body, kinds):
        kinds = None  # another table in its place (no stored cell's text): written as markdown says
    if kinds is not None:  # written from markdown: the header columns' `th` come from the stored table
        new_body = _with_column_kinds(new_body, kinds)
        if new_body is None:
            return None
    width = len(new_body.elements[0]) if new_body.elements else 0

    def merge_rows(old_rows: ElementParts, new_rows: ElementParts) -> str:
        rows = _merge_children(old_rows, new_rows, lambda o, n: _merge_row(o, n, keep, kinds is not None))
        return old_rows.join(rows, None if same_tag(old_rows, new_rows) else new_rows.open)

    merged: dict[int, str] = {}
    split = _split_header(new_body) if old_head is not None else None
    if old_head is not None and old_head_index is not None and split is not None:  # Cloud's `thead`: the header row
        merged[old_head_index], new_body = merge_rows(old_head, split[0]), split[1]
    merged[old_index] = merge_rows(old_body, new_body)
    # The column widths while as many; the `thead` only while there is a header row to hold.
    children = [merged.get(index, child) for index, child in enumerate(old_parts.children)
                if index in merged or (index != old_head_index and _columns(old_parts, index) == width)]
    return old_parts.join(children, None if same_tag(old_parts, new_parts) else new_parts.open)


def _sections(parts: ElementParts) -> tuple[int | None, int] | None:
    """Where the table's `thead` (if any) and its one `tbody` are, when everything else is column widths."""
    tags = [element.tag for element in parts.elements]
    if tags.count("tbody") != 1 or tags.count("thead") > 1 or any(tag not in ("tbody", "thead", "colgroup")
                                                                  for tag in tags):
        return None
    body = tags.index("tbody")
    head = tags.index("thead") if "thead" in tags else None
    return None if head is not None and head > body else (head, body)


def _split_header(body: ElementParts) -> tuple[ElementParts, ElementParts] | None:
    """A `thead` of the body's header row, and the body without it; None when it has no header row."""
    if not has_header_row([[str(cell.tag) for cell in row] for row in body.elements]):
        return None
    head, rest = element_parts(f"<thead>{body.children[0]}</thead>"), element_parts(body.join(body.children[1:]))
    return None if head is None or rest is None else (head, rest)


def _columns(parts: ElementParts, index: int) -> int:
    """How many columns a `colgroup` sets widths for."""
    return sum(1 for col in parts.elements[index] if col.tag == "col")


def _merge_children(old: ElementParts, new: ElementParts, merge: Keep) -> list[str]:
    """`new`'s children (rows, cells) aligned with the stored ones by what they say: an unchanged one as stored,
    edited ones paired in order merged with `merge` when both sides of the edit have as many, the rest as new."""
    old_keys = [block_key(child) for child in old.elements]
    new_keys = [block_key(child) for child in new.elements]
    children: list[str] = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, old_keys, new_keys, autojunk=False).get_opcodes():
        if op == "equal":
            children += old.children[i1:i2]
        elif op == "replace" and i2 - i1 == j2 - j1:
            children += [merge(o, n) for o, n in zip(old.children[i1:i2], new.children[j1:j2], strict=True)]
        else:
            children += new.children[j1:j2]
    return children


def _stored_kinds(stored_rows: list[Element], new_table: ElementParts, new_body: ElementParts) \
        -> list[str | None] | None:
    """The stored body rows' cell kind per column when the new table is as markdown writes one (no attributes, `td`
    below the first row), else None: a table written as storage says its own kinds."""
    rows = [list(row) for row in new_body.elements]
    if new_table.open != "<table>" or new_body.open != "<tbody>" or any(row.attrib for row in new_body.elements) \
            or any(cell.attrib or (index and cell.tag != "td") for index, row in enumerate(rows) for cell in row):
        return None
    return column_kinds([[str(cell.tag) for cell in row] for row in stored_rows])


def _shares_a_cell(stored_rows: list[Element], new_body: ElementParts, kinds: list[str | None]) -> bool:
    """The new table holds some text (or emptiness) a stored cell in the same column holds (the stored table edited:
    a key renamed, a value changed), or the stored one has no header column; not another table written where it
    was."""
    if "th" not in kinds:
        return True

    def texts(rows: list[Element]) -> set[tuple[int, str]]:
        return {(column, visible_text(cell)) for row in rows for column, cell in enumerate(row)}

    return bool(texts(stored_rows) & texts(new_body.elements))


def _with_column_kinds(body: ElementParts, kinds: list[str | None]) -> ElementParts | None:
    """`body` with each body row as wide as the stored ones taking the stored kind in every column that has one."""
    rows = body.children
    if has_header_row([[str(cell.tag) for cell in row] for row in body.elements]):
        rows = rows[1:]
    retagged = [_row_with_kinds(row, kinds) for row in rows]
    return element_parts(body.join(body.children[: len(body.children) - len(rows)] + retagged))


def _row_with_kinds(row: str, kinds: list[str | None]) -> str:
    parts = element_parts(row)
    if parts is None or len(parts.children) != len(kinds):
        return row
    return parts.join([cell if kind is None else with_kind(cell, kind) for cell, kind in zip(parts.children, kinds,
                                                                                            strict=True)])


def _merge_row(old: str, new: str, keep: Keep, stored_kinds: bool) -> str:
    """An edited row: its unchanged cells as stored (a column added or removed too), edited ones merged, in the
    stored cell's kind when markdown wrote a body row (some `td`) over one (not the stored header row)."""
    old_parts, new_parts = element_parts(old), element_parts(new)
    if old_parts is None or new_parts is None:
        return new
    stored_kinds = stored_kinds and any(cell.tag == "td" for cell in new_parts.elements) \
        and not has_header_row([[str(cell.tag) for cell in old_parts.elements]])

    def merge_cell(old_cell: str, new_cell: str) -> str:
        kind = _CELL_KIND.match(old_cell)
        if stored_kinds and kind:
            new_cell = with_kind(new_cell, kind.group(1))
        return merge_content(old_cell, new_cell, lambda oc, nc: _merge_cell_content(oc, nc, keep))

    cells = _merge_children(old_parts, new_parts, merge_cell)
    return old_parts.join(cells, None if same_tag(old_parts, new_parts) else new_parts.open)


def _merge_cell_content(old: str, new: str, keep: Keep) -> str:
    """An edited cell's content merged block by block. Markdown writes a cell's one paragraph bare (`a<ul>...`);
    where the stored cell has its paragraphs in `<p>`, the edit gets one too (the same cell), so it merges."""
    old_run, new_run = _bare_run(old), _bare_run(new)
    if old_run == 0 and old.strip() and new_run:
        new = "<p>" + new[:new_run] + "</p>" + new[new_run:]
    return keep(old, new)


def _bare_run(content: str) -> int | None:
    """How long the inline run (text, markup, line breaks) before the content's first block is; None when loose text
    lies after a block too."""
    _, nodes, body = parse_top_level(content)
    first = next((index for index, node in enumerate(nodes) if is_cell_block(node.element)), len(nodes))
    if any((node.element.tail or "").strip() for node in nodes[first:]):
        return None
    run = body[: nodes[first].start if first < len(nodes) else len(body)]
    return len(run.decode("utf-8")) if run.strip() else 0
