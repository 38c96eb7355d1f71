"""The canonical form of storage, for deciding whether two spellings render alike.

Reading checks each block's round trip with it, and writing keeps a stored block whose canonical form (and shown
text, `visible.visible_text`) equals the new one's; so it may only equate what renders alike. What it drops is
editor bookkeeping: ids, empty paragraphs, default attributes, the wrappers editors put around a cell's content; and
it joins adjacent runs of one format (`<strong>a</strong><strong>b</strong>` is `<strong>ab</strong>`).
"""

from __future__ import annotations

import re
from copy import copy
from xml.etree.ElementTree import Comment, Element

from .xhtml import escape_attribute, escape_text, parse_fragment

__all__ = [
    "CELL_BLOCK_MACROS",
    "TASK_BOOKKEEPING",
    "canonical_element",
    "canonicalize",
    "cell_content",
    "cell_paragraph",
    "is_cell_block",
    "is_ignorable",
    "joined_runs",
    "nested_beside",
    "significant_attributes",
    "split_task_body",
    "task_body_content",
]

_WHITESPACE = re.compile(r"\s+")
# Editor bookkeeping that changes nothing a reader sees: ids (the Cloud editor's `ri:local-id` on a mention too), the
# target's version when the link was saved.
_IGNORED_ATTRIBUTES = frozenset({"ac:macro-id", "local-id", "ac:local-id", "ri:local-id", "ri:version-at-save",
                                 "ac:task-list-id"})
# The Server editor's paragraph for the cursor beside a macro or table (empty, or typed into): styled as any other.
_CURSOR_CLASS = "auto-cursor-target"
# Table attributes the Cloud and Server editors add to every table (default layout, width, Server's wrapper).
_IGNORED_TABLE_ATTRIBUTES = {"data-layout": "default", "class": "wrapped", "data-table-width": None}
_CELLS = frozenset({"td", "th"})
# Macros that stand as a block of their own in a cell (a code block, a panel); the others sit in a paragraph.
CELL_BLOCK_MACROS = frozenset({"code", "noformat", "info", "note", "warning", "tip", "expand", "panel", "toc",
                               "section", "column", "details", "excerpt", "children", "attachments", "gallery"})
_CELL_BLOCK_TAGS = frozenset({"p", "div", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
                              "pre", "hr", "ac:task-list", "ac:layout", "ac:adf-extension"})
# A Cloud smart link's card (`<a href data-card-appearance="inline|block|embed">`, its embed's size): how the editor
# shows a link markdown writes as a plain one; kept as stored while the link's target and text are (`inline_merge`).
_SMART_LINK_ATTRIBUTES = ("data-card-appearance", "data-layout", "data-width")
# Inline formatting whose adjacent runs render as one run: `<strong>a</strong><strong>b</strong>` is
# `<strong>ab</strong>`. Not `code`: each of its runs is a box of its own on the page.
_RUNS = frozenset({"strong", "b", "em", "i", "u", "s", "del", "sub", "sup", "span"})
# A task's id (unique in its page: `task_ids.unique_task_ids`) and the Cloud editor's uuid: neither is shown.
TASK_BOOKKEEPING = frozenset({"ac:task-id", "ac:task-uuid"})


def significant_attributes(element: Element) -> dict[str, str]:
    """The attributes that change what Confluence shows; the rest is editor bookkeeping."""
    kept = {k: v for k, v in element.attrib.items() if k not in _IGNORED_ATTRIBUTES}
    if "class" in kept and (not kept["class"].strip() or (element.tag == "p" and kept["class"] == _CURSOR_CLASS)):
        del kept["class"]  # the Server editor's `class=""` on rows and column groups styles nothing
    if element.tag == "ol" and kept.get("start") == "1":  # the default start
        del kept["start"]
    if element.tag in _CELLS:  # the Server editor writes colspan="1" on most cells
        for name in ("colspan", "rowspan"):
            if kept.get(name) == "1":
                del kept[name]
    if element.tag == "a" and "data-card-appearance" in kept:
        for name in _SMART_LINK_ATTRIBUTES:
            kept.pop(name, None)
    if kept.get("data-layout") == "default":  # Cloud's default breakout, on block macros as on tables
        del kept["data-layout"]
    if element.tag == "table":
        for name, default in _IGNORED_TABLE_ATTRIBUTES.items():
            if name in kept and default in (None, kept[name]):
                del kept[name]
    return kept


def is_cell_block(element: Element) -> bool:
    """An element that stands as a block of its own in a cell, not inside a paragraph."""
    if element.tag == "ac:structured-macro":
        return element.get("ac:name", "") in CELL_BLOCK_MACROS
    return element.tag in _CELL_BLOCK_TAGS


def is_ignorable(element: Element) -> bool:
    """Renders as nothing a reader would miss: an empty paragraph (Server's `<p><br/></p>` too), a table's column
    widths, a task's id and uuid (ids only need to be unique in a page: see `task_ids.unique_task_ids`)."""
    if element.tag == "colgroup" or element.tag in TASK_BOOKKEEPING:
        return True
    if element.tag != "p" or (element.text or "").strip() or significant_attributes(element):
        return False
    return not len(element) or (len(element) == 1 and element[0].tag == "br" and not (element[0].tail or "").strip()
                                and not element[0].attrib)


def joined_runs(children: list[Element]) -> list[Element]:
    """`children` with each run of adjacent elements of one format, no text between them, as one (new) element;
    the elements given are left unchanged."""
    out: list[Element] = []
    for child in children:
        previous = out[-1] if out else None
        if previous is not None and isinstance(child.tag, str) and child.tag == previous.tag and child.tag in _RUNS \
                and not previous.tail and significant_attributes(child) == significant_attributes(previous):
            out[-1] = _joined(previous, child)
        else:
            out.append(child)
    return out


def _joined(left: Element, right: Element) -> Element:
    joined = Element(left.tag, left.attrib)
    joined.text = left.text
    joined.extend(list(left))
    if len(joined):
        last = joined[-1] = copy(joined[-1])  # a copy, to add the right run's text to its tail
        last.tail = (last.tail or "") + (right.text or "")
    else:
        joined.text = (joined.text or "") + (right.text or "")
    joined.extend(list(right))
    joined.tail = right.tail
    return joined


def cell_paragraph(cell: Element) -> Element | None:
    """The one plain `<p>` a cell holds alone (`<td><p>x</p></td>` renders as `<td>x</td>`), else None."""
    children = [child for child in cell if not is_ignorable(child)]
    if cell.tag not in _CELLS or len(children) != 1 or children[0].tag != "p" or (cell.text or "").strip():
        return None
    paragraph = children[0]
    if significant_attributes(paragraph) or any((child.tail or "").strip() for child in cell):
        return None
    return paragraph


def cell_content(element: Element) -> Element:
    """What a table cell (or a list item in one) holds, without the editors' wrappers: Server's content-wrapper
    `<div>`, a `<p>` alone or before nothing but lists (Cloud's `<li><p>x</p><ul>`), a lone `<br/>` (Server's
    empty cell). A detached element when something was unwrapped, else `element` itself."""
    content, children = element, _cell_children(element)
    if element.tag in _CELLS and children and len(children) == 1 and children[0].tag == "div" \
            and significant_attributes(children[0]) == {"class": "content-wrapper"}:
        content, children = children[0], _cell_children(children[0])
    if children and children[0].tag == "p" and not significant_attributes(children[0]) \
            and all(child.tag in ("ul", "ol") for child in children[1:]):
        content = Element(element.tag)
        content.text = children[0].text
        content.extend([*children[0], *children[1:]])
    if element.tag in _CELLS and [child.tag for child in _cell_children(content) or ()] == ["br"]:
        return Element(element.tag)
    return content


def task_body_content(body: Element) -> Element:
    """A task's body without the Cloud editor's `<span class="placeholder-inline-tasks">` around all its text (the
    task lists nested after it stay)."""
    children = _cell_children(body)
    if not children or children[0].tag != "span" \
            or significant_attributes(children[0]) != {"class": "placeholder-inline-tasks"} \
            or any(child.tag != "ac:task-list" for child in children[1:]):
        return body
    if len(children) == 1:
        return children[0]
    content = Element(body.tag)
    content.text = children[0].text
    content.extend([*children[0], *children[1:]])
    return content



def split_task_body(body: Element) -> tuple[Element, list[Element]]:
    """A task's body without the task lists that end it (whitespace between them at most), and those lists:
    markdown's tasks nested under it."""
    nested: list[Element] = []
    for child in reversed(body):
        if child.tag != "ac:task-list" or (child.tail or "").strip():
            break
        nested.insert(0, child)
    if not nested:
        return body, []
    rest = Element(body.tag, body.attrib)
    rest.text = body.text
    rest.extend(list(body)[: len(body) - len(nested)])
    return rest, nested


def nested_beside(task_list: Element) -> Element:
    """The task list with the task lists that end a task's body moved right after the task, into the list: the
    shape Confluence's editors store nested tasks in, which renders alike. A detached copy when any moved."""
    moved = Element(task_list.tag, task_list.attrib)
    moved.text = task_list.text
    for task in task_list:
        body = next((child for child in task if child.tag == "ac:task-body"), None) if task.tag == "ac:task" else None
        if body is None or not (split := split_task_body(task_body_content(body)))[1]:
            moved.append(task)
            continue
        own, nested = split
        own.tail = body.tail
        copy = Element(task.tag, task.attrib)
        copy.text, copy.tail = task.text, task.tail
        copy.extend(own if child is body else child for child in task)
        moved.extend([copy, *nested])
    return moved if len(moved) != len(task_list) else task_list

def _cell_children(element: Element) -> list[Element] | None:
    """The elements that are not editor bookkeeping, or None when text lies loose between them."""
    if (element.text or "").strip() or any((child.tail or "").strip() for child in element):
        return None
    return [child for child in element if not is_ignorable(child)]


def canonicalize(storage: str) -> str:
    """A canonical form for semantic comparison.

    Whitespace collapsed, attributes sorted, macro parameters sorted by name; editor bookkeeping (ids, empty
    paragraphs, column widths, a cell's lone paragraph wrapper) dropped. Reading verifies round trips with it and
    writing keeps the stored original of every block it calls equal, so it must only equate what renders alike."""
    return canonical_element(parse_fragment(storage))


def canonical_element(element: Element) -> str:
    parts: list[str] = []
    _canonical(element, parts)
    return "".join(parts)


def _canonical_text(text: str | None) -> str:
    return escape_text(_WHITESPACE.sub(" ", text or "").strip())


def _canonical_children(children: list[Element], element: Element) -> list[Element]:
    children = [child for child in children if not (isinstance(child.tag, str) and is_ignorable(child))]
    if element.tag == "ac:link" and len(children) == 2 and _is_default_label(children[0], children[1]):
        children = children[:1]  # the Cloud editor writes the title as the link text; without it Confluence shows it
    if element.tag == "ac:structured-macro":  # parameter order carries no meaning
        children.sort(key=lambda child: (child.tag != "ac:parameter", child.get("ac:name", "")
                                         if child.tag == "ac:parameter" else ""))
    return children


def _is_default_label(target: Element, body: Element) -> bool:
    name = target.get("ri:content-title") if target.tag == "ri:page" else \
        target.get("ri:filename") if target.tag == "ri:attachment" else None
    plain = body.tag in ("ac:link-body", "ac:plain-text-link-body") and not len(body)
    return plain and name is not None and _WHITESPACE.sub(" ", body.text or "").strip() == name.strip()


def _canonical(element: Element, parts: list[str], in_cell: bool = False) -> None:
    if element.tag is Comment:
        parts.append(f"<!--{_canonical_text(element.text)}-->")
        return
    if is_ignorable(element):
        return
    attributes = sorted(significant_attributes(element).items())
    rendered = "".join(f' {k}="{escape_attribute(_WHITESPACE.sub(" ", v).strip())}"' for k, v in attributes)
    tag = element.tag
    if tag == "ac:link-body" and not len(element):  # plain text either way
        tag = "ac:plain-text-link-body"
    parts.append(f"<{tag}{rendered}>")
    in_cell = in_cell or tag in _CELLS
    # A list item's lone <p> (before nested lists at most) is the Cloud editor's wrapper, in a cell or not.
    content = cell_content(element) if tag in _CELLS or tag == "li" else \
        task_body_content(element) if tag == "ac:task-body" else \
        nested_beside(element) if tag == "ac:task-list" else element  # nested tasks in either shape alike
    parts.append(_canonical_text(content.text))
    children = joined_runs(list(content))
    kept = _canonical_children(children, content)
    for child in kept:
        _canonical(child, parts, in_cell)
        parts.append(_canonical_text(child.tail))
    # A dropped element's tail is still text on the page.
    parts.append(_canonical_text("".join(child.tail or "" for child in children if child not in kept)))
    parts.append(f"</{tag}>")
