"""Storage → markdown that an LLM can read and that writes back to the same storage.

Each top-level block is converted to natural markdown, then checked: rendering that markdown back with
`render_markdown` must give canonically identical storage showing the same text, what a write takes for unchanged
(`visible.renders_alike`), or storage that a write merges back into the original's bytes (`keep_unchanged_blocks`:
a header column's `th`), so unchanged markdown writes back as a no-op. When it does not (an element or attribute
markdown cannot express), the block is kept verbatim in a ```` ```confluence-storage ```` fence instead. Editor
bookkeeping that `canonicalize` ignores (ids, empty paragraphs, column widths, `<td><p>x</p></td>`) is left out of
the markdown; the write path puts it back by keeping the stored original of unchanged blocks
(`merge.keep_unchanged_blocks`).
Attributes that do mean something are represented instead: code macro parameters (`breakoutMode`, `title`...) ride
on the fence's info string, a Page Properties macro's (`id`, `hidden`) on its `> [!DETAILS]` line (`details`).
Inline elements with no markdown form become `[label](confluence-storage:<base64>)` links. Standard HTML goes
through markdownify; Confluence elements are pre-rendered to markdown and passed through it as `<x-md>` stand-ins.
`<u>`, `<sub>` and `<sup>` read as those HTML tags, which the writer takes back (in table cells too), and so does code
a code span cannot write (holding markup, or right after other code). Adjacent runs of one format read as one
(`**ab**`), which the canonical form calls alike (`canonical.joined_runs`).
"""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element

from .canonical import (
    canonicalize,
    cell_paragraph,
    is_ignorable,
    joined_runs,
    nested_beside,
    significant_attributes,
    task_body_content,
)
from .details import DETAILS_MACRO, details_marker
from .from_markdown import EXPAND_KIND, normalize_link, render_markdown
from .inline_parts import code_as_tag, describe, link_edge_spaces, macro_parameters, markdown_label, markup, url_part
from .layouts import LayoutSyntaxError, layout_markdown
from .links import (
    ATTACHMENT_SCHEME,
    STORAGE_FENCE,
    USER_SCHEMES,
    LinkContext,
    code_fence_info,
    encode_inline_storage,
    image_title,
    page_reference,
)
from .markdownify_ext import StandInConverter, escape_markdown
from .merge import keep_unchanged_blocks
from .raw_html import RawHtmlError
from .tables import table_markdown
from .visible import renders_alike
from .xhtml import StorageParseError, escape_attribute, escape_text, outer_xml, parse_fragment

__all__ = ["escape_markdown", "storage_to_markdown"]

ADMONITION_KINDS = {"info": "NOTE", "tip": "TIP", "note": "IMPORTANT", "warning": "WARNING"}
_STANDARD_INLINE = frozenset({"strong", "em", "code", "br", "a"})
_STANDARD_BLOCK = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote", "hr",
                             "table", "tbody", "thead", "tr", "th", "td"})
_STRIKE_STYLE = "text-decoration: line-through;"
_INLINE_CONTAINERS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "code", "a", "span",
                                "b", "i", "u", "sup", "sub", "s", "del", "ac:link-body", "ac:task-body"})
# Macros that stand on their own line in a list item or cell; any other macro there is kept inline.
_BLOCK_MACROS = frozenset({"code", "noformat", "info", "note", "warning", "tip", "expand", "panel", "toc",
                           "section", "column", "details"})
_WHITESPACE = re.compile(r"\s+")
_HTML_TAGS = frozenset({"u", "sub", "sup"})  # storage elements markdown writes as these inline HTML tags


def _child(element: Element, tag: str) -> Element | None:
    return next((child for child in element if child.tag == tag), None)



class _MarkdownWriter:
    def __init__(self, links: LinkContext) -> None:
        self.links = links
        self.task_id = 1
        self.verify = True  # False inside an optimistic pass, whose result the outermost check verifies

    # ---- blocks with round-trip verification --------------------------------------------------------------
    def blocks(self, container: Element) -> str:
        """Markdown for the children of `container` that is verified to round-trip.

        Fast path: convert every block without checks (blocks with no markdown form become storage fences, inline
        elements take their natural form), then check the whole container with one render; most pages pass, and
        one render costs far less than one per block and per link. Otherwise each block is checked alone and the
        ones that do not round-trip become storage placeholders."""
        if not self.verify:
            return self.convert_blocks(container, check_each=False)
        start_task = self.task_id
        self.verify = False
        try:
            whole = self.convert_blocks(container, check_each=False)
        finally:
            self.verify = True
        original = "".join(_storage_of(node) for node in self.block_nodes(container))
        if self.round_trips(whole, original, start_task):
            return whole
        self.task_id = start_task
        return self.convert_blocks(container, check_each=True)

    def convert_blocks(self, container: Element, *, check_each: bool) -> str:
        """Every block converted (with `check_each`, only if it round-trips alone); the others are kept as storage
        fences."""
        pieces: list[str] = []
        previous_list = ""
        for node in self.block_nodes(container):
            start_task = self.task_id
            kind = node.tag if isinstance(node.tag, str) else ""
            bullet = "*" if previous_list == "-" and kind in ("ul", "ac:task-list", "ol") else "-"
            try:
                markdown = self.block(node, bullet)
            except (ValueError, KeyError, IndexError):
                markdown = None
            if markdown is not None and (not check_each or self.round_trips(markdown, _storage_of(node), start_task)):
                pieces.append(markdown)
                if markdown or kind in ("ul", "ac:task-list", "ol"):  # an empty paragraph leaves no gap in markdown
                    previous_list = bullet if kind in ("ul", "ac:task-list", "ol") else ""
            else:
                self.task_id = start_task
                pieces.append(self.storage_fence(node))
                previous_list = ""
        return "\n\n".join(piece for piece in pieces if piece)

    @staticmethod
    def block_nodes(container: Element) -> list[Element]:
        """Top-level elements; loose text or inline runs between them are wrapped as their own nodes."""
        nodes: list[Element] = []
        if container.text and container.text.strip():
            nodes.append(_text_node(container.text))
        for child in container:
            nodes.append(child)
            if child.tail and child.tail.strip():
                nodes.append(_text_node(child.tail))
        return nodes

    def round_trips(self, markdown: str, original: str, start_task: int) -> bool:
        """Rendering `markdown` back gives `original` (alike as a write tells it), numbering the same tasks; or,
        merged onto `original` as a write does, gives its bytes (a header column's `th` kept from the stored)."""
        end_task = self.task_id
        try:
            storage, next_task = render_markdown(markdown, links=self.links, first_task_id=start_task)
            return next_task == end_task and (renders_alike(storage, original)
                                              or keep_unchanged_blocks(original, storage) == original)
        except (StorageParseError, LayoutSyntaxError, RawHtmlError):
            return False

    @staticmethod
    def storage_fence(node: Element) -> str:
        storage = _storage_of(node)
        what = node.tag if isinstance(node.tag, str) else "comment"
        if what == "ac:structured-macro":
            what = f"macro={node.get('ac:name', '')}"
        fence = "```"
        while fence in storage:
            fence += "`"
        return f"{fence}{STORAGE_FENCE} {what}\n{storage}\n{fence}"

    def block(self, node: Element, bullet: str) -> str | None:
        tag = node.tag
        if tag == "ac:structured-macro":
            return self.block_macro(node)
        if tag == "ac:task-list":
            return self.task_list(node, bullet)
        if is_ignorable(node):
            return ""
        if tag == "ac:image":  # a block image (the Cloud editor's); round-trips when it has a layout
            return self.image(node)
        if tag == "ac:layout":  # markers around each cell's blocks, each converted and checked on its own
            return layout_markdown(node, self.blocks)
        if tag == "table":
            return table_markdown(self, node)
        if tag in _STANDARD_BLOCK:
            markdown = self.markdownify(node, bullet)
            if tag == "ol" and bullet == "*":  # a second adjacent ordered list needs the other delimiter
                markdown = re.sub(r"^(\d+)\.", r"\1)", markdown, flags=re.MULTILINE)
            return markdown
        return None

    def block_macro(self, macro: Element) -> str | None:
        name = macro.get("ac:name", "")
        parameters = macro_parameters(macro)
        if name == "code":
            body = _child(macro, "ac:plain-text-body")
            language = parameters.pop("language", "")
            info = code_fence_info(language, parameters)
            if body is None or info is None:
                return None
            code = (body.text or "").rstrip("\n")
            fence = "```"
            while fence in code:
                fence += "`"
            return f"{fence}{info}\n{code}\n{fence}"
        kind = ADMONITION_KINDS.get(name) or (EXPAND_KIND if name == "expand" else None)
        titled = kind is not None and not set(parameters) - {"title"}  # an admonition's or expand's marker
        marker = details_marker(parameters) if name == DETAILS_MACRO else \
            f"[!{kind}] {parameters.get('title', '')}".rstrip() if titled else None
        body = _child(macro, "ac:rich-text-body")
        if marker is None or body is None:
            return None
        inner = self.blocks(body)
        quoted = "\n".join(f"> {line}" if line else ">" for line in inner.split("\n"))
        return f"> {marker}\n>\n{quoted}" if inner else f"> {marker}"

    def task_list(self, node: Element, bullet: str, indent: str = "") -> str | None:
        """`- [ ]` lines; a task list nested beside a task (right after it in its list, as the editors store it) or
        at the end of its body as an indented list under it. None for a nested list with no task before it."""
        lines: list[str] = []
        for task in nested_beside(node):
            if task.tag == "ac:task-list" and lines:
                sub = self.task_list(task, "-", indent + " " * (len(bullet) + 1))
                if sub is None:
                    return None
                lines.append(sub)
                continue
            status, body = _child(task, "ac:task-status"), _child(task, "ac:task-body")
            if task.tag != "ac:task" or status is None or body is None:
                return None
            self.task_id += 1  # a task before the tasks nested in it, as rendering numbers them
            mark = "x" if (status.text or "").strip() == "complete" else " "
            text = self.inline_markdown(task_body_content(body))
            lines.append(f"{indent}{bullet} [{mark}] {text}".rstrip())
        return "\n".join(lines)

    # ---- standard HTML via markdownify ----------------------------------------------------------------------
    def markdownify(self, node: Element, bullet: str) -> str:
        rendered: list[str] = []
        html = self.to_html(node, rendered)
        converter = StandInConverter(rendered, bullets=bullet)
        return str(converter.convert(html)).strip("\n")

    def inline_markdown(self, container: Element) -> str:
        rendered: list[str] = []
        html = "<span>" + self.children_html(container, rendered) + "</span>"
        return str(StandInConverter(rendered).convert(html)).strip()

    def children_html(self, element: Element, rendered: list[str]) -> str:
        # Inside paragraphs, headings and inline markup every Confluence element is inline.
        inline_context = element.tag in _INLINE_CONTAINERS
        parts = [escape_text(element.text or "")]
        previous: Element | None = None
        # Adjacent runs of one format read as one (`**ab**`, not `**a****b**`), which renders alike.
        for child in joined_runs(list(element)):
            if isinstance(child.tag, str) and is_ignorable(child):
                parts.append(escape_text(child.tail or ""))
                continue
            if code_as_tag(child, previous):
                parts.append(self.stand_in(self.inline_element(child), rendered))
            else:
                parts.append(self.to_html(child, rendered, inline_context=inline_context))
            parts.append(escape_text(child.tail or ""))
            previous = child
        return "".join(parts)

    def to_html(self, element: Element, rendered: list[str], *, inline_context: bool = False) -> str:
        tag = element.tag
        if not isinstance(tag, str):
            return self.stand_in(self.inline_placeholder(element), rendered)
        natural = tag in _STANDARD_BLOCK or tag in _STANDARD_INLINE
        attrib = significant_attributes(element)
        if tag == "span" and attrib == {"style": _STRIKE_STYLE}:
            return markup("del", "", self.children_html(element, rendered))
        if tag == "a" and (set(attrib) != {"href"} or element.get("href", "#")[:1] == "#"):
            natural = False
        if natural and tag not in ("a", "ol") and attrib:
            natural = False
        if tag == "ol" and set(attrib) - {"start"}:
            natural = False
        if natural:
            attributes = "".join(f' {k}="{escape_attribute(v)}"' for k, v in attrib.items())
            content = cell_paragraph(element)  # a cell's lone <p> is the cell's text (the Cloud editor's form)
            return markup(tag, attributes, self.children_html(content or element, rendered))
        is_block = tag == "ac:task-list" or (tag == "ac:structured-macro" and element.get("ac:name") in _BLOCK_MACROS)
        if is_block and not inline_context:
            markdown = self.block(element, "-")
            return self.stand_in(markdown or self.storage_fence(element), rendered, block=True)
        return self.stand_in(self.inline_element(element), rendered)

    @staticmethod
    def stand_in(markdown: str, rendered: list[str], *, block: bool = False) -> str:
        rendered.append(markdown)
        tag = "x-mdblock" if block else "x-md"
        return f'<{tag} data-i="{len(rendered) - 1}"></{tag}>'

    # ---- Confluence inline elements -------------------------------------------------------------------------
    def inline_element(self, element: Element) -> str:
        natural = None
        if element.tag == "ac:link":
            natural = self.link(element)
        elif element.tag == "ac:image":
            natural = self.image(element)
        elif (element.tag in _HTML_TAGS or element.tag == "code") and not significant_attributes(element):
            natural = self.html_tag(element)
        if natural is not None and (not self.verify or self.inline_round_trips(natural, element)):
            lead, trail = link_edge_spaces(element)
            return lead + natural + trail
        return self.inline_placeholder(element)

    def html_tag(self, element: Element) -> str:
        """`<u>text</u>`, a space at the text's edges written outside the tags so words do not run together."""
        text = "".join(element.itertext())
        lead, trail = " " * text[:1].isspace(), " " * text[-1:].isspace()
        return f"{lead}<{element.tag}>{self.inline_markdown(element)}</{element.tag}>{trail}"

    def inline_round_trips(self, markdown: str, element: Element) -> bool:
        try:
            storage, _ = render_markdown(markdown, links=self.links)
        except (StorageParseError, LayoutSyntaxError, RawHtmlError):
            return False
        return canonicalize(storage) == canonicalize(f"<p>{outer_xml(element)}</p>")

    def inline_placeholder(self, element: Element) -> str:
        return f"[{markdown_label(describe(element)) or 'element'}]({encode_inline_storage(_storage_of(element))})"

    def link(self, link: Element) -> str | None:
        children = [child for child in link if isinstance(child.tag, str)]
        target = children[0] if children and children[0].tag.startswith("ri:") else None
        body_elements = children[1:] if target is not None else children
        if len(body_elements) > 1 or set(significant_attributes(link)) - {"ac:anchor"}:
            return None
        body = body_elements[0] if body_elements else None
        if body is not None and body.tag == "ac:plain-text-link-body":
            label = markdown_label(body.text or "")
        elif body is not None and body.tag == "ac:link-body":
            label = self.inline_markdown(body)
        elif body is not None:
            return None
        else:
            label = ""
        anchor = link.get("ac:anchor")
        if anchor is not None:
            if target is not None or not label:
                return None
            return f"[{label}]({url_part('#' + anchor)})"
        if target is None or (body is not None and not label):
            return None
        target_attributes = significant_attributes(target)
        if target.tag == "ri:page" and set(target_attributes) <= {"ri:content-title", "ri:space-key"}:
            title, space = target.get("ri:content-title", ""), target.get("ri:space-key")
            destination = self.page_destination(title, space)
            return f"[{label or markdown_label(title)}]({destination})"
        if target.tag == "ri:attachment" and set(target_attributes) == {"ri:filename"} and not len(target):
            filename = target.get("ri:filename", "")
            return f"[{label or markdown_label(filename)}]({url_part(ATTACHMENT_SCHEME + filename)})"
        if target.tag == "ri:user" and body is None and len(target_attributes) == 1:
            for scheme, attribute in USER_SCHEMES.items():
                user = target.get(attribute)
                if user:
                    name = (self.links.user_name(user) if self.links.user_name else None) or user
                    return f"[@{markdown_label(name)}]({url_part(scheme + user)})"
        return None

    def page_destination(self, title: str, space: str | None) -> str:
        """The page's web URL when it maps back to the same page, else a `confluence-page:` reference."""
        # Written back, a URL's space equal to the current one is omitted, so such links need the explicit form.
        url_round_trips = space is None or space != self.links.space_key
        if self.links.page_url is not None and self.links.page_from_url is not None and url_round_trips:
            url = self.links.page_url(title, space or self.links.space_key)
            if url and self.links.page_from_url(normalize_link(url)) == (title, space or self.links.space_key):
                return url_part(url)
        return page_reference(title, space)

    def image(self, image: Element) -> str | None:
        attributes = significant_attributes(image)
        display = {name[3:]: value for name, value in attributes.items() if name.startswith("ac:") and name != "ac:alt"}
        if len(display) != len(attributes) - ("ac:alt" in attributes) or len(image) != 1 or image.get("ac:alt") == "":
            return None
        title = image_title(display)  # layout, width...: the markdown title carries them
        if title is None:
            return None
        alt, suffix = markdown_label(image.get("ac:alt", "")), f' "{title}"' if title else ""
        source = image[0]
        if source.tag == "ri:url" and set(source.attrib) == {"ri:value"}:
            url = source.get("ri:value", "")
            if re.match(r"^https?://\S+$", url):
                return f"![{alt}]({url_part(url)}{suffix})"
        if source.tag == "ri:attachment" and set(significant_attributes(source)) == {"ri:filename"} \
                and not len(source):
            return f"![{alt}]({url_part(source.get('ri:filename', ''))}{suffix})"
        return None


def _text_node(text: str) -> Element:
    node = Element("x-text")
    node.text = text
    return node


def _storage_of(node: Element) -> str:
    return node.text or "" if node.tag == "x-text" else outer_xml(node)


def storage_to_markdown(storage: str, *, links: LinkContext | None = None) -> str:
    """Convert storage to markdown; elements markdown cannot express are kept as named placeholders."""
    return _MarkdownWriter(links or LinkContext()).blocks(parse_fragment(storage))
