"""Markdown tables → storage, with what a GFM cell cannot hold written as the few HTML tags GitHub users put there.

In a cell, `<br>` is a line break, `<br><br>` separates paragraphs (`<p>...</p>` is read too; more `<br>` end the
paragraph before with line breaks, as reading writes `<p>a<br/></p><p>b</p>`: `a<br><br><br>b`), `<ul>` and
`<ol start="N">` with `<li>` items are lists; an empty header row (`|  |  |`) means the table has none. Only the
cells are parsed again with inline HTML on, to tell these tags from text: any other tag, and an escaped `\\<br>`,
stays literal text.

A cell with one paragraph (and any lists after it) is written bare, `<td>a<ul>...</ul></td>`; with more, each
paragraph gets its `<p>`. A paragraph that is nothing but a storage placeholder of a block (a code macro, a panel)
is that block. `canonical.cell_content` makes the editors' other spellings of the same cell compare equal.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markdown_it.tree import SyntaxTreeNode

from .canonical import is_cell_block
from .xhtml import StorageParseError, escape_text, parse_fragment

__all__ = ["BR_TAG", "inline_html", "render_table"]

BR_TAG = re.compile(r"^<br\s*/?>$", re.IGNORECASE)
_OPEN = re.compile(r'^<(ul|ol|li|p)(?:\s+start="(\d+)")?\s*>$', re.IGNORECASE)
_CLOSE = re.compile(r"^</(ul|ol|li|p)\s*>$", re.IGNORECASE)
_ITEM_ENDS = frozenset({"li", "/li", "/ul", "/ol"})


class InlineRenderer(Protocol):
    def inline(self, node: SyntaxTreeNode) -> str: ...

    def inline_run(self, nodes: list[SyntaxTreeNode], render: Callable[[SyntaxTreeNode], str]) -> str:
        """`nodes` rendered by `render`, their HTML tags paired into storage as outside tables."""

    def prose_tags_as_text(self, tokens: list[Token]) -> list[Token]:
        """Inline tokens with the tags that are prose (`List<String>`) put back as text."""


def inline_html(tag: str) -> str:
    """A tag in a cell: `<br>` breaks the line; any other (list tags out of place too) is literal text."""
    return "<br/>" if BR_TAG.match(tag) else escape_text(tag)


def render_table(renderer: InlineRenderer, node: SyntaxTreeNode, parser: MarkdownIt) -> str:
    rows = [[cell for cell in row.children] for section in node.children for row in section.children]
    if len(rows) > 1 and all(not _source(cell).strip() for cell in rows[0]):
        rows = rows[1:]  # an empty header row: a table without one
    return "<table><tbody>" + "".join(
        "<tr>" + "".join(f"<{cell.tag}>{cell_storage(renderer, cell, parser)}</{cell.tag}>" for cell in row)
        + "</tr>" for row in rows) + "</tbody></table>"


def _source(cell: SyntaxTreeNode) -> str:
    return str(cell.children[0].content) if cell.children else ""


def cell_storage(renderer: InlineRenderer, cell: SyntaxTreeNode, parser: MarkdownIt) -> str:
    if not cell.children:
        return ""
    nodes = cell.children[0].children
    if "<" in _source(cell):  # it may hold tags: parse again with inline HTML on
        tokens = parser.parseInline(_source(cell).strip())
        if tokens:
            tokens[0].children = renderer.prose_tags_as_text(tokens[0].children or [])
        nodes = SyntaxTreeNode(tokens).children[0].children if tokens else []
    return _join(_CellWalker(renderer, nodes).flow(frozenset()))


def _tag(node: SyntaxTreeNode) -> tuple[str, str]:
    """The cell tag an inline HTML node is (`br`, `ul`, `/li`...) with an `<ol>` start, or ("", "")."""
    if node.type != "html_inline":
        return "", ""
    content = str(node.content)
    if BR_TAG.match(content):
        return "br", ""
    opening = _OPEN.match(content)
    if opening and (opening.group(2) is None or opening.group(1).lower() == "ol"):
        return opening.group(1).lower(), opening.group(2) or ""
    closing = _CLOSE.match(content)
    return ("/" + closing.group(1).lower(), "") if closing else ("", "")


def _blank(nodes: list[SyntaxTreeNode]) -> bool:
    return all(node.type == "text" and not str(node.content).strip() for node in nodes)


class _CellWalker:
    """Reads a cell's inline nodes left to right into paragraphs, lists and block placeholders."""

    def __init__(self, renderer: InlineRenderer, nodes: list[SyntaxTreeNode]) -> None:
        self.renderer, self.nodes, self.position = renderer, nodes, 0

    def flow(self, stops: frozenset[str]) -> list[tuple[str, str]]:
        """(kind, storage) blocks up to a stop tag: kind "p" (inline content), "list" or "block"."""
        blocks: list[tuple[str, str]] = []
        run: list[SyntaxTreeNode] = []
        nodes = self.nodes
        while self.position < len(nodes):
            tag, _ = _tag(nodes[self.position])
            if tag in stops:
                break
            if tag == "br":
                after = self.next_br(self.position)
                if after is not None and run and self.next_br(after) is not None:
                    run.append(nodes[self.position])  # `a<br><br><br>b`: a paragraph ending in a line break
                    self.position += 1
                    continue
                if after is not None:
                    self.paragraph(run, blocks)
                    run, self.position = [], after + 1
                    continue
            if tag in ("p", "/p"):  # `<p>a</p><p>b</p>`, as some write paragraphs in a cell
                self.paragraph(run, blocks)
                run = []
                self.position += 1
                continue
            if tag in ("ul", "ol"):
                self.paragraph(run, blocks)
                run = []
                blocks.append(("list", self.list_storage()))
                continue
            run.append(nodes[self.position])
            self.position += 1
        self.paragraph(run, blocks)
        return blocks

    def next_br(self, position: int) -> int | None:
        """Where a `<br>` right after the node at `position` (blank text between) is, or None."""
        after = position + 1
        while after < len(self.nodes) and _blank([self.nodes[after]]):
            after += 1
        return after if after < len(self.nodes) and _tag(self.nodes[after])[0] == "br" else None

    def paragraph(self, run: list[SyntaxTreeNode], blocks: list[tuple[str, str]]) -> None:
        if _blank(run):
            return
        storage = self.render_inline(run)
        blocks.append(("block" if _lone_link(run) and _is_block_storage(storage) else "p", storage))

    def list_storage(self) -> str:
        kind, start = _tag(self.nodes[self.position])
        self.position += 1
        items: list[str] = []
        while self.position < len(self.nodes):
            node = self.nodes[self.position]
            tag, _ = _tag(node)
            if tag in ("/ul", "/ol"):
                self.position += 1
                break
            if tag == "/li" or (tag != "li" and _blank([node])):
                self.position += 1
                continue
            if tag == "li":
                self.position += 1
            items.append(f"<li>{_join(self.flow(_ITEM_ENDS))}</li>")
            if self.position < len(self.nodes) and _tag(self.nodes[self.position])[0] == "/li":
                self.position += 1
        start_attribute = f' start="{start}"' if start and start != "1" else ""
        return f"<{kind}{start_attribute}>{''.join(items)}</{kind}>"

    def render_inline(self, run: list[SyntaxTreeNode]) -> str:
        """Inline storage; whitespace at the paragraph's edges dropped (markdown-it keeps it next to a `<br>`)."""
        first, last = run[0], run[-1]

        def render(node: SyntaxTreeNode) -> str:
            if node.type != "text" or (node is not first and node is not last):
                return self.renderer.inline(node)
            content = str(node.content)
            content = content.lstrip() if node is first else content
            return escape_text(content.rstrip() if node is last else content)

        return self.renderer.inline_run(run, render)


def _lone_link(run: list[SyntaxTreeNode]) -> bool:
    kept = [node for node in run if not _blank([node])]
    return len(kept) == 1 and kept[0].type == "link"


def _is_block_storage(storage: str) -> bool:
    """Storage (a placeholder's) made of block elements only."""
    if not storage.startswith("<"):
        return False
    try:
        root = parse_fragment(storage)
    except StorageParseError:
        return False
    loose = (root.text or "").strip() or any((child.tail or "").strip() for child in root)
    return len(root) > 0 and not loose and all(is_cell_block(child) for child in root)


def _join(blocks: list[tuple[str, str]]) -> str:
    """Bare when the content is one paragraph (with lists after it); otherwise every paragraph in its `<p>`."""
    bare = len(blocks) == 1 or (bool(blocks) and blocks[0][0] == "p" and all(k == "list" for k, _ in blocks[1:]))
    return "".join(storage if bare or kind != "p" else f"<p>{storage}</p>" for kind, storage in blocks)
