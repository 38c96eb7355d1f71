"""Small pieces of reading storage inline: labels for opaque elements, link destinations markdown-it reads back,
and the whitespace at the edges of inline markup that markdown markers cannot hold."""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element

from .canonical import significant_attributes
from .markdownify_ext import escape_markdown
from .xhtml import inner_xml

__all__ = ["code_as_tag", "describe", "element_text", "link_edge_spaces", "macro_parameters", "markdown_label",
           "markup", "url_part"]

_WHITESPACE = re.compile(r"\s+")
# Inline markup markdownify writes with `chomp`, which moves a plain space at its edges outside the markers but drops
# any other whitespace there (`beta<strong>&nbsp;x</strong>` would read `beta**x**`, gluing the words).
_CHOMPED = frozenset({"strong", "em", "code", "a", "del"})
_EDGE_SPACE = re.compile(r"^(\s*)(.*?)(\s*)$", re.DOTALL)


def code_as_tag(element: Element, previous: Element | None) -> bool:
    """Code a code span cannot write, read as a `<code>` tag: holding markup (`<code><em>x</em></code>`), or right
    after other code (`` `a``b` `` is one span)."""
    if element.tag != "code" or significant_attributes(element):
        return False
    return len(element) > 0 or (previous is not None and previous.tag == "code" and not previous.tail)


def markdown_label(text: str) -> str:
    return escape_markdown(_WHITESPACE.sub(" ", text).strip())


def element_text(element: Element) -> str:
    return _WHITESPACE.sub(" ", "".join(element.itertext())).strip()


def macro_parameters(macro: Element) -> dict[str, str]:
    return {p.get("ac:name", ""): "".join(p.itertext()) for p in macro if p.tag == "ac:parameter"}


_LEADING_SPACE = re.compile(r"^(?:<[^/>][^>]*(?<!/)>)*(\s+)")  # after opening tags only
_TRAILING_SPACE = re.compile(r"(\s+)(?:</[^>]+>)*$")


def link_edge_spaces(link: Element) -> tuple[str, str]:
    """The whitespace at the edges of a link's text, which markdown's `[label]` cannot hold: written beside the
    link instead, so `a<ac:link>...[ b]...</ac:link>` does not read `a[b](...)`, gluing the words."""
    body = next((child for child in link if child.tag in ("ac:link-body", "ac:plain-text-link-body")), None)
    if body is None or not "".join(body.itertext()).strip():
        return "", ""
    text = body.text or "" if body.tag == "ac:plain-text-link-body" else inner_xml(body)
    lead, trail = _LEADING_SPACE.match(text), _TRAILING_SPACE.search(text)

    def space(match: re.Match[str] | None) -> str:
        return "" if match is None else "\u00a0" if "\u00a0" in match.group(1) else " "

    return space(lead), space(trail)


def markup(tag: str, attributes: str, inner: str) -> str:
    """HTML for markdownify; around inline markup, the whitespace at its edges (`&nbsp;` too) stands outside it."""
    if tag not in _CHOMPED:
        return f"<{tag}{attributes}>{inner}</{tag}>"
    match = _EDGE_SPACE.match(inner)
    assert match is not None
    lead, core, trail = match.groups()
    return f"{lead}<{tag}{attributes}>{core}</{tag}>{trail}"


def url_part(value: str) -> str:
    """A link destination markdown-it reads back unchanged (angle brackets when it has spaces)."""
    if re.search(r"[\s()<>]", value) or not value:
        return "<" + value.replace("<", "%3C").replace(">", "%3E") + ">"
    return value


def describe(element: Element) -> str:
    """A short human label naming what an opaque inline element is."""
    if not isinstance(element.tag, str):
        return "comment"
    tag = element.tag
    if tag == "ac:structured-macro":
        name = element.get("ac:name", "macro")
        parameters = macro_parameters(element)
        if name == "status":
            return f"status: {parameters.get('title', '')}".strip()
        if name == "jira":
            return f"jira: {parameters.get('key', '')}".strip()
        body = next((child for child in element if child.tag in ("ac:plain-text-body", "ac:rich-text-body")), element)
        text = element_text(body)  # the code, not its language parameter
        return f"macro {name}" + (f": {text[:60]}" if text else "")
    if tag == "ac:emoticon":
        return f"emoticon: {element.get('ac:name', '')}"
    if tag == "time":
        return f"date: {element.get('datetime', '')}"
    if tag == "ac:link":
        for child in element.iter():
            if child.tag == "ri:user":
                return "@user " + next(iter(child.attrib.values()), "")
            if child.tag == "ri:attachment":
                return f"attachment: {child.get('ri:filename', '')}"
            if child.tag == "ri:page":
                return f"page: {child.get('ri:content-title', '')}"
    if tag == "ac:image":
        for child in element.iter():
            if child.tag == "ri:attachment":
                return f"image: {child.get('ri:filename', '')}"
            if child.tag == "ri:url":
                return f"image: {child.get('ri:value', '')}"
    text = element_text(element)
    return f"{tag.removeprefix('ac:')}: {text}" if text else tag
