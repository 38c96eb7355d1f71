"""Page layouts (`ac:layout` > `ac:layout-section` > `ac:layout-cell`) ⇄ markdown container markers.

    :::layout two_equal breakout-mode=wide
    ...first cell, as markdown...
    :::cell
    ...second cell...
    :::section single
    ...the next section's only cell...
    :::

`:::layout <type>` opens a layout and its first section, `:::section <type>` starts the next section, `:::cell`
the next cell of the current section, and a bare `:::` closes the layout. Marker lines stand at the top level of
the document; the cells in between are ordinary markdown, so each block in a cell is converted (and checked) on
its own and a macro in a cell becomes its own placeholder. A markdown-it block rule turns marker lines into
`layout_marker` tokens, so `:::` inside a code fence stays code; text starting with `:::` reads escaped (`\\:::`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from xml.etree.ElementTree import Element

from .canonical import significant_attributes
from .element_parts import element_parts, merge_content, same_tag
from .xhtml import escape_attribute

if TYPE_CHECKING:  # the markdown stack loads with from_markdown, not with the write merge that imports this
    from markdown_it import MarkdownIt
    from markdown_it.rules_block import StateBlock
    from markdown_it.tree import SyntaxTreeNode

__all__ = ["MARKER_TOKEN", "SECTION_TYPES", "LayoutSyntaxError", "add_marker_rule", "layout_markdown",
           "marker_error", "marker_word", "marker_words", "merge_layout", "render_document"]

# Section type -> number of cells (Server/DC has the first six plus single; Cloud writes fixed-width for one column
# and adds the rest).
SECTION_TYPES = {"single": 1, "fixed-width": 1, "two_equal": 2, "two_left_sidebar": 2, "two_right_sidebar": 2,
                 "three_equal": 3, "three_with_sidebars": 3, "three_left_sidebars": 3, "three_right_sidebars": 3,
                 "four_equal": 4, "five_equal": 5}
# Section attributes (without `ac:`) a marker line carries as name=value words; ids are bookkeeping (xhtml).
SECTION_ATTRIBUTES = ("breakout-mode", "breakout-width")
MARKER_TOKEN = "layout_marker"
_WORD = re.compile(r"""([a-z][a-z0-9-]*)=(?:'([^'\n]*)'|"([^"\n]*)"|([^\s'"\\]+))(?=\s|$)|(\S+)""")


class LayoutSyntaxError(ValueError):
    """Layout markers that do not describe a layout; the message names the line and the problem."""


def marker_word(name: str, value: str) -> str | None:
    """`name=value` as a marker line carries it (quoted when it has whitespace), or None when it cannot."""
    if re.search(r"['\"\\\n]", value):
        return None
    return f"{name}='{value}'" if re.search(r"\s", value) or not value else f"{name}={value}"


def marker_words(text: str) -> Iterator[tuple[str | None, str, str]]:
    """The words of a marker line as (name, value, word); the name is None for a word that is not `name=value`."""
    for match in _WORD.finditer(text):
        value = next((v for v in match.group(2, 3, 4) if v is not None), "")
        yield (match.group(1) if match.group(5) is None else None), value, match.group(0)


# ---- storage → markdown ---------------------------------------------------------------------------------------

def _only_whitespace(element: Element, tag: str) -> list[Element] | None:
    """The children of `element` when all are `tag` with nothing but whitespace around them, else None."""
    children = list(element)
    if (element.text or "").strip() or any(child.tag != tag or (child.tail or "").strip() for child in children):
        return None
    return children


def _section_line(section: Element) -> str | None:
    attributes = significant_attributes(section)
    kind = attributes.pop("ac:type", "")
    if kind not in SECTION_TYPES:
        return None
    words: list[str | None] = [kind]
    for name, value in attributes.items():
        short = name.removeprefix("ac:")
        if short not in SECTION_ATTRIBUTES or name == short:
            return None
        words.append(marker_word(short, value))
    return None if None in words else " ".join(word for word in words if word)


def layout_markdown(layout: Element, cell_markdown: Callable[[Element], str]) -> str | None:
    """Markers around each cell's markdown, or None when the layout has a shape the markers cannot express."""
    sections = _only_whitespace(layout, "ac:layout-section")
    if not sections or significant_attributes(layout):
        return None
    plan: list[tuple[str, list[Element]]] = []
    for section in sections:
        line, cells = _section_line(section), _only_whitespace(section, "ac:layout-cell")
        if line is None or cells is None or len(cells) != SECTION_TYPES[line.split()[0]]:
            return None
        if any(significant_attributes(cell) for cell in cells):
            return None
        plan.append((line, cells))
    pieces = []
    for number, (line, cells) in enumerate(plan):
        pieces.append(f":::{'layout' if number == 0 else 'section'} {line}")
        for index, cell in enumerate(cells):
            if index:
                pieces.append(":::cell")
            pieces.append(cell_markdown(cell))
    pieces.append(":::")
    return "\n\n".join(piece for piece in pieces if piece)


# ---- markdown → storage ---------------------------------------------------------------------------------------

def _marker_rule(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
    if state.is_code_block(start_line):
        return False
    start = state.bMarks[start_line] + state.tShift[start_line]
    line = state.src[start : state.eMarks[start_line]]
    if not line.startswith(":::"):
        return False
    if silent:
        return True
    token = state.push(MARKER_TOKEN, "", 0)
    token.info = line.lstrip(":").strip()
    token.content = line.strip()
    token.map = [start_line, start_line + 1]
    state.line = start_line + 1
    return True


def add_marker_rule(parser: MarkdownIt) -> None:
    """Marker lines end a paragraph, list or quote before them, like a fence does."""
    parser.block.ruler.before("fence", MARKER_TOKEN, _marker_rule,
                              {"alt": ["paragraph", "reference", "blockquote", "list"]})


@dataclass
class _Section:
    kind: str
    attributes: str
    line: int
    cells: list[list[str]] = field(default_factory=lambda: [[]])


@dataclass
class _Layout:
    line: int
    sections: list[_Section] = field(default_factory=list)

    def storage(self) -> str:
        out = ["<ac:layout>"]
        for section in self.sections:
            out.append(f'<ac:layout-section ac:type="{section.kind}"{section.attributes}>')
            out += [f"<ac:layout-cell>{''.join(cell) or '<p/>'}</ac:layout-cell>" for cell in section.cells]
            out.append("</ac:layout-section>")
        out.append("</ac:layout>")
        return "".join(out)


def _line(node: SyntaxTreeNode) -> int:
    return node.map[0] + 1 if node.map else 0


def _first_word(text: str) -> tuple[str, str]:
    parts = text.split(None, 1)
    return parts[0] if parts else "", parts[1].strip() if len(parts) > 1 else ""


def marker_error(node: SyntaxTreeNode, problem: str) -> LayoutSyntaxError:
    return LayoutSyntaxError(f"Layout marker `{node.content}` on line {_line(node)}: {problem}")


def _section(node: SyntaxTreeNode, rest: str) -> _Section:
    types = ", ".join(SECTION_TYPES)
    kind, rest = _first_word(rest)
    if not kind:
        raise marker_error(node, f"name the section type, one of {types}.")
    if kind not in SECTION_TYPES:
        raise marker_error(node, f"unknown section type {kind!r}; use one of {types}.")
    attributes = []
    for name, value, word in marker_words(rest):
        if name not in SECTION_ATTRIBUTES:
            raise marker_error(node, f"{word!r} is not a section attribute; after the type only "
                                     f"{' and '.join(f'{a}=<value>' for a in SECTION_ATTRIBUTES)} may follow.")
        attributes.append(f' ac:{name}="{escape_attribute(value)}"')
    return _Section(kind, "".join(attributes), _line(node))


def _close_section(layout: _Layout, closing: SyntaxTreeNode) -> None:
    section = layout.sections[-1]
    wanted, found = SECTION_TYPES[section.kind], len(section.cells)
    if wanted != found:
        raise LayoutSyntaxError(
            f"The {section.kind} section opened on line {section.line} has {found} cell{'s' * (found != 1)} but "
            f"takes {wanted}: separate its cells with `:::cell` lines (found at `{closing.content}` on line "
            f"{_line(closing)}).")


def render_document(nodes: list[SyntaxTreeNode], render: Callable[[SyntaxTreeNode], str]) -> str:
    """Top-level blocks rendered with `render`, layout markers grouping them into layouts."""
    out: list[str] = []
    layout: _Layout | None = None
    swallowed = ""  # a fence that ran to the end, taking the closing `:::` with it
    for node in nodes:
        if node.type != MARKER_TOKEN:
            if node.type == "fence" and layout is not None and any(line.strip() == ":::"
                                                                   for line in node.content.splitlines()):
                swallowed = f" (the code fence opened on line {_line(node)} holds the `:::` line: close the fence)"
            rendered = render(node)
            (layout.sections[-1].cells[-1] if layout is not None else out).append(rendered)
            continue
        kind, rest = _first_word(node.info)
        if kind == "layout":
            if layout is not None:
                raise marker_error(node, f"the layout opened on line {layout.line} is still open; close it with a "
                                         "`:::` line first (layouts do not nest).")
            layout = _Layout(_line(node))
            layout.sections.append(_section(node, rest))
        elif kind in ("section", "cell", ""):
            if layout is None:
                what = "closes" if kind == "" else "belongs in"
                raise marker_error(node, f"it {what} a layout, but no layout is open; start one with "
                                         "`:::layout <section type>`.")
            if kind == "cell":
                if rest:
                    raise marker_error(node, "`:::cell` takes no words; the section line names the type.")
                layout.sections[-1].cells.append([])
                continue
            _close_section(layout, node)
            if kind == "section":
                layout.sections.append(_section(node, rest))
            else:
                out.append(layout.storage())
                layout = None
        else:
            raise marker_error(node, "unknown marker; layouts use `:::layout <type>`, `:::section <type>`, "
                                     "`:::cell` and `:::` (write `\\:::` for text that starts with colons).")
    if layout is not None:
        raise LayoutSyntaxError(f"The layout opened on line {layout.line} is not closed: end it with a `:::` line"
                                f"{swallowed}.")
    return "".join(out)


# ---- keeping stored bytes inside an edited layout -------------------------------------------------------------

def merge_layout(old: str, new: str, keep: Callable[[str, str], str]) -> str:
    """`new` (a layout) with the stored bytes of `old` kept wherever they say the same: each cell's content merged
    with `keep`, section and cell tags (and their editor ids) kept when their attributes are unchanged. A layout
    whose sections or cells were added or removed is written as `new`."""
    old_parts, new_parts = element_parts(old), element_parts(new)
    if old_parts is None or new_parts is None or len(old_parts.children) != len(new_parts.children):
        return new
    sections = [_merge_section(o, n, keep) for o, n in zip(old_parts.children, new_parts.children, strict=True)]
    return old_parts.join(sections, None if same_tag(old_parts, new_parts) else new_parts.open)


def _merge_section(old: str, new: str, keep: Callable[[str, str], str]) -> str:
    old_parts, new_parts = element_parts(old), element_parts(new)
    if old_parts is None or new_parts is None or len(old_parts.children) != len(new_parts.children):
        return new
    cells = [merge_content(o, n, keep) for o, n in zip(old_parts.children, new_parts.children, strict=True)]
    return old_parts.join(cells, None if same_tag(old_parts, new_parts) else new_parts.open)
