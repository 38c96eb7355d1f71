"""Storage → the markdown subset an index chunker needs: headings, paragraphs, list items, table rows, code fences.

Regex-based like `storage_to_text`: `storage_to_markdown` is built for lossless round trips and costs ~50x more
per page, which would dominate a full index run. Formatting and macro parameters are dropped.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

__all__ = ["mentions_as_names", "storage_to_outline_markdown"]

_MD_DROP = re.compile(r"<!--.*?-->|<ac:parameter\b[^>]*>.*?</ac:parameter>|<ac:task-(id|uuid|status)>.*?</ac:task-\1>",
                      re.DOTALL)  # a task's id, uuid and status are bookkeeping, not text
_MD_CODE = re.compile(r"<ac:plain-text-body>\s*<!\[CDATA\[(.*?)\]\]>\s*</ac:plain-text-body>|<pre\b[^>]*>(.*?)</pre>",
                      re.DOTALL)
_MD_HEADING = re.compile(r"<h([1-6])\b[^>]*>(.*?)</h\1>", re.DOTALL | re.IGNORECASE)
_MD_ROW = re.compile(r"<tr\b[^>]*>(.*?)</tr>", re.DOTALL | re.IGNORECASE)
_MD_CELL = re.compile(r"<t[hd]\b[^>]*>(.*?)</t[hd]>", re.DOTALL | re.IGNORECASE)
_MD_ITEM = re.compile(r"<li\b[^>]*>(?:\s*<p\b[^>/]*>)?", re.IGNORECASE)  # the Cloud editor's <li><p>text</p>
_MD_PAGE_LINK = re.compile(r'<ac:link>\s*<ri:page ri:content-title="([^"]*)"[^>]*/>\s*</ac:link>')
_MD_MENTION = re.compile(r'<ac:link\b[^>]*>\s*<ri:user\s[^>]*?\bri:(?:account-id|userkey|username)="([^"]+)"[^>]*/>'
                         r"\s*</ac:link>")
# Confluence elements are blocks, except those that sit in a line of text.
_MD_BLOCK = re.compile(r"</?(?:p|div|ul|ol|li|table|tbody|thead|blockquote|br|hr|ac:(?!(?:link|link-body|"
                       r"plain-text-link-body|inline-comment-marker|emoticon|image|placeholder)(?![a-z-]))[a-z-]+)"
                       r"\b[^>]*>", re.IGNORECASE)
_MD_TAG = re.compile(r"<[^>]+>")
_CODE_TOKEN = "\x00code{}\x00"
_CODE_REF = re.compile("\x00code(\\d+)\x00")


def _inline(fragment: str) -> str:
    # Entities stay escaped: the final pass unescapes once, and an unescaped `&lt;x&gt;` would be stripped as a tag.
    return " ".join(_MD_TAG.sub(" ", fragment).split())


def mentions_as_names(storage: str, user_names: Mapping[str, str] | None) -> str:
    """Each user mention as the escaped text `@Display Name` (from `user_names`, id → name), else `@id`."""
    names = user_names or {}
    return _MD_MENTION.sub(lambda m: "@" + html.escape(names.get(m.group(1)) or m.group(1)), storage)


def storage_to_outline_markdown(storage: str, user_names: Mapping[str, str] | None = None) -> str:
    """Markdown for chunking and embedding: structure kept, formatting and macro parameters dropped; a mention
    reads `@Display Name` from `user_names` (id → name), as a read shows it, else `@id`."""
    codes: list[str] = []

    def keep_code(match: re.Match[str]) -> str:
        body = match.group(1) if match.group(1) is not None else html.unescape(_MD_TAG.sub("", match.group(2)))
        codes.append(body.strip("\n"))
        return f"\n\n{_CODE_TOKEN.format(len(codes) - 1)}\n\n"

    text = _MD_CODE.sub(keep_code, _MD_DROP.sub(" ", storage))
    text = _MD_PAGE_LINK.sub(lambda m: f" {m.group(1)} ", text)
    text = mentions_as_names(text, user_names)  # escaped: the tag stripping below unescapes once
    text = _MD_HEADING.sub(lambda m: f"\n\n{'#' * int(m.group(1))} {_inline(m.group(2))}\n\n", text)

    def cell(fragment: str) -> str:
        # A row stays one line, so the chunker keeps the table whole: code in a cell goes inline, pipes escaped.
        return _CODE_REF.sub(lambda m: f"\x00inline{m.group(1)}\x00", _inline(fragment).replace("|", "\\|"))

    text = _MD_ROW.sub(lambda m: "\n| " + " | ".join(cell(c) for c in _MD_CELL.findall(m.group(1))) + " |", text)
    text = _MD_ITEM.sub("\n- ", text)
    text = _MD_BLOCK.sub("\n", text)
    text = html.unescape(_MD_TAG.sub("", text))
    lines = [" ".join(line.split()) for line in text.split("\n")]
    markdown = re.sub(r"\n{3,}", "\n\n", "\n".join(line if line != "-" else "" for line in lines)).strip()
    for number, code in enumerate(codes):
        markdown = markdown.replace(_CODE_TOKEN.format(number), f"```\n{code}\n```")
        markdown = markdown.replace(f"\x00inline{number}\x00", " ".join(code.split()).replace("|", "\\|"))
    return markdown
