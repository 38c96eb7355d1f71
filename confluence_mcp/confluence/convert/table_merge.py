"""Keeping stored bytes inside an edited table, as `layouts.merge_layout` does inside a layout.

A table edited in markdown is rendered anew, without what reading dropped: Server's empty lines (`<p><br/></p>`)
and content wrappers, Cloud's `<p>` cell wrappers, ids and column widths. Here rows and columns are aligned by what
they say (`table_align`: an edited row still pairs with its stored row when rows or columns are added or removed
beside it), a cell whose text is unchanged keeps its stored bytes wherever its column went, and an edited cell's
content is merged block by block (`merge.keep_unchanged_blocks`), inside Server's content wrapper if it had one, so
its empty lines next to unchanged or rewritten paragraphs stay. New cells are as markdown writes them (in a `<p>`
in a stored row whose cells all have one). The table tag stays while its attributes say the same, the column
widths while the table has as many columns (moved with their columns). A table written from markdown gets its
header columns' `th` from the stored one (`header_cells`), in the columns they continue, so its unchanged rows are
as stored and a new row's key is a `th`, while it shares some cell's text with it (another table written in its
place is written as markdown says).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from difflib import SequenceMatcher
from itertools import accumulate
from xml.etree.ElementTree import Element

from .canonical import is_cell_block, significant_attributes
from .element_parts import ElementParts, element_parts, merge_content, same_tag
from .header_cells import cell_tags, column_kinds, has_header_row, with_kind
from .table_align import align_columns, align_rows, row_texts
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
    stored_rows = [*(old_head.elements if old_head else []), *old_body.elements]
    width = len(new_body.elements[0]) if new_body.elements else 0
    header = has_header_row(cell_tags(new_body.elements))
    # Cloud's `thead` holds the header row: its rows align with the new header row, the body's with the rest.
    split = _split_header(new_body) if old_head is not None else None
    sections = [(old_body, new_body)] if old_head is None or split is None else [(old_head, split[0]),
                                                                                (old_body, split[1])]
    matches, columns = _align(sections)
    kinds = _written_kinds(stored_rows, new_parts, new_body, columns)
    if kinds is not None:  # written from markdown: the header columns' `th` come from the stored table
        retagged = [_with_column_kinds(rows, kinds, skip=header and index == 0)
                    for index, (_, rows) in enumerate(sections)]
        if any(rows is None for rows in retagged):
            return None
        sections = [(o, n) for (o, _), n in zip(sections, retagged, strict=True) if n is not None]

    def merge_rows(old_rows: ElementParts, new_rows: ElementParts, match: list[int | None]) -> str:
        rows = [new_rows.children[j] if i is None else
                _merge_row(old_rows.children[i], new_rows.children[j], columns, keep, kinds is not None)
                for j, i in enumerate(match)]
        return old_rows.join(rows, None if same_tag(old_rows, new_rows) else new_rows.open)

    merged: dict[int, str] = {}
    if len(sections) > 1 and old_head_index is not None:
        merged[old_head_index] = merge_rows(*sections[0], matches[0])
    merged[old_index] = merge_rows(*sections[-1], matches[-1])
    for index, element in enumerate(old_parts.elements):  # the column widths while as many
        widths = _widths(old_parts.children[index], columns, width) if element.tag == "colgroup" else None
        if widths is not None:
            merged[index] = widths
    # A stored `thead` stays only while there is a header row to hold (merged above).
    return old_parts.join([merged[index] for index in sorted(merged)],
                          None if same_tag(old_parts, new_parts) else new_parts.open)


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
    if not has_header_row(cell_tags(body.elements)):
        return None
    head, rest = element_parts(f"<thead>{body.children[0]}</thead>"), element_parts(body.join(body.children[1:]))
    return None if head is None or rest is None else (head, rest)


def _widths(colgroup: str, columns: list[int | None] | None, width: int) -> str | None:
    """The stored column widths while the table has as many columns, in the order the columns moved to; None (no
    widths) when it has more or fewer."""
    parts = element_parts(colgroup)
    if parts is None or len(parts.children) != width or any(col.tag != "col" for col in parts.elements):
        return None
    if columns is None:
        return colgroup
    kept = [column for column in columns if column is not None and column < len(parts.children)]
    return parts.join([parts.children[column] for column in kept]) if len(kept) == width else None


def _align(sections: list[tuple[ElementParts, ElementParts]]) \
        -> tuple[list[list[int | None]], list[int | None] | None]:
    """Per section (stored rows, new rows) per new row the stored row it continues, and per new column the stored
    column it continues (None: the rows of a side are not all as wide)."""
    old_texts = [[row_texts(row) for row in old_rows.elements] for old_rows, _ in sections]
    new_texts = [[row_texts(row) for row in new_rows.elements] for _, new_rows in sections]
    matches = [align_rows(old_rows, new_rows) for old_rows, new_rows in zip(old_texts, new_texts, strict=True)]
    starts = [0, *accumulate(len(rows) for rows in old_texts)]  # where each section's rows start in the table
    stored = [None if i is None else starts[k] + i for k, match in enumerate(matches) for i in match]
    columns = align_columns([row for rows in old_texts for row in rows], [row for rows in new_texts for row in rows],
                            stored)
    return matches, columns


def _written_kinds(stored_rows: list[Element], new_table: ElementParts, new_body: ElementParts,
                   columns: list[int | None] | None) -> list[str | None] | None:
    """Per new column the stored body rows' cell kind in the column it continues, when the new table is as markdown
    writes one and holds some stored cell's text (not another table written in its place)."""
    kinds = _stored_kinds(stored_rows, new_table, new_body)
    if kinds is None:
        return None
    width = len(new_body.elements[0]) if new_body.elements else 0
    if columns is not None:
        kinds = [None if column is None else kinds[column] for column in columns]
    elif len(kinds) != width:
        return None
    return kinds if _shares_a_cell(stored_rows, new_body, kinds, columns) else None


def _merge_children(old: ElementParts, new: ElementParts, merge: Keep) -> list[str]:
    """`new`'s cells aligned with the stored ones by what they say (rows of differing widths, so no column
    alignment): an unchanged one as stored, edited ones paired in order merged with `merge` when both sides of the
    edit have as many, the rest as new."""
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
    return column_kinds(cell_tags(stored_rows))


def _shares_a_cell(stored_rows: list[Element], new_body: ElementParts, kinds: list[str | None],
                   columns: list[int | None] | None) -> bool:
    """The new table holds some text (or emptiness) a stored cell in the column it continues holds (the stored table
    edited: a key renamed, a value changed), or the stored one has no header column; not another table written where
    it was."""
    if "th" not in kinds:
        return True
    stored = {(column, visible_text(cell)) for row in stored_rows for column, cell in enumerate(row)}
    written = {(column if columns is None else columns[column], visible_text(cell))
               for row in new_body.elements for column, cell in enumerate(row)}
    return bool(stored & written)


def _with_column_kinds(rows: ElementParts, kinds: list[str | None], *, skip: bool) -> ElementParts | None:
    """`rows` (but the first when `skip`: the header row) as wide as `kinds` taking its kind in every column that
    has one."""
    kept = 1 if skip else 0
    retagged = [_row_with_kinds(row, kinds) for row in rows.children[kept:]]
    return element_parts(rows.join(rows.children[:kept] + retagged))


def _row_with_kinds(row: str, kinds: list[str | None]) -> str:
    parts = element_parts(row)
    if parts is None or len(parts.children) != len(kinds):
        return row
    return parts.join([cell if kind is None else with_kind(cell, kind) for cell, kind in zip(parts.children, kinds,
                                                                                            strict=True)])


def _merge_row(old: str, new: str, columns: list[int | None] | None, keep: Keep, stored_kinds: bool) -> str:
    """An edited row: its unchanged cells as stored, wherever their column went (`columns`: per new cell the stored
    one it continues), edited ones merged, in the stored cell's kind when markdown wrote a body row (some `td`)
    over one (not the stored header row)."""
    old_parts, new_parts = element_parts(old), element_parts(new)
    if old_parts is None or new_parts is None:
        return new
    stored_kinds = stored_kinds and any(cell.tag == "td" for cell in new_parts.elements) \
        and not has_header_row(cell_tags([old_parts.elements]))

    def merge_cell(old_cell: str, new_cell: str) -> str:
        kind = _CELL_KIND.match(old_cell)
        if stored_kinds and kind:
            new_cell = with_kind(new_cell, kind.group(1))
        return merge_content(old_cell, new_cell, lambda oc, nc: _merge_cell_content(oc, nc, keep))

    def cell(index: int, column: int | None) -> str:
        if column is None:  # a column added
            return _in_row_style(new_parts.children[index], old_parts)
        if block_key(old_parts.elements[column]) == block_key(new_parts.elements[index]):
            return old_parts.children[column]
        return merge_cell(old_parts.children[column], new_parts.children[index])

    if columns is None or len(columns) != len(new_parts.children):  # rows of differing widths: cell by cell
        cells = _merge_children(old_parts, new_parts, merge_cell)
    else:
        cells = [cell(index, column) for index, column in enumerate(columns)]
    return old_parts.join(cells, None if same_tag(old_parts, new_parts) else new_parts.open)


def _in_row_style(cell: str, row: ElementParts) -> str:
    """A new cell (a column added) in a stored row whose every cell holds its text in blocks (Cloud's `<p>`): its
    bare paragraph in a `<p>` too, as the editor would write it."""
    parts = element_parts(cell, children=False)
    stored = [element_parts(old, children=False) for old in row.children]
    if parts is None or not stored or any(old is None or not old.gaps[0].strip() or _bare_run(old.gaps[0]) != 0
                                          for old in stored):
        return cell
    content = parts.gaps[0]
    run = _bare_run(content)
    return parts.open + "<p>" + content[:run] + "</p>" + content[run:] + parts.close if run else cell


def _merge_cell_content(old: str, new: str, keep: Keep) -> str:
    """An edited cell's content merged block by block. Markdown writes a cell's one paragraph bare (`a<ul>...`);
    where the stored cell has its paragraphs in `<p>`, the edit gets one too (the same cell), so it merges. Inside
    Server's content wrapper, which then stays with its empty lines."""
    wrapper = _content_wrapper(old)
    if wrapper is not None and new.strip():
        before, parts, after = wrapper
        return before + parts.open + _merge_cell_content(parts.gaps[0], new, keep) + parts.close + after
    old_run, new_run = _bare_run(old), _bare_run(new)
    if old_run == 0 and old.strip() and new_run:
        new = "<p>" + new[:new_run] + "</p>" + new[new_run:]
    return keep(old, new)


def _content_wrapper(content: str) -> tuple[str, ElementParts, str] | None:
    """A cell's content that is Server's `<div class="content-wrapper">` alone: what is before it, its parts, and
    what is after it; else None."""
    root, nodes, body = parse_top_level(content)
    if len(nodes) != 1 or (root.text or "").strip() or (nodes[0].element.tail or "").strip() \
            or nodes[0].element.tag != "div" \
            or significant_attributes(nodes[0].element) != {"class": "content-wrapper"}:
        return None
    node = nodes[0]
    parts = element_parts(body[node.start : node.end].decode("utf-8"), children=False)
    if parts is None:
        return None
    return body[: node.start].decode("utf-8"), parts, body[node.end :].decode("utf-8")


def _bare_run(content: str) -> int | None:
    """How long the inline run (text, markup, line breaks) before the content's first block is; None when loose text
    lies after a block too."""
    _, nodes, body = parse_top_level(content)
    first = next((index for index, node in enumerate(nodes) if is_cell_block(node.element)), len(nodes))
    if any((node.element.tail or "").strip() for node in nodes[first:]):
        return None
    run = body[: nodes[first].start if first < len(nodes) else len(body)]
    return len(run.decode("utf-8")) if run.strip() else 0
