"""Markdown → Confluence storage.

markdown-it parses (CommonMark + GFM tables and strikethrough, raw HTML disabled for blocks); we render its syntax
tree to storage ourselves, so every character of user text goes through one escape function and only the
placeholders defined in `links` can produce raw storage, after validation. Inline HTML is read again with HTML on
and only the tags `raw_html` lists become storage; the rest stays text or, when strict, is refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markdown_it.tree import SyntaxTreeNode

from .details import DETAILS_KIND, DETAILS_MACRO, details_parameters
from .layouts import MARKER_TOKEN, add_marker_rule, marker_error, render_document
from .links import (
    ATTACHMENT_SCHEME,
    PAGE_SCHEME,
    STORAGE_FENCE,
    STORAGE_SCHEME,
    USER_SCHEMES,
    LinkContext,
    decode_inline_storage,
    parse_code_fence_info,
    parse_image_title,
    parse_page_reference,
)
from .raw_html import (
    STRIKE_SPAN,
    add_details_rule,
    balance_details,
    details_limit,
    maybe_html,
    prose_as_text,
    render_inline_html,
)
from .table_cells import BR_TAG, inline_html, render_table
from .xhtml import (
    StorageParseError,
    escape_attribute,
    escape_text,
    remove_forbidden_characters,
    validate_storage,
)

__all__ = ["ADMONITION_MACROS", "markdown_to_storage", "normalize_link", "render_markdown"]

# GitHub admonition kind -> Confluence macro. Reading uses the first four (a bijection); CAUTION and INFO are
# accepted aliases when writing.
ADMONITION_MACROS = {"NOTE": "info", "TIP": "tip", "IMPORTANT": "note", "WARNING": "warning",
                     "CAUTION": "warning", "INFO": "info"}
EXPAND_KIND = "EXPAND"  # > [!EXPAND] Title  ⇄  expand macro
_ADMONITION_LINE = re.compile(r"^\[!([A-Za-z]+)\][ \t]*([^\n]*)(?:\n|$)")
_TASK_MARKER = re.compile(r"^\[([ xX])\](?:[ \t]+|$)")
_ABSOLUTE_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")

_SAFE_SCHEMES = ("http:", "https:", "mailto:", "confluence-")


def _is_allowed_destination(url: str) -> bool:
    """Links and autolinks only for web, mail and our own schemes; anything else stays literal text."""
    lowered = url.strip().lower()
    return not _ABSOLUTE_URL.match(lowered) or lowered.startswith(_SAFE_SCHEMES)


_parser = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
_parser.validateLink = _is_allowed_destination  # type: ignore[method-assign]
add_marker_rule(_parser)  # :::layout / :::cell / ::: lines (layouts.py)
add_details_rule(_parser)  # <details> / <summary> / </details> lines (raw_html.py)
# Inline content is parsed again with inline HTML on to tell tags from text (`raw_html`); table cells use it to
# find their `<br>` and list tags (`table_cells`).
_html_parser = MarkdownIt("commonmark", {"html": True}).enable(["strikethrough"])
_html_parser.validateLink = _is_allowed_destination  # type: ignore[method-assign]


def normalize_link(url: str) -> str:
    """A link destination as markdown-it hands it to us (percent-encoded)."""
    return str(_parser.normalizeLink(url))


def markdown_to_storage(markdown: str, *, links: LinkContext | None = None, strict_html: bool = False) -> str:
    """Convert markdown to well-formed Confluence storage XHTML."""
    storage, _ = render_markdown(markdown, links=links, strict_html=strict_html)
    return storage


def render_markdown(markdown: str, *, links: LinkContext | None = None, first_task_id: int = 1,
                    strict_html: bool = False) -> tuple[str, int]:
    """Render markdown; returns the storage and the next free task id (tasks are numbered in page order).

    Raises `LayoutSyntaxError` when layout markers do not describe a layout, and with `strict_html`
    `RawHtmlError` for raw HTML that has no storage form (else it stays text)."""
    renderer = _StorageRenderer(links or LinkContext(), first_task_id, strict_html)
    return render_document(renderer.parse(markdown).children, renderer.block), renderer.next_task_id


def _macro(name: str, parameters: dict[str, str], body: str = "", *, plain_body: str | None = None) -> str:
    parts = [f'<ac:structured-macro ac:name="{escape_attribute(name)}" ac:schema-version="1">']
    parts += [f'<ac:parameter ac:name="{escape_attribute(key)}">{escape_text(value)}</ac:parameter>'
              for key, value in parameters.items()]
    if plain_body is not None:
        plain_body = remove_forbidden_characters(plain_body)
        parts.append("<ac:plain-text-body><![CDATA[" + plain_body.replace("]]>", "]]]]><![CDATA[>") + "]]>"
                     "</ac:plain-text-body>")
    else:
        parts.append(f"<ac:rich-text-body>{body}</ac:rich-text-body>")
    parts.append("</ac:structured-macro>")
    return "".join(parts)


def _plain_text(node: SyntaxTreeNode) -> str:
    """The text of an inline subtree with formatting and HTML tags dropped (for labels and titles)."""
    if node.type in ("text", "code_inline"):
        return node.content
    if node.type in ("softbreak", "hardbreak") or (node.type == "html_inline" and BR_TAG.match(node.content)):
        return " "
    if node.type == "image":
        return node.content
    return "".join(_plain_text(child) for child in node.children)


def _block_image(paragraph: SyntaxTreeNode) -> bool:
    """A paragraph holding nothing but an image whose title gives it a `layout`."""
    inline = paragraph.children[0] if len(paragraph.children) == 1 else None
    parts = [child for child in (inline.children if inline is not None else []) if not (
        child.type == "text" and not str(child.content).strip())]
    return len(parts) == 1 and parts[0].type == "image" and \
        "layout" in parse_image_title(str(parts[0].attrs.get("title") or ""))


class _StorageRenderer:
    def __init__(self, links: LinkContext, first_task_id: int, strict_html: bool = False) -> None:
        self.links = links
        self.next_task_id = first_task_id
        self.strict_html = strict_html
        self.env: dict[str, Any] = {}  # link reference definitions, shared by inline parses

    # ---- parsing ------------------------------------------------------------------------------------------
    def parse(self, markdown: str) -> SyntaxTreeNode:
        tokens = _parser.parse(markdown, self.env)
        for token in tokens:
            if token.type == "inline" and maybe_html(token.content):
                token.children = self.inline_tokens(token.content)
        return SyntaxTreeNode(balance_details(tokens, self.strict_html, self.text_paragraph, self.env,
                                              details_limit(_parser)))

    def inline_tokens(self, markdown: str) -> list[Token]:
        """Inline tokens with HTML tags found; tags that are prose stay text, as the HTML-off parser reads them."""
        tokens = _html_parser.parseInline(markdown, self.env)
        return prose_as_text(tokens[0].children or [] if tokens else [], self.text_tokens)

    def prose_tags_as_text(self, tokens: list[Token]) -> list[Token]:
        return prose_as_text(tokens, self.text_tokens)

    def text_tokens(self, markdown: str) -> list[Token]:
        tokens = _parser.parseInline(markdown, self.env)
        return tokens[0].children or [] if tokens else []

    def text_paragraph(self, markdown: str, like: Token) -> list[Token]:
        inline = Token("inline", "", 0, content=markdown, map=like.map, children=self.text_tokens(markdown))
        return [Token("paragraph_open", "p", 1, map=like.map, block=True), inline,
                Token("paragraph_close", "p", -1, block=True)]

    def text(self, markdown: str) -> str:
        """Markdown rendered with HTML off: a tag kept as text reads exactly as before tags were recognised."""
        tokens = _parser.parseInline(markdown, self.env)
        return self.inline_children(SyntaxTreeNode(tokens).children[0]) if tokens else ""

    # ---- blocks -------------------------------------------------------------------------------------------
    def blocks(self, nodes: list[SyntaxTreeNode]) -> str:
        return "".join(self.block(node) for node in nodes)

    def block(self, node: SyntaxTreeNode) -> str:
        kind = node.type
        if kind == "paragraph":
            content = self.inline_children(node)
            if node.hidden or _block_image(node):
                return content  # a lone image with a layout is a block image, as the Cloud editor stores it
            return f"<p>{content}</p>"
        if kind == "heading":
            return f"<{node.tag}>{self.inline_children(node)}</{node.tag}>"
        if kind == "fence":
            return self.fence(node.info.strip(), node.content)
        if kind == "code_block":
            return _macro("code", {}, plain_body=node.content.rstrip("\n"))
        if kind == "hr":
            return "<hr/>"
        if kind == "blockquote":
            return self.blockquote(node)
        if kind == "details":  # <details><summary>Title</summary> lines ... </details>
            return _macro("expand", {"title": title} if (title := self.title(node.info)) else {},
                          self.blocks(node.children))
        if kind == "bullet_list":
            return self.task_list(node) if self.is_task_list(node) else f"<ul>{self.list_items(node)}</ul>"
        if kind == "ordered_list":
            start = node.attrs.get("start")
            start_attribute = f' start="{start}"' if start not in (None, 1, "1") else ""
            return f"<ol{start_attribute}>{self.list_items(node)}</ol>"
        if kind == "table":
            return self.table(node)
        if kind == "inline":
            return self.inline_children(node)
        if kind == MARKER_TOKEN:  # the top level's markers were taken by render_document
            raise marker_error(node, "layout markers stand at the top level, not inside a list or quote.")
        return self.blocks(node.children)  # unknown container: keep its content

    def fence(self, info: str, content: str) -> str:
        words = info.split()
        if words and words[0] == STORAGE_FENCE:
            raw = content.rstrip("\n")
            try:
                validate_storage(raw, strict=True)
            except StorageParseError:
                return _macro("code", {}, plain_body=raw)  # shown as text, never trusted as markup
            return raw
        language, parameters = parse_code_fence_info(info)
        if language:
            parameters = {"language": language, **parameters}
        return _macro("code", parameters, plain_body=content.rstrip("\n"))

    def blockquote(self, node: SyntaxTreeNode) -> str:
        children = list(node.children)
        first = children[0] if children else None
        if first is not None and first.type == "paragraph" and first.children:
            inline = first.children[0]
            match = _ADMONITION_LINE.match(inline.content)
            kind = match.group(1).upper() if match else ""
            if match and (kind in ADMONITION_MACROS or kind in (EXPAND_KIND, DETAILS_KIND)):
                title = match.group(2).strip()
                parameters = details_parameters(title, node.map[0] + 1 if node.map else 0) \
                    if kind == DETAILS_KIND else {"title": title} if title else {}
                rest = inline.content[match.end() :]
                body = self.markdown_fragment(rest) + self.blocks(children[1:])
                macro = DETAILS_MACRO if kind == DETAILS_KIND else ADMONITION_MACROS.get(kind, "expand")
                return _macro(macro, parameters, body)
        return f"<blockquote>{self.blocks(children)}</blockquote>"

    def markdown_fragment(self, markdown: str) -> str:
        if not markdown.strip():
            return ""
        renderer = _StorageRenderer(self.links, self.next_task_id, self.strict_html)
        renderer.env = self.env
        storage = renderer.blocks(renderer.parse(markdown).children)
        self.next_task_id = renderer.next_task_id
        return storage

    def title(self, markdown: str) -> str:
        """A macro title from inline markdown: its text, formatting and tags dropped (a title is plain text)."""
        node = SyntaxTreeNode([Token("inline", "", 0, children=self.inline_tokens(markdown))])
        self.inline_children(node.children[0])  # its tags checked as a paragraph's: strict refuses, not drops, `<img>`
        return " ".join(_plain_text(node).split())

    def list_items(self, node: SyntaxTreeNode) -> str:
        return "".join(f"<li>{self.blocks(item.children)}</li>" for item in node.children)

    @staticmethod
    def task_marker(item: SyntaxTreeNode) -> re.Match[str] | None:
        first = item.children[0] if item.children else None
        if first is None or first.type != "paragraph" or not first.children:
            return None
        return _TASK_MARKER.match(first.children[0].content)

    def is_task_list(self, node: SyntaxTreeNode) -> bool:
        return bool(node.children) and all(self.task_marker(item) for item in node.children)

    def task_list(self, node: SyntaxTreeNode) -> str:
        tasks = []
        for item in node.children:
            marker = self.task_marker(item)
            assert marker is not None
            status = "incomplete" if marker.group(1) == " " else "complete"
            paragraph = item.children[0]
            text = paragraph.children[0].content[marker.end() :]
            task_id = self.next_task_id
            self.next_task_id += 1
            # Nested task lists ending the item go right after the task in its list, as Confluence's editors
            # store them; anything else under the item stays in the task's body.
            rest = item.children[1:]
            split = len(rest)
            while split and rest[split - 1].type == "bullet_list" and self.is_task_list(rest[split - 1]):
                split -= 1
            body = self.inline_markdown(text) + self.blocks(rest[:split])
            tasks.append(f"<ac:task><ac:task-id>{task_id}</ac:task-id><ac:task-status>{status}</ac:task-status>"
                         f"<ac:task-body>{body}</ac:task-body></ac:task>{self.blocks(rest[split:])}")
        return f"<ac:task-list>{''.join(tasks)}</ac:task-list>"

    def inline_markdown(self, markdown: str) -> str:
        tokens = [Token("inline", "", 0, children=self.inline_tokens(markdown))]
        return self.inline_children(SyntaxTreeNode(tokens).children[0])

    def table(self, node: SyntaxTreeNode) -> str:
        return render_table(self, node, _html_parser)

    # ---- inline -------------------------------------------------------------------------------------------
    def inline_children(self, node: SyntaxTreeNode) -> str:
        return self.inline_run(node.children, self.inline)

    def inline_run(self, nodes: list[SyntaxTreeNode], render: Callable[[SyntaxTreeNode], str]) -> str:
        """Inline nodes (a paragraph's, or a table cell's: see `table_cells`), raw HTML tags paired among them (in
        a cell, inside ** or a link too)."""
        if any(node.type == "html_inline" for node in nodes):
            return render_inline_html(nodes, render, self.text, self.strict_html)
        return "".join(render(node) for node in nodes)

    def inline(self, node: SyntaxTreeNode) -> str:
        kind = node.type
        if kind == "inline":
            return self.inline_children(node)
        if kind == "text":
            return escape_text(node.content)
        if kind == "softbreak":
            return "\n"
        if kind == "hardbreak":
            return "<br/>"
        if kind == "html_inline":  # a tag `inline_children` or `inline_run` did not pair
            return inline_html(str(node.content))
        if kind == "code_inline":
            return f"<code>{escape_text(node.content)}</code>"
        if kind == "strong":
            return f"<strong>{self.inline_children(node)}</strong>"
        if kind == "em":
            return f"<em>{self.inline_children(node)}</em>"
        if kind == "s":
            return f"{STRIKE_SPAN}{self.inline_children(node)}</span>"
        if kind == "link":
            return self.link(node)
        if kind == "image":
            return self.image(node)
        return self.inline_children(node)

    def link(self, node: SyntaxTreeNode) -> str:
        href = str(node.attrs.get("href", ""))
        label = _plain_text(node)
        if href.startswith(STORAGE_SCHEME):
            raw = decode_inline_storage(href)
            if raw is not None:
                try:
                    validate_storage(raw, strict=True)
                    return raw
                except StorageParseError:
                    pass
            return escape_text(f"[{label}]({href})")  # a broken placeholder stays visible as text
        if href.startswith(PAGE_SCHEME):
            reference = parse_page_reference(href)
            if reference is not None:
                return self.page_link(node, *reference, explicit_space=True)
        for scheme, attribute in USER_SCHEMES.items():
            if href.startswith(scheme) and len(href) > len(scheme):
                user = escape_attribute(unquote(href[len(scheme) :]))
                return f'<ac:link><ri:user {attribute}="{user}"/></ac:link>'
        if href.startswith(ATTACHMENT_SCHEME) and len(href) > len(ATTACHMENT_SCHEME):
            filename = unquote(href[len(ATTACHMENT_SCHEME) :])
            body = self.link_body(node, label, filename)
            return f'<ac:link><ri:attachment ri:filename="{escape_attribute(filename)}"/>{body}</ac:link>'
        if href.startswith("#") and len(href) > 1:
            anchor = escape_attribute(unquote(href[1:]))
            return f'<ac:link ac:anchor="{anchor}">{self.link_body(node, label, None)}</ac:link>'
        if self.links.page_from_url is not None and _ABSOLUTE_URL.match(href):
            reference = self.links.page_from_url(href)
            if reference is not None:
                return self.page_link(node, *reference)
        return f'<a href="{escape_attribute(href)}">{self.inline_children(node)}</a>'

    def link_body(self, node: SyntaxTreeNode, label: str, default_label: str | None) -> str:
        """Link text: omitted when it equals the target's own name, plain CDATA if unformatted, else rich."""
        if label == default_label:
            return ""
        if all(child.type == "text" for child in node.children):
            cdata = remove_forbidden_characters(label).replace("]]>", "]]]]><![CDATA[>")
            return f"<ac:plain-text-link-body><![CDATA[{cdata}]]></ac:plain-text-link-body>"
        return f"<ac:link-body>{self.inline_children(node)}</ac:link-body>"

    def page_link(self, node: SyntaxTreeNode, title: str, space: str | None, *, explicit_space: bool = False) -> str:
        """`confluence-page:` references keep their space as written; page URLs omit the current space."""
        in_other_space = space is not None and (explicit_space or space != self.links.space_key)
        space_attribute = f' ri:space-key="{escape_attribute(space)}"' if space and in_other_space else ""
        body = self.link_body(node, _plain_text(node), title)
        return f'<ac:link><ri:page ri:content-title="{escape_attribute(title)}"{space_attribute}/>{body}</ac:link>'

    def image(self, node: SyntaxTreeNode) -> str:
        src = str(node.attrs.get("src", ""))
        alt = _plain_text(node)
        display = parse_image_title(str(node.attrs.get("title") or ""))  # align=center width=300, or a tooltip
        alt_attribute = (f' ac:alt="{escape_attribute(alt)}"' if alt else "") + "".join(
            f' ac:{name}="{escape_attribute(value)}"' for name, value in sorted(display.items()))
        if src.startswith(ATTACHMENT_SCHEME):
            src = src[len(ATTACHMENT_SCHEME) :]
        elif _ABSOLUTE_URL.match(src):
            if not src.lower().startswith(("http:", "https:")):
                return escape_text(f"![{alt}]({src})")
            return f'<ac:image{alt_attribute}><ri:url ri:value="{escape_attribute(src)}"/></ac:image>'
        filename = unquote(src)
        if not filename:
            return escape_text(f"![{alt}]()")
        return f'<ac:image{alt_attribute}><ri:attachment ri:filename="{escape_attribute(filename)}"/></ac:image>'
