"""Keeping stored bytes inside an edited table, as `layouts.merge_layout` does inside a layout.

A table edited in markdown is rendered anew, without what reading dropped: Server's empty lines (`<p><br/></p>`)
and content wrappers, Cloud's `<p>` cell wrappers, ids and column widths. Here rows are aligned by what they say, a
row whose cells are all unchanged keeps its stored bytes, an edited row keeps its unchanged cells, and an edited
cell's content is merged block by block (`merge.keep_unchanged_blocks`), so its empty lines next to unchanged or
rewritten paragraphs stay. The table tag stays while its attributes say the same, the column widths while the
table has as many columns.
"""

from __future__ import annotations

from collections.abc import Callable
from difflib import SequenceMatcher

from .canonical import is_cell_block
from .element_parts import ElementParts, element_parts, merge_content, same_tag
from .visible import block_key
from .xhtml import StorageParseError, parse_top_level

__all__ = ["merge_table"]

Keep = Callable[[str, str], str]


def merge_table(old: str, new: str, keep: Keep) -> str:
    """`new` (a table) with the stored bytes of `old` kept wherever they say the same."""
    try:
        return _merge_table(old, new, keep) or new
    except StorageParseError:
        return new


def _merge_table(old: str, new: str, keep: Keep) -> str | None:
    old_parts, new_parts = element_parts(old), element_parts(new)
    if old_parts is None or new_parts is None:
        return None
    old_index, new_index = _body_index(old_parts), _body_index(new_parts)
    if old_index is None or new_index is None:
        return None
    old_body = element_parts(old_parts.children[old_index])
    new_body = element_parts(new_parts.children[new_index])
    if old_body is None or new_body is None:
        return None
    rows = _merge_children(old_body, new_body, lambda o, n: _merge_row(o, n, keep))
    body = old_body.join(rows, None if same_tag(old_body, new_body) else new_body.open)
    width = len(new_body.elements[0]) if new_body.elements else 0
    children = [body if index == old_index else child for index, child in enumerate(old_parts.children)
                if index == old_index or _columns(old_parts, index) == width]
    return old_parts.join(children, None if same_tag(old_parts, new_parts) else new_parts.open)


def _body_index(parts: ElementParts) -> int | None:
    """Where the table's one `tbody` is, when everything else is column widths."""
    tags = [element.tag for element in parts.elements]
    if tags.count("tbody") != 1 or any(tag not in ("tbody", "colgroup") for tag in tags):
        return None
    return tags.index("tbody")


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


def _merge_row(old: str, new: str, keep: Keep) -> str:
    """An edited row: its unchanged cells as stored (a column added or removed too), edited ones merged."""
    old_parts, new_parts = element_parts(old), element_parts(new)
    if old_parts is None or new_parts is None:
        return new
    cells = _merge_children(old_parts, new_parts,
                            lambda o, n: merge_content(o, n, lambda oc, nc: _merge_cell_content(oc, nc, keep)))
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
