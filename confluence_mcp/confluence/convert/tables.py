"""Storage tables → GFM tables, in the cell conventions `table_cells` writes back.

A table reads as markdown when it is a grid: no merged or styled cells, and either a first row of `th` and the
rest `td`, or only `td` (written with an empty header row). A header row of empty `th` reads as `&nbsp;` cells so
it is not taken for that. Header columns (a key/value table's `th` keys) read as plain cells, their text as stored
(Cloud's bold too), when every body row has a header cell there: a write keeps the stored kinds (`header_cells`).
Empty lines in a cell (Server's `<p><br/></p>`) read as nothing, as between blocks; a write keeps them
(`table_merge`). A cell whose content does not come back alike (`visible.renders_alike`, checked one by one once
the whole table failed) is carried as a `[cell: text](confluence-storage:...)` placeholder, so one odd cell does not
make the whole table opaque.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from xml.etree.ElementTree import Element

from .canonical import cell_content, is_cell_block, is_ignorable, significant_attributes
from .from_markdown import render_markdown
from .header_cells import cell_tags, column_kinds, has_header_row
from .links import encode_inline_storage
from .markdownify_ext import StandInConverter, escape_markdown
from .visible import renders_alike
from .xhtml import StorageParseError, inner_xml, outer_xml

if TYPE_CHECKING:
    from .to_markdown import _MarkdownWriter

__all__ = ["table_markdown"]

_UNESCAPED_PIPE = re.compile(r"(?<!\\)((?:\\\\)*)\|")
_WHITESPACE = re.compile(r"\s+")
_RUN = re.compile("\x01(\\d+)\x01")  # where a cell's inline run goes once all are converted


class _Unrepresentable(ValueError):
    pass


class _CellConverter(StandInConverter):
    """Inline markdown that stays on the cell's one line: `<br>` for line breaks; `<x-cut>` ends a cell's run."""

    def convert_br(self, el: Any, text: str, parent_tags: set[str]) -> str:
        return "<br>"

    def convert_x_cut(self, el: Any, text: str, parent_tags: set[str]) -> str:
        return "\x00"


def table_markdown(writer: _MarkdownWriter, table: Element) -> str | None:
    """A GFM table for `table`, or None when it is not a grid markdown can show."""
    rows = _rows(table)
    if not rows or not rows[0] or any(len(row) != len(rows[0]) for row in rows):
        return None
    if any(significant_attributes(cell) for row in rows for cell in row):
        return None  # colspan, colours, alignment
    tags = cell_tags(rows)
    header = has_header_row(tags)
    if None in column_kinds(tags):  # a header column is shown as plain cells; a stray `th` has no form
        return None
    cells = [cell for row in rows for cell in row]
    texts = _CellReader(writer).read(cells)
    markdown = _grid([_or_placeholder(text, cell) for text, cell in zip(texts, cells, strict=True)], len(rows[0]),
                     header)
    if writer.verify and not writer.round_trips(markdown, outer_xml(table), writer.task_id):
        texts = [text if text is not None and _cell_round_trips(writer, text, cell) else None
                 for text, cell in zip(texts, cells, strict=True)]
        markdown = _grid([_or_placeholder(text, cell) for text, cell in zip(texts, cells, strict=True)],
                         len(rows[0]), header)
    return markdown


def _rows(table: Element) -> list[list[Element]] | None:
    """The cells row by row, or None unless the table is plain `<tbody><tr><td>` structure (a header row may sit
    in a `thead`)."""
    if significant_attributes(table) or _loose_text(table):
        return None
    rows: list[list[Element]] = []
    for section in table:
        if isinstance(section.tag, str) and is_ignorable(section):  # column widths
            continue
        if section.tag not in ("tbody", "thead") or significant_attributes(section) or _loose_text(section):
            return None
        if section.tag == "thead" and (rows or len(section) != 1 or any(cell.tag != "th" for cell in section[0])):
            return None  # Cloud's `thead` holds the header row, first
        for row in section:
            if row.tag != "tr" or significant_attributes(row) or _loose_text(row):
                return None
            if any(cell.tag not in ("td", "th") for cell in row):
                return None
            rows.append(list(row))
    return rows


def _loose_text(element: Element) -> bool:
    return bool((element.text or "").strip()) or any((child.tail or "").strip() for child in element)


def _grid(texts: list[str], width: int, header: bool) -> str:
    rows = [texts[start : start + width] for start in range(0, len(texts), width)]
    if header and not any(rows[0]):
        rows[0] = ["&nbsp;"] * width  # an empty header row is still a header row
    elif not header:
        rows.insert(0, [""] * width)  # no header row: an empty one
    lines = ["| " + " | ".join(row) + " |" for row in rows]
    lines.insert(1, "| " + " | ".join(["---"] * width) + " |")
    return "\n".join(lines)


def _or_placeholder(markdown: str | None, cell: Element) -> str:
    if markdown is not None:
        return markdown
    text = _WHITESPACE.sub(" ", "".join(cell.itertext())).strip()
    label = escape_markdown(f"cell: {text[:60]}".strip())
    return f"[{label}]({encode_inline_storage(inner_xml(cell))})"


def _cell_round_trips(writer: _MarkdownWriter, markdown: str, cell: Element) -> bool:
    try:
        storage, _ = render_markdown(f"|  |\n| --- |\n| {markdown} |", links=writer.links)
        return renders_alike(storage, f"<table><tbody><tr><td>{inner_xml(cell)}</td></tr></tbody></table>")
    except StorageParseError:
        return False


def _one_line(markdown: str) -> str:
    """Cell markdown on one line, every `|` escaped (in code spans and link targets too, as GFM wants)."""
    return _UNESCAPED_PIPE.sub(r"\1\\|", _WHITESPACE.sub(" ", markdown).strip())


class _CellReader:
    """Every cell's markdown, the inline runs of all cells converted in one markdownify pass (one per cell costs
    several times more)."""

    def __init__(self, writer: _MarkdownWriter) -> None:
        self.writer = writer
        self.runs: list[str] = []
        self.rendered: list[str] = []  # stand-ins, shared by all runs

    def read(self, cells: list[Element]) -> list[str | None]:
        """Per cell its markdown, or None when it has no markdown form."""
        templates: list[str | None] = []
        for cell in cells:
            try:
                templates.append(self.content(cell_content(cell)))
            except _Unrepresentable:
                templates.append(None)
        html = "".join(f"<span>{run}</span><x-cut></x-cut>" for run in self.runs)
        pieces = str(_CellConverter(self.rendered).convert(html)).split("\x00")
        return [None if template is None else _one_line(_RUN.sub(lambda m: pieces[int(m.group(1))].strip(), template))
                for template in templates]

    def inline(self, container: Element) -> str:
        self.runs.append(self.writer.children_html(container, self.rendered))
        return f"\x01{len(self.runs) - 1}\x01"

    def content(self, content: Element) -> str:
        """A cell's (or list item's) content: paragraphs joined by `<br><br>`, lists as `<ul><li>` tags."""
        units: list[tuple[str, str]] = []
        run = Element("p")
        run.text = content.text
        for child in [*content, None]:
            if child is not None and (not isinstance(child.tag, str)
                                      or not (is_ignorable(child) or is_cell_block(child))):
                run.append(child)  # inline: text markup, links, inline macros, line breaks
                continue
            if _loose_text(run) or len(run):
                units.append(("p", self.inline(run)))
            if child is None:
                break
            run = Element("p")
            run.text = child.tail
            if is_ignorable(child):  # an empty line (Server's `<p><br/></p>`) shows nothing, as between blocks
                continue
            if child.tag == "p" and not significant_attributes(child):
                units.append(("p", self.inline(child)))
            elif child.tag in ("ul", "ol"):
                units.append(("list", self.list_markdown(child)))
            else:
                units.append(("block", self.writer.inline_placeholder(child)))
        parts: list[str] = []
        for index, (kind, markdown) in enumerate(units):
            if index and kind != "list" and units[index - 1][0] != "list":
                parts.append("<br><br>")
            parts.append(markdown)
        return "".join(parts)

    def list_markdown(self, element: Element) -> str:
        attributes = significant_attributes(element)
        if set(attributes) - ({"start"} if element.tag == "ol" else set()) or _loose_text(element):
            raise _Unrepresentable(element.tag)
        items = []
        for item in element:
            if item.tag != "li" or significant_attributes(item):
                raise _Unrepresentable(str(item.tag))
            items.append(f"<li>{self.content(cell_content(item))}</li>")
        start = f' start="{attributes["start"]}"' if "start" in attributes else ""
        return f"<{element.tag}{start}>{''.join(items)}</{element.tag}>"
