"""Parse and serialise Confluence storage fragments (XHTML with `ac:`/`ri:` prefixes).

Storage bodies are fragments without namespace declarations and may use named HTML entities (`&nbsp;`).
We parse with expat *without* namespace processing, so `ac:link` stays a plain tag name, and declare only the
HTML entities the fragment actually uses in an internal DTD subset: byte offsets and line numbers of the
original text survive, which `replace_section` and error messages rely on.
"""

from __future__ import annotations

import html.entities
import re
import xml.parsers.expat
from dataclasses import dataclass
from typing import cast
from xml.etree.ElementTree import Comment, Element

__all__ = [
    "CDATA_TAGS",
    "StorageParseError",
    "TopLevelNode",
    "escape_attribute",
    "escape_text",
    "inner_xml",
    "layout_cells",
    "outer_xml",
    "parse_fragment",
    "parse_top_level",
    "remove_forbidden_characters",
    "top_level_nodes",
    "validate_storage",
]

# Elements whose text Confluence keeps in CDATA; we always write them back that way.
CDATA_TAGS = frozenset({"ac:plain-text-body", "ac:plain-text-link-body"})
_XML_ENTITIES = frozenset({"amp", "lt", "gt", "quot", "apos"})
_ENTITY_REFERENCE = re.compile(r"&([A-Za-z][A-Za-z0-9]*);")
# Elements and attributes we never accept from a markdown placeholder, even when well-formed.
_FORBIDDEN_TAGS = frozenset({"script", "style", "iframe", "object", "embed", "form", "input", "meta", "link"})
_ROOT = "storage-root"


class StorageParseError(ValueError):
    """Malformed storage; the message mimics Confluence's 400 text ("Error parsing xhtml: ...")."""

    def __init__(self, reason: str, row: int, column: int) -> None:
        self.reason, self.row, self.column = reason, row, column
        super().__init__(f"Error parsing xhtml: {reason} at [row,col]: [{row},{column}]")


@dataclass(frozen=True)
class TopLevelNode:
    """A top-level element of a fragment with its byte span in the UTF-8 encoded original."""

    element: Element
    start: int
    end: int


def _entity_prefix(storage: str) -> str:
    declarations = []
    for name in sorted(set(_ENTITY_REFERENCE.findall(storage)) - _XML_ENTITIES):
        codepoints = html.entities.html5.get(name + ";")
        if codepoints is not None:
            value = "".join(f"&#{ord(char)};" for char in codepoints)
            declarations.append(f'<!ENTITY {name} "{value}">')
    doctype = f"<!DOCTYPE {_ROOT} [{''.join(declarations)}]>" if declarations else ""
    return f"{doctype}<{_ROOT}>"


class _TreeBuilder:
    """Builds an ElementTree from expat events, recording byte spans of top-level elements."""

    def __init__(self, parser: xml.parsers.expat.XMLParserType, offset: int) -> None:
        self.parser, self.offset = parser, offset
        self.stack: list[Element] = []
        self.last: Element | None = None  # last closed child of stack[-1], receives tail text
        self.root: Element | None = None
        self.spans: list[tuple[Element, int, int]] = []
        self.top_start = 0
        # Children of layout cells get spans too, so a section edit can reach headings inside layouts.
        self.cell_starts: dict[int, int] = {}
        self.cell_spans: dict[int, list[tuple[Element, int, int]]] = {}
        self.cell_ends: list[tuple[Element, int]] = []

    def start(self, tag: str, attributes: dict[str, str]) -> None:
        element = Element(tag, attributes)
        if self.stack:
            self.stack[-1].append(element)
        else:
            self.root = element
        if len(self.stack) == 1:
            self.top_start = self.parser.CurrentByteIndex - self.offset
        elif self.stack and self.stack[-1].tag == "ac:layout-cell":
            self.cell_starts[id(element)] = self.parser.CurrentByteIndex - self.offset
        self.stack.append(element)
        self.last = None

    def end(self, tag: str) -> None:
        element = self.stack.pop()
        if len(self.stack) == 1:
            end = self.parser.CurrentByteIndex - self.offset
            # CurrentByteIndex points at the end tag ("</x>"), or at "<x/>" for an empty element.
            self.spans.append((element, self.top_start, end))
        elif id(element) in self.cell_starts:
            end = self.parser.CurrentByteIndex - self.offset
            self.cell_spans.setdefault(id(self.stack[-1]), []).append((element, self.cell_starts[id(element)], end))
        if tag == "ac:layout-cell":
            self.cell_ends.append((element, self.parser.CurrentByteIndex - self.offset))
        self.last = element

    def data(self, text: str) -> None:
        if not self.stack:
            return
        if self.last is not None:
            self.last.tail = (self.last.tail or "") + text
        else:
            parent = self.stack[-1]
            parent.text = (parent.text or "") + text

    def comment(self, text: str) -> None:
        if not self.stack:
            return
        node = cast(Element, Comment(text))
        self.stack[-1].append(node)
        if len(self.stack) == 1:
            start = self.parser.CurrentByteIndex - self.offset
            self.spans.append((node, start, start + len(f"<!--{text}-->".encode())))
        self.last = node


def _parse(storage: str) -> tuple[Element, list[tuple[Element, int, int]], bytes]:
    root, builder, body = _build(storage)
    return root, builder.spans, body


def _build(storage: str) -> tuple[Element, _TreeBuilder, bytes]:
    prefix = _entity_prefix(storage)
    body = storage.encode("utf-8")
    data = prefix.encode("utf-8") + body + f"</{_ROOT}>".encode()
    parser = xml.parsers.expat.ParserCreate("utf-8")
    builder = _TreeBuilder(parser, len(prefix.encode("utf-8")))
    parser.buffer_text = True
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    parser.CommentHandler = builder.comment
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError as error:
        row, column = error.lineno, error.offset + 1
        if row == 1:
            column = max(1, column - len(prefix))
        reason = xml.parsers.expat.ErrorString(error.code) if error.code else str(error)
        if parser.ErrorByteIndex >= len(data) - len(f"</{_ROOT}>") and len(builder.stack) > 1:
            # The error is in our closing wrapper: the body left an element open.
            reason = f"unexpected end of content, element <{builder.stack[-1].tag}> is not closed"
        raise StorageParseError(reason or "malformed XML", row, column) from None
    assert builder.root is not None
    return builder.root, builder, body


def _fix_end_spans(spans: list[tuple[Element, int, int]], body: bytes) -> list[TopLevelNode]:
    nodes = []
    for element, start, end in spans:
        if isinstance(element.tag, str) and body[end : end + 2] == b"</":
            end = body.index(b">", end) + 1
        elif isinstance(element.tag, str):  # self-closing: CurrentByteIndex was the start of "<x/>"
            end = body.index(b">", start) + 1
        nodes.append(TopLevelNode(element, start, end))
    return nodes


def parse_fragment(storage: str) -> Element:
    """Parse a storage fragment into a synthetic root element (tags keep their `ac:` prefixes)."""
    root, _, _ = _parse(storage)
    return root


def top_level_nodes(storage: str) -> tuple[list[TopLevelNode], bytes]:
    """Top-level elements with byte spans into the returned UTF-8 body (for byte-exact splicing)."""
    _, nodes, body = parse_top_level(storage)
    return nodes, body


def parse_top_level(storage: str) -> tuple[Element, list[TopLevelNode], bytes]:
    """The synthetic root (`parse_fragment`) and the top-level elements with their spans, from one parse."""
    root, spans, body = _parse(storage)
    return root, _fix_end_spans(spans, body), body


def layout_cells(storage: str) -> tuple[list[tuple[list[TopLevelNode], int]], bytes]:
    """Per `ac:layout-cell`, in page order: its child elements with byte spans, and where its content ends."""
    _, builder, body = _build(storage)
    cells = []
    for cell, end in builder.cell_ends:
        if body[end : end + 2] == b"</":  # an empty self-closed cell has no content to edit
            cells.append((_fix_end_spans(builder.cell_spans.get(id(cell), []), body), end))
    return cells, body


def validate_storage(storage: str, *, strict: bool = False) -> None:
    """Raise `StorageParseError` unless `storage` is a well-formed fragment.

    `strict` additionally refuses active content (scripts, event handler attributes), used for placeholders
    that come back from markdown written by a model.
    """
    root = parse_fragment(storage)
    if strict:
        for element in root.iter():
            if not isinstance(element.tag, str):
                continue
            if element.tag.lower() in _FORBIDDEN_TAGS:
                raise StorageParseError(f"element <{element.tag}> is not allowed", 1, 1)
            for name, value in element.attrib.items():
                if name.lower().startswith("on") or "javascript:" in value.lower().replace(" ", ""):
                    raise StorageParseError(f"attribute {name} is not allowed", 1, 1)


# Characters XML 1.0 forbids even as references; they are dropped so output always parses.
_FORBIDDEN_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def remove_forbidden_characters(text: str) -> str:
    return _FORBIDDEN_CHARACTERS.sub("", text)


def escape_text(text: str) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _FORBIDDEN_CHARACTERS.sub("", text)


def escape_attribute(value: str) -> str:
    return escape_text(value).replace('"', "&quot;")


def _cdata(text: str) -> str:
    return "<![CDATA[" + remove_forbidden_characters(text).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def outer_xml(element: Element, *, with_tail: bool = False) -> str:
    """Serialise an element back to storage (CDATA for plain-text bodies, `<x/>` for empty elements)."""
    parts: list[str] = []
    _write(element, parts)
    if with_tail and element.tail:
        parts.append(escape_text(element.tail))
    return "".join(parts)


def inner_xml(element: Element) -> str:
    parts: list[str] = []
    if element.text:
        parts.append(_cdata(element.text) if element.tag in CDATA_TAGS else escape_text(element.text))
    for child in element:
        _write(child, parts)
        if child.tail:
            parts.append(escape_text(child.tail))
    return "".join(parts)


def _write(element: Element, parts: list[str]) -> None:
    if element.tag is Comment:
        parts.append(f"<!--{element.text or ''}-->")
        return
    attributes = "".join(f' {name}="{escape_attribute(value)}"' for name, value in element.attrib.items())
    content = inner_xml(element)
    if content:
        parts.append(f"<{element.tag}{attributes}>{content}</{element.tag}>")
    else:
        parts.append(f"<{element.tag}{attributes}/>")
