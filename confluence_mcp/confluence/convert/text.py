"""Storage → plain text for search indexing.

Regex-based on purpose: it runs over every page when the sandbox starts, must be fast, and must never fail on a
slightly malformed body. Macro parameters are dropped except titles; code bodies (CDATA) are kept as text.
"""

from __future__ import annotations

import html
import re

__all__ = ["storage_to_text"]

_PARAMETER = re.compile(r"<ac:parameter\b([^>]*)>(.*?)</ac:parameter>", re.DOTALL)
_CDATA = re.compile(r"<!\[CDATA\[(.*?)\]\]>", re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->|<ac:task-(id|uuid|status)>.*?</ac:task-\1>", re.DOTALL)  # tasks' bookkeeping too
_BLOCK_TAG = re.compile(
    r"</?(?:p|h[1-6]|li|tr|td|th|div|pre|blockquote|table|ul|ol|br|hr|ac:task|ac:rich-text-body|"
    r"ac:plain-text-body|ac:layout-cell|ac:structured-macro)\b[^>]*>",
    re.IGNORECASE,
)
_USER_OR_FILE = re.compile(r'<ri:(?:attachment) ri:filename="([^"]*)"[^>]*>')
_PAGE_TITLE = re.compile(r'<ac:link>\s*<ri:page ri:content-title="([^"]*)"[^>]*/>\s*</ac:link>')
_TAG = re.compile(r"<[^>]+>")


def _parameter(match: re.Match[str]) -> str:
    return f" {match.group(2)} " if 'ac:name="title"' in match.group(1) else " "


def _cdata(match: re.Match[str]) -> str:
    return html.escape(match.group(1), quote=False)  # re-escaped so the final unescape restores it exactly


def storage_to_text(storage: str) -> str:
    """Plain text of a storage body: block boundaries become newlines, markup and macro parameters vanish."""
    text = _COMMENT.sub(" ", storage)
    text = _PARAMETER.sub(_parameter, text)
    text = _CDATA.sub(_cdata, text)
    text = _PAGE_TITLE.sub(lambda m: f" {m.group(1)} ", text)  # link without body shows the page title
    text = _USER_OR_FILE.sub(lambda m: f" {m.group(1)} ", text)
    text = _BLOCK_TAG.sub("\n", text)
    text = _TAG.sub("", text)
    text = html.unescape(text)
    # str.split runs in C: much faster than whitespace regexes on megabytes of text.
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)
