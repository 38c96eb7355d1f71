"""Storage tables → GFM tables, in the cell conventions `table_cells` writes back.

A table reads as markdown when it is a grid: no merged or styled cells, and either a first row of `th` and the
rest `td`, or only `td` (written with an empty header row). A header row of empty `th` reads as `&nbsp;` cells so
it is not taken for that. Header cells down the first column have no markdown form: such tables stay storage.
A cell whose content does not come back equal (checked one by one once the whole table failed) is carried as a
`[cell: text](confluence-storage:...)` placeholder, so one odd cell does not make the whole table opaque.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from xml.etree.ElementTree import Element

from .from_markdown import render_markdown
from .links import encode_inline_storage
from .markdownify_ext import StandInConverter, escape_markdown
from .table_cells import is_cell_block
from .xhtml import (
    StorageParseError,
    canonicalize,
    cell_content,
    inner_xml,
    is_ignorable,
    outer_xml,
    significant_attributes,
)

if TYPE_CHECKING:
    from .to_markdown import _MarkdownWriter

__all__ = ["table_markdown"]

_UNESCAPED_PIPE = re.compile(r"(?<!\\)((?:\\\\)*)\|")
_WHITESPACE = re.compile(r"\s+")


class _Unrepresentable(ValueError):
    pass


class _CellConverter(StandInConverter):
    """Inline markdown that stays on the cell's one line: `<br>` for line breaks."""

    def convert_br(self, el: Any, text: str, parent_tags: set[str]) -> str:
        return "<br>"


def table_markdown(writer: _MarkdownWriter, table: Element) -> str | None:
    """A GFM table for `table`, or None when it is not a grid markdown can show."""
    rows = _rows(table)
    if not rows or not rows[0] or any(len(row) != len(rows[0]) for row in rows):
        return None
    if any(significant_attributes(cell) for row in rows for cell in row):
        return None  # colspan, colours, alignment
    header = all(cell.tag == "th" for cell in rows[0])
    if any(cell.tag != "td" for row in rows[1 if header else 0 :] for cell in row):
        return None
    cells = [[_cell_or_placeholder(writer, cell, check=False) for cell in row] for row in rows]
    markdown = _grid(cells, header)
    if writer.verify and not writer.round_trips(markdown, outer_xml(table), writer.task_id):
        cells = [[_cell_or_placeholder(writer, cell, check=True) for cell in row] for row in rows]
        markdown = _grid(cells, header)
    return markdown


def _rows(table: Element) -> list[list[Element]] | None:
    """The cells row by row, or None unless the table is plain `<tbody><tr><td>` structure."""
    if significant_attributes(table) or _loose_text(table):
        return None
    rows: list[list[Element]] = []
    for section in table:
        if isinstance(section.tag, str) and is_ignorable(section):  # column widths
            continue
        if section.tag != "tbody" or significant_attributes(section) or _loose_text(section):
            return None
        for row in section:
            if row.tag != "tr" or significant_attributes(row) or _loose_text(row):
                return None
            if any(cell.tag not in ("td", "th") for cell in row):
                return None
            rows.append(list(row))
    return rows


def _loose_text(element: Element) -> bool:
    return bool((element.text or "").strip()) or any((child.tail or "").strip() for child in element)


def _grid(cells: list[list[str]], header: bool) -> str:
    if header and not any(cells[0]):
        cells = [["&nbsp;"] * len(cells[0]), *cells[1:]]  # an empty header row is still a header row
    elif not header:
        cells = [[""] * len(cells[0]), *cells]  # no header row: an empty one
    lines = ["| " + " | ".join(row) + " |" for row in cells]
    lines.insert(1, "| " + " | ".join(["---"] * len(cells[0])) + " |")
    return "\n".join(lines)


def _cell_or_placeholder(writer: _MarkdownWriter, cell: Element, *, check: bool) -> str:
    try:
        markdown = _one_line(_content(writer, cell_content(cell)))
    except _Unrepresentable:
        markdown = None
    if markdown is not None and (not check or _cell_round_trips(writer, markdown, cell)):
        return markdown
    text = _WHITESPACE.sub(" ", "".join(cell.itertext())).strip()
    label = escape_markdown(f"cell: {text[:60]}".strip())
    return f"[{label}]({encode_inline_storage(inner_xml(cell))})"


def _cell_round_trips(writer: _MarkdownWriter, markdown: str, cell: Element) -> bool:
    try:
        storage, _ = render_markdown(f"|  |\n| --- |\n| {markdown} |", links=writer.links)
        return canonicalize(storage) == canonicalize(f"<table><tbody><tr><td>{inner_xml(cell)}</td></tr></tbody>"
                                                     "</table>")
    except StorageParseError:
        return False


def _one_line(markdown: str) -> str:
    """Cell markdown on one line, every `|` escaped (in code spans and link targets too, as GFM wants)."""
    return _UNESCAPED_PIPE.sub(r"\1\\|", _WHITESPACE.sub(" ", markdown).strip())


def _content(writer: _MarkdownWriter, content: Element) -> str:
    """A cell's (or list item's) content: paragraphs joined by `<br><br>`, lists as `<ul><li>` tags."""
    units: list[tuple[str, str]] = []
    run = Element("p")
    run.text = content.text

    def flush() -> None:
        nonlocal run
        if _loose_text(run) or len(run):
            units.append(("p", _inline(writer, run)))
        run = Element("p")

    for child in content:
        if not isinstance(child.tag, str) or not (is_ignorable(child) or is_cell_block(child)):
            run.append(child)  # inline: text markup, links, inline macros, line breaks
            continue
        flush()
        if is_ignorable(child):
            pass
        elif child.tag == "p" and not significant_attributes(child):
            units.append(("p", _inline(writer, child)))
        elif child.tag in ("ul", "ol"):
            units.append(("list", _list(writer, child)))
        else:
            units.append(("block", writer.inline_placeholder(child)))
        run.text = child.tail
    flush()
    parts: list[str] = []
    for index, (kind, markdown) in enumerate(units):
        if index and kind != "list" and units[index - 1][0] != "list":
            parts.append("<br><br>")
        parts.append(markdown)
    return "".join(parts)


def _list(writer: _MarkdownWriter, element: Element) -> str:
    attributes = significant_attributes(element)
    if set(attributes) - ({"start"} if element.tag == "ol" else set()) or _loose_text(element):
        raise _Unrepresentable(element.tag)
    items = []
    for item in element:
        if item.tag != "li" or significant_attributes(item):
            raise _Unrepresentable(str(item.tag))
        items.append(f"<li>{_content(writer, cell_content(item))}</li>")
    start = f' start="{attributes["start"]}"' if "start" in attributes else ""
    return f"<{element.tag}{start}>{''.join(items)}</{element.tag}>"


def _inline(writer: _MarkdownWriter, container: Element) -> str:
    rendered: list[str] = []
    html = "<span>" + writer.children_html(container, rendered) + "</span>"
    return str(_CellConverter(rendered).convert(html)).strip()
