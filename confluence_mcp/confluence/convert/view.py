"""Storage → HTML in the spirit of Confluence's `body.view`: macros, links, images and mentions rendered."""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element

from .links import LinkContext
from .xhtml import escape_attribute, escape_text, parse_fragment

__all__ = ["storage_to_view"]

_ADMONITIONS = {"info", "note", "warning", "tip"}
_STATUS_COLOURS = {"grey", "red", "yellow", "green", "blue", "purple"}
_VOID = frozenset({"br", "hr", "img", "col"})
_EMOTICONS = {"smile": "🙂", "sad": "🙁", "cheeky": "😛", "laugh": "😀", "wink": "😉", "thumbs-up": "👍",
              "thumbs-down": "👎", "information": "ℹ️", "tick": "✅", "cross": "❌", "warning": "⚠️",
              "plus": "➕", "minus": "➖", "question": "❓", "light-on": "💡", "light-off": "💡",
              "yellow-star": "⭐", "red-star": "⭐", "green-star": "⭐", "blue-star": "⭐", "heart": "❤️"}
_SLUG = re.compile(r"[^\w-]+")
_LAYOUT_CLASSES = {"ac:layout": "contentLayout2", "ac:layout-section": "columnLayout", "ac:layout-cell": "cell"}


def _heading_id(text: str) -> str:
    return _SLUG.sub("-", text.strip()).strip("-") or "section"


def _text(element: Element) -> str:
    return " ".join("".join(element.itertext()).split())


def _parameters(macro: Element) -> dict[str, str]:
    return {p.get("ac:name", ""): _text(p) for p in macro if p.tag == "ac:parameter"}


def _child(element: Element, tag: str) -> Element | None:
    return next((child for child in element if child.tag == tag), None)


class _ViewRenderer:
    def __init__(self, root: Element, links: LinkContext) -> None:
        self.links = links
        self.headings = [(int(e.tag[1]), _text(e)) for e in root.iter()
                         if isinstance(e.tag, str) and re.fullmatch(r"h[1-6]", e.tag)]

    def children(self, element: Element) -> str:
        parts = [escape_text(element.text or "")]
        for child in element:
            parts.append(self.element(child))
            parts.append(escape_text(child.tail or ""))
        return "".join(parts)

    def element(self, element: Element) -> str:
        tag = element.tag
        if not isinstance(tag, str):
            return ""  # comments are not shown
        if tag.startswith(("ac:", "ri:")):
            return self.confluence_element(element)
        attributes = dict(element.attrib)
        if re.fullmatch(r"h[1-6]", tag) and "id" not in attributes:
            attributes["id"] = _heading_id(_text(element))
        rendered = "".join(f' {k}="{escape_attribute(v)}"' for k, v in attributes.items())
        if tag in _VOID:
            return f"<{tag}{rendered}/>"
        return f"<{tag}{rendered}>{self.children(element)}</{tag}>"

    def confluence_element(self, element: Element) -> str:
        tag = element.tag
        if tag == "ac:structured-macro" or tag == "ac:macro":
            return self.macro(element)
        if tag == "ac:link":
            return self.link(element)
        if tag == "ac:image":
            return self.image(element)
        if tag == "ac:task-list":
            items: list[str] = []
            for task in element:
                if task.tag == "ac:task-list" and items:  # nested beside its parent task (the editors' shape)
                    items[-1] = items[-1][: -len("</li>")] + self.element(task) + "</li>"
                    continue
                status, body = _child(task, "ac:task-status"), _child(task, "ac:task-body")
                checked = status is not None and (status.text or "").strip() == "complete"
                box = "☑" if checked else "☐"
                items.append(f'<li class="{"checked" if checked else ""}">{box} '
                             f"{self.children(body) if body is not None else ''}</li>")
            return f'<ul class="inline-task-list">{"".join(items)}</ul>'
        if tag == "ac:emoticon":
            name = element.get("ac:name", "")
            return f'<span class="emoticon">{escape_text(_EMOTICONS.get(name, f":{name}:"))}</span>'
        if tag in _LAYOUT_CLASSES:
            layout_type = element.get("ac:type", "")
            classes = f"{_LAYOUT_CLASSES[tag]} {layout_type}".strip()
            return f'<div class="{escape_attribute(classes)}">{self.children(element)}</div>'
        if tag in ("ac:placeholder", "ac:parameter"):
            return ""  # editor-only content
        if tag in ("ac:rich-text-body", "ac:inline-comment-marker", "ac:link-body", "ac:task-body"):
            return self.children(element)
        return f'<span class="unknown-element">[{escape_text(tag)}]</span>'

    def macro(self, macro: Element) -> str:
        name = macro.get("ac:name", "")
        parameters = _parameters(macro)
        rich = _child(macro, "ac:rich-text-body")
        plain = _child(macro, "ac:plain-text-body")
        body = self.children(rich) if rich is not None else ""
        title = escape_text(parameters.get("title", ""))
        if name in ("code", "noformat"):
            language = parameters.get("language", "")
            code = escape_text(plain.text or "") if plain is not None else ""
            language_attribute = f' data-language="{escape_attribute(language)}"' if language else ""
            return f'<pre class="code"{language_attribute}><code>{code}</code></pre>'
        if name in _ADMONITIONS:
            heading = f'<p class="title"><strong>{title}</strong></p>' if title else ""
            return (f'<div class="confluence-information-macro confluence-information-macro-{name}">'
                    f'{heading}<div class="confluence-information-macro-body">{body}</div></div>')
        if name == "expand":
            return f'<details class="expand"><summary>{title or "Click here to expand..."}</summary>{body}</details>'
        if name == "toc":
            return self.table_of_contents(parameters)
        if name == "status":
            colour = parameters.get("colour", "grey").lower()
            colour = colour if colour in _STATUS_COLOURS else "grey"
            return f'<span class="status-macro aui-lozenge aui-lozenge-{colour}">{title.upper()}</span>'
        if name == "jira":
            key = escape_text(parameters.get("key", ""))
            return f'<span class="jira-issue" data-jira-key="{key}">{key or "Jira issues"}</span>'
        if name == "anchor":
            anchor = parameters.get("", "") or next(iter(parameters.values()), "")
            return f'<span class="confluence-anchor-link" id="{escape_attribute(anchor)}"></span>'
        placeholder = f'<span class="unknown-macro-name">[macro: {escape_text(name)}]</span>'
        return f'<div class="unknown-macro" data-macro-name="{escape_attribute(name)}">{placeholder}{body}</div>'

    def table_of_contents(self, parameters: dict[str, str]) -> str:
        low = int(parameters["minLevel"]) if parameters.get("minLevel", "").isdigit() else 1
        high = int(parameters["maxLevel"]) if parameters.get("maxLevel", "").isdigit() else 6
        entries = [(level, text) for level, text in self.headings if low <= level <= high]
        if not entries:
            return '<div class="toc-macro"></div>'
        # Nested lists live inside the parent item (<li>...<ul>...</ul></li>), so items close lazily.
        parts, depth = ['<div class="toc-macro">'], 0
        base = min(level for level, _ in entries)
        for level, text in entries:
            target = level - base + 1
            if depth >= target:
                parts.append("</li>")
            while depth > target:
                parts.append("</ul></li>")
                depth -= 1
            while depth < target:
                parts.append("<ul>" if depth == 0 or parts[-1].startswith("<li") or parts[-1] == "</a>" else "<li><ul>")
                depth += 1
            parts.append(f'<li><a href="#{escape_attribute(_heading_id(text))}">{escape_text(text)}</a>')
        parts.append("</li></ul>" * depth + "</div>")
        return "".join(parts)

    def link(self, link: Element) -> str:
        target = next((child for child in link if isinstance(child.tag, str) and child.tag.startswith("ri:")), None)
        body = _child(link, "ac:link-body")
        plain = _child(link, "ac:plain-text-link-body")
        label = self.children(body) if body is not None else escape_text(plain.text or "") if plain is not None else ""
        anchor = link.get("ac:anchor")
        href: str | None = None
        if target is not None and target.tag == "ri:page":
            title = target.get("ri:content-title", "")
            space = target.get("ri:space-key") or self.links.space_key
            href = self.links.page_url(title, space) if self.links.page_url else None
            label = label or escape_text(title)
        elif target is not None and target.tag == "ri:attachment":
            filename = target.get("ri:filename", "")
            href = self.links.attachment_url(filename) if self.links.attachment_url else None
            label = label or escape_text(filename)
        elif target is not None and target.tag == "ri:user":
            user = next(iter(target.attrib.values()), "")
            name = (self.links.user_name(user) if self.links.user_name else None) or user
            return (f'<a class="confluence-userlink user-mention" data-user="{escape_attribute(user)}" '
                    f'href="#">@{escape_text(name)}</a>')
        if anchor:
            href = (href or "") + "#" + anchor
            label = label or escape_text(anchor)
        if href is None:
            return f'<span class="unresolved-link">{label}</span>'
        return f'<a href="{escape_attribute(href)}">{label}</a>'

    def image(self, image: Element) -> str:
        source = next((child for child in image if isinstance(child.tag, str)), None)
        url = ""
        if source is not None and source.tag == "ri:url":
            url = source.get("ri:value", "")
        elif source is not None and source.tag == "ri:attachment":
            filename = source.get("ri:filename", "")
            url = (self.links.attachment_url(filename) if self.links.attachment_url else None) or filename
        attributes = {"src": url, "alt": image.get("ac:alt", "")}
        for name in ("width", "height", "title"):
            if image.get(f"ac:{name}"):
                attributes[name] = image.get(f"ac:{name}", "")
        rendered = "".join(f' {k}="{escape_attribute(v)}"' for k, v in attributes.items())
        return f'<img class="confluence-embedded-image"{rendered}/>'


def storage_to_view(storage: str, *, links: LinkContext | None = None) -> str:
    """Render storage to view HTML (what Confluence returns as `body.view`)."""
    root = parse_fragment(storage)
    return _ViewRenderer(root, links or LinkContext()).children(root)
