"""Raw HTML in markdown: the tags with an exact storage form, `<details>` sections, and what to do with the rest.

Blocks are parsed with HTML off, as before (a line starting with `<div>` is a paragraph); inline content holding a
`<` is parsed again with HTML on, so markdown-it tells tags (`<b>`, `List<String>`) from text (`a < b`,
`Map<String, Integer>`). A tag counts as HTML when its name is lower case and an HTML element's (a bare opening
tag only for elements nobody uses as a placeholder: `<input>` or `<title>` alone stay prose); every other tag
(`<String>`, `<u8>`, `<version>`) is prose and stays text exactly as before.

Of the HTML, `<br>`, `<b>`/`<strong>`, `<i>`/`<em>`, `<u>`, `<s>`/`<del>`/`<strike>` (the editor's strike span),
`<sub>`, `<sup>`, `<code>`, `<kbd>` (as code: storage has no key tag) and a bare `<span>` (its text) become storage
when paired in one paragraph or cell, and lines of `<details>`, `<summary>Title</summary>` and `</details>` around
markdown become the expand macro, the summary's text its title (formatting dropped: a title is plain). Any other HTML
(`<div>`, `<img>`, `<table>`, `<script>`, comments) raises `RawHtmlError` naming the tag and what to write instead
when the caller is strict (the write tools are); otherwise it stays text, as it used to.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock
from markdown_it.token import Token
from markdown_it.tree import SyntaxTreeNode

__all__ = ["STRIKE_SPAN", "RawHtmlError", "add_details_rule", "balance_details", "is_markup", "maybe_html",
           "prose_as_text", "render_inline_html"]

STRIKE_SPAN = '<span style="text-decoration: line-through;">'
# Tag -> its storage (opening, closing).
_STORAGE = {"b": ("<strong>", "</strong>"), "strong": ("<strong>", "</strong>"), "i": ("<em>", "</em>"),
            "em": ("<em>", "</em>"), "u": ("<u>", "</u>"), "sub": ("<sub>", "</sub>"), "sup": ("<sup>", "</sup>"),
            "code": ("<code>", "</code>"), "s": (STRIKE_SPAN, "</span>"), "del": (STRIKE_SPAN, "</span>"),
            "strike": (STRIKE_SPAN, "</span>"), "span": ("", ""),
            "kbd": ("<code>", "</code>")}  # storage has no key tag; Confluence shows keys as code
# HTML even as a bare opening tag: nobody writes these as placeholders in prose.
_MARKUP = frozenset({*_STORAGE, "br", "details", "summary", "div", "p", "hr", "table", "thead", "tbody", "tfoot",
                     "tr", "td", "th", "ul", "ol", "li", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "pre",
                     "blockquote", "center", "font", "kbd", "mark", "tt", "script", "style", "iframe", "wbr", "nobr"})
# Other HTML elements: HTML when closed, self-closed or given attributes (`<input>` alone is a placeholder).
_OTHER_ELEMENTS = (
    "a abbr address area article aside audio base bdi bdo big body button canvas caption cite col colgroup data "
    "datalist dfn dialog embed fieldset figcaption figure footer form frame frameset head header hgroup html img "
    "input ins label legend link main map marquee math menu meta meter nav noscript object optgroup option output "
    "param picture progress q rp rt ruby samp search section select slot small source style svg template textarea "
    "time title track var video")
_ELEMENTS = _MARKUP | frozenset(_OTHER_ELEMENTS.split())
_TAG = re.compile(r"^<(/?)([A-Za-z][A-Za-z0-9-]*)(.*?)(/?)>$", re.DOTALL)
_MAYBE_TAG = re.compile(r"<[A-Za-z/!]")

_INSTEAD = {
    "a": "a link is [text](https://...)",
    "img": "an image is ![alt](https://...) or ![alt](file.png)",
    "p": "paragraphs are separated by a blank line",
    "hr": "a rule is a `---` line",
    "pre": "a code block is a ``` fence",
    "blockquote": "a quote is `> ` lines",
    "details": "an expand section is a `<details>` line, a `<summary>Title</summary>` line, the markdown, then a "
               "`</details>` line (or `> [!EXPAND] Title`)",
    "ins": "underline is <u>...</u>",
    "!--": "Confluence keeps no HTML comments: leave the note out",
    "summary": "`<summary>Title</summary>` goes on the line after `<details>`",
    **dict.fromkeys(("tt", "samp", "var"), "use a `code` span"),
    **dict.fromkeys(("h1", "h2", "h3", "h4", "h5", "h6"), "headings are `#` to `######` lines"),
    **dict.fromkeys(("ul", "ol", "li", "dl", "dt", "dd"), "lists are `- item` or `1. item` lines"),
    **dict.fromkeys(("table", "thead", "tbody", "tfoot", "tr", "td", "th", "caption", "colgroup", "col"),
                    "a table is a GFM table (`| a | b |` rows under a `| --- | --- |` line)"),
}
_NO_FORM = 'send the page with body_format="storage" to write storage XHTML yourself'


class RawHtmlError(ValueError):
    """Raw HTML in markdown that has no storage form; the message names the tag and what to write instead."""


@dataclass(frozen=True)
class _Tag:
    name: str  # lower case for the tags we convert
    closing: bool
    attributes: str
    self_closing: bool


def _parse_tag(source: str) -> _Tag | None:
    """An element tag's parts; None for comments, declarations, processing instructions and CDATA."""
    match = _TAG.match(source)
    if match is None:
        return None
    name = match.group(2)
    return _Tag(name.lower() if name.lower() == "br" else name, bool(match.group(1)), match.group(3).strip(),
                bool(match.group(4)))


def is_markup(source: str) -> bool:
    """HTML someone wrote as markup, not prose such as `List<String>` or `<name>` (see the module docstring)."""
    if source.startswith("<!--"):
        return True
    tag = _parse_tag(source)
    if tag is None or tag.name != tag.name.lower() or tag.name not in _ELEMENTS:
        return False
    return tag.name in _MARKUP or tag.closing or tag.self_closing or bool(tag.attributes)


def prose_as_text(children: list[Token], text_children: Callable[[str], list[Token]]) -> list[Token]:
    """Inline tokens parsed with HTML on, with prose tags put back as the HTML-off parser reads them."""
    out: list[Token] = []
    for token in children:
        if token.type == "html_inline" and not is_markup(token.content):
            out.extend(text_children(token.content))
        else:
            out.append(token)
    return out


def maybe_html(content: str) -> bool:
    return _MAYBE_TAG.search(content) is not None


def refusal(source: str, problem: str = "") -> RawHtmlError:
    tag = _parse_tag(source)
    name = "!--" if tag is None else tag.name.lower()
    shown = source if len(source) <= 80 else source[:77] + "..."
    if not problem:
        problem = "is not converted: " + (_INSTEAD.get(name) or f"markdown has no form for `<{name}>`; {_NO_FORM}")
    return RawHtmlError(f"Raw HTML `{shown}` {problem}. To show it as text, put it in a `code` span or escape it "
                        f"as `\\{shown}`.")


def render_inline_html(nodes: list[SyntaxTreeNode], render: Callable[[SyntaxTreeNode], str],
                       text: Callable[[str], str], strict: bool) -> str:
    """Inline nodes with their HTML tags paired into storage; `render` renders the others, `text` the tags that
    stay text (when not strict)."""
    parts: list[str] = []
    stack: list[tuple[str, str, list[str]]] = []  # per open tag: its source, its name, the parts before it
    for node in nodes:
        if node.type != "html_inline":
            parts.append(render(node))
            continue
        source = str(node.content)
        tag = _parse_tag(source)
        if tag is not None and tag.name == "br" and not tag.closing and not tag.attributes:
            parts.append("<br/>")
        elif tag is not None and tag.name in _STORAGE and not tag.attributes and not tag.self_closing:
            if not tag.closing:
                stack.append((source, tag.name, parts))
                parts = []
            elif stack and stack[-1][1] == tag.name:
                _, name, outer = stack.pop()
                outer.append(_STORAGE[name][0] + "".join(parts) + _STORAGE[name][1])
                parts = outer
            elif strict:
                inner = f" while `<{stack[-1][1]}>` is still open" if stack else ""
                raise refusal(source, f"closes no `<{tag.name}>` opened before it in the same paragraph{inner}")
            else:
                parts.append(text(source))
        elif strict:
            raise refusal(source, "takes no attributes here: colours, classes and styles have no markdown form "
                                  '(send body_format="storage" for them)' if tag and tag.name in _STORAGE else "")
        else:
            parts.append(text(source))
    while stack:
        source, name, outer = stack.pop()
        if strict:
            raise refusal(source, f"is not closed in the same paragraph: end it with `</{name}>`")
        parts = [*outer, text(source), *parts]
    return "".join(parts)


# ---- <details> lines -------------------------------------------------------------------------------------------

_DETAILS_OPEN = re.compile(r"<details(?:\s+open)?\s*>")
_DETAILS_CLOSE = re.compile(r"</details\s*>")
_SUMMARY = re.compile(r"<summary>(.*?)</summary>")
_CLOSE_AT_END = re.compile(r"</details\s*>\s*$")
DETAILS_OPEN, DETAILS_CLOSE = "details_open", "details_close"
TOO_DEEP = "details_too_deep"  # env key: the first `<details>` line nested deeper than the parser goes


def details_limit(parser: MarkdownIt) -> int:
    """How deep `<details>` sections nest at the top level: markdown-it stops parsing, dropping the rest, where its
    tokens nest `maxNesting` deep (lists and quotes around a section count too)."""
    return int(parser.options["maxNesting"]) - 1


def _details_rule(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
    """A line of `<details>`, `<summary>T</summary>` (right after one) and `</details>` tags, and any markdown
    after them on the line; like a fence, it ends a paragraph, list or quote before it."""
    if state.is_code_block(start_line):
        return False
    start = state.bMarks[start_line] + state.tShift[start_line]
    line = state.src[start : state.eMarks[start_line]]
    after_open = bool(state.tokens) and state.tokens[-1].type == DETAILS_OPEN and not state.tokens[-1].info
    if not (_DETAILS_OPEN.match(line) or _DETAILS_CLOSE.match(line) or (after_open and _SUMMARY.match(line))):
        return False
    if state.level + len(_DETAILS_OPEN.findall(line)) > details_limit(state.md):
        # Opened, the parser would drop the rest of the page: the line stays text, and a strict write names why.
        state.env.setdefault(TOO_DEEP, (start_line + 1, line.strip()))
        return False
    if silent:
        return True
    position = 0
    while True:
        while position < len(line) and line[position].isspace():
            position += 1
        summary = _SUMMARY.match(line, position)
        opening, closing = _DETAILS_OPEN.match(line, position), _DETAILS_CLOSE.match(line, position)
        if summary and state.tokens and state.tokens[-1].type == DETAILS_OPEN and not state.tokens[-1].info:
            state.tokens[-1].info = summary.group(1).strip() or " "  # " ": a summary was given, even if empty
            state.tokens[-1].content += summary.group(0)
            position = summary.end()
        elif opening or closing:
            match = opening or closing
            assert match is not None
            token = state.push(DETAILS_OPEN if opening else DETAILS_CLOSE, "details", 1 if opening else -1)
            token.content, token.map, token.block = match.group(0), [start_line, start_line + 1], True
            position = match.end()
        else:
            break
    rest = line[position:].strip()
    closer = _CLOSE_AT_END.search(rest)
    if rest and not (closer and closer.start() == 0):
        _push_paragraph(state, rest[: closer.start()] if closer else rest, start_line)
    if closer:
        token = state.push(DETAILS_CLOSE, "details", -1)
        token.content, token.map, token.block = closer.group(0).strip(), [start_line, start_line + 1], True
    state.line = start_line + 1
    return True


def _push_paragraph(state: StateBlock, content: str, line: int) -> None:
    state.push("paragraph_open", "p", 1).map = [line, line + 1]
    inline = state.push("inline", "", 0)
    inline.content, inline.map, inline.children = content.strip(), [line, line + 1], []
    state.push("paragraph_close", "p", -1)


def add_details_rule(parser: MarkdownIt) -> None:
    parser.block.ruler.before("lheading", "details", _details_rule,
                              {"alt": ["paragraph", "reference", "blockquote", "list"]})


def balance_details(tokens: list[Token], strict: bool, as_text: Callable[[str, Token], list[Token]],
                    env: dict[str, Any], limit: int) -> list[Token]:
    """The tokens with every `<details>` closed in the container (list item, quote) it opened in; the tags that are
    not, and lines nested deeper than `limit` (`env[TOO_DEEP]`, left as text), raise `RawHtmlError` when strict,
    else become paragraphs of text (`as_text`)."""
    too_deep = env.pop(TOO_DEEP, None)
    if too_deep is not None and strict:
        line, source = too_deep
        raise refusal(source, f"on line {line} is nested too deep: `<details>` sections nest at most {limit} levels "
                              "(fewer inside lists and quotes); close some before opening another")
    unmatched: set[int] = set()
    stack: list[int] = []
    for index, token in enumerate(tokens):
        if token.nesting == 1:
            stack.append(index)
        elif token.type == DETAILS_CLOSE:
            if stack and tokens[stack[-1]].type == DETAILS_OPEN:
                stack.pop()
            else:
                unmatched.add(index)
        elif token.nesting == -1:
            while stack and tokens[stack[-1]].type == DETAILS_OPEN:
                unmatched.add(stack.pop())
            if stack:
                stack.pop()
    unmatched.update(index for index in stack if tokens[index].type == DETAILS_OPEN)
    if not unmatched:
        return tokens
    if strict:
        first = tokens[min(unmatched)]
        line = first.map[0] + 1 if first.map else 0
        problem = (f"on line {line} is never closed: end the section with a `</details>` line in the same list "
                   "item or quote" if first.type == DETAILS_OPEN else
                   f"on line {line} closes no `<details>` opened in the same list item or quote")
        raise refusal(first.content, problem)
    out: list[Token] = []
    for index, token in enumerate(tokens):
        out.extend(as_text(token.content, token) if index in unmatched else [token])
    return out
