"""Confluence wiki markup to storage XHTML, for `body_format="wiki"`.

The client contract sends storage only, so wiki bodies are converted here. This covers the common subset
(headings, paragraphs, nested lists, code/noformat, tables, rules, bold/italic/monospace, links); anything else
stays as escaped text rather than being guessed at. No tools live here.
"""

from __future__ import annotations

import re

__all__ = ["wiki_to_storage"]

_WIKI_BLOCK = re.compile(r"\{(code|noformat)(?::([^}]*))?\}\n?(.*?)\n?\{\1\}", re.S)
_WIKI_INLINE = [
    (re.compile(r"\{\{(.+?)\}\}"), r"<code>\1</code>"),
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"), r"<strong>\1</strong>"),
    (re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])"), r"<em>\1</em>"),
]
_WIKI_LINK = re.compile(r"\[([^\[\]|]+?)(?:\|([^\[\]]+?))?\]")


def _xml_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _wiki_inline(text: str) -> str:
    def link(match: re.Match[str]) -> str:
        label, target = match.group(1), match.group(2)
        if target is None:
            label, target = None, match.group(1)
        target = target.strip()
        if re.match(r"^(https?|mailto):", target):
            href = target.replace('"', "&quot;")
            return f'<a href="{href}">{label or target}</a>'
        body = f"<ac:plain-text-link-body>{_cdata(label)}</ac:plain-text-link-body>" if label else ""
        title = target.replace('"', "&quot;")
        return f'<ac:link><ri:page ri:content-title="{title}"/>{body}</ac:link>'

    # Links become placeholders first so bold/italic markers inside URLs are left alone.
    links: list[str] = []

    def hold(match: re.Match[str]) -> str:
        links.append(link(match))
        return f"\x00{len(links) - 1}\x00"

    out = _WIKI_LINK.sub(hold, _xml_text(text))
    for pattern, replacement in _WIKI_INLINE:
        out = pattern.sub(replacement, out)
    out = re.sub(r"\x00(\d+)\x00", lambda m: links[int(m.group(1))], out)
    return out.replace("\\\\", "<br/>")


def _wiki_lines(lines: list[str]) -> str:
    html: list[str] = []
    stack: list[str] = []  # open list tags, innermost last
    para: list[str] = []

    def flush() -> None:
        if para:
            html.append("<p>" + "<br/>".join(_wiki_inline(p) for p in para) + "</p>")
            para.clear()

    def close_lists(depth: int = 0) -> None:
        while len(stack) > depth:
            html.append(f"</li></{stack.pop()}>")

    for line in lines:
        bullet = re.match(r"^([*#]+)\s+(.*)$", line)
        heading = re.match(r"^h([1-6])\.\s+(.*)$", line)
        if bullet:
            flush()
            marks, text = bullet.groups()
            tags = ["ul" if mark == "*" else "ol" for mark in marks]
            common = 0
            while common < min(len(stack), len(tags)) and stack[common] == tags[common]:
                common += 1
            if common == len(tags):  # a sibling item in an already open list
                close_lists(common)
                html.append("</li>")
            else:
                close_lists(common)
            while len(stack) < len(tags):
                stack.append(tags[len(stack)])
                html.append(f"<{stack[-1]}>")
            html.append(f"<li>{_wiki_inline(text)}")
            continue
        close_lists()
        if heading:
            flush()
            html.append(f"<h{heading.group(1)}>{_wiki_inline(heading.group(2))}</h{heading.group(1)}>")
        elif line.strip() == "----":
            flush()
            html.append("<hr/>")
        elif line.startswith("|"):
            flush()
            header = line.startswith("||")
            cells = [c for c in re.split(r"\|\|?", line.strip().strip("|")) if c != ""] if line.strip() else []
            tag = "th" if header else "td"
            html.append("<tr>" + "".join(f"<{tag}>{_wiki_inline(c.strip())}</{tag}>" for c in cells) + "</tr>")
        elif not line.strip():
            flush()
        else:
            para.append(line)
    flush()
    close_lists()
    # group consecutive table rows into tables
    return re.sub(r"((?:<tr>.*?</tr>)+)", r"<table><tbody>\1</tbody></table>", "".join(html))


def wiki_to_storage(wiki: str) -> str:
    """Confluence wiki markup (common subset) to storage XHTML; all text escaped."""
    parts: list[str] = []
    pos = 0
    for match in _WIKI_BLOCK.finditer(wiki):
        parts.append(_wiki_lines(wiki[pos:match.start()].splitlines()))
        kind, options, code = match.groups()
        language = ""
        if kind == "code" and options:
            first = options.split("|")[0].strip()
            if first and "=" not in first:
                language = f'<ac:parameter ac:name="language">{_xml_text(first)}</ac:parameter>'
        parts.append(f'<ac:structured-macro ac:name="{"code" if kind == "code" else "noformat"}">{language}'
                     f"<ac:plain-text-body>{_cdata(code)}</ac:plain-text-body></ac:structured-macro>")
        pos = match.end()
    parts.append(_wiki_lines(wiki[pos:].splitlines()))
    return "".join(parts)
