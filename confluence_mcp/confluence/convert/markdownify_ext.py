"""markdownify configured for Confluence: escaping that markdown-it reads back literally, and pass-through of
Confluence elements pre-rendered to markdown (`<x-md>` / `<x-mdblock>` stand-ins)."""

from __future__ import annotations

import re
from typing import Any

from markdownify import MarkdownConverter

__all__ = ["StandInConverter", "escape_markdown"]

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")
_ENTITY_LIKE = re.compile(r"&(#?[A-Za-z0-9]+;)")
_LINE_START_SPECIAL = re.compile(r"^(\s*)(#{1,6}|-+|=+|\+|\d+(?=[.)]))(?=[.)]?(\s|$))", re.MULTILINE)
_LINE_START_COLONS = re.compile(r"^(\s*):::", re.MULTILINE)  # a layout marker line otherwise (layouts.py)


def escape_markdown(text: str) -> str:
    """Escape text so markdown-it reads it back literally."""
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    text = _ENTITY_LIKE.sub(r"\\&\1", text)
    text = _LINE_START_COLONS.sub(r"\1\\:::", text)
    return _LINE_START_SPECIAL.sub(_escape_line_start, text)


def _escape_line_start(match: re.Match[str]) -> str:
    indent, marker = match.group(1), match.group(2)
    return f"{indent}{marker}\\" if marker[0].isdigit() else f"{indent}\\{marker}"


class StandInConverter(MarkdownConverter):
    """markdownify with our escaping and pass-through of pre-rendered Confluence elements."""

    def __init__(self, rendered: list[str], **options: Any) -> None:
        super().__init__(heading_style="ATX", strong_em_symbol="*", escape_underscores=False,
                         escape_asterisks=False, **options)
        self.rendered = rendered

    def escape(self, text: str, parent_tags: set[str]) -> str:
        return escape_markdown(text) if text else ""

    def convert_em(self, el: Any, text: str, parent_tags: set[str]) -> str:
        # "***x***" reads back as em>strong; "**_x_**" keeps strong>em.
        if "strong" in parent_tags or el.find("strong") is not None:
            return str(self._underscore_em(el, text, parent_tags))
        return str(super().convert_em(el, text, parent_tags))  # type: ignore[misc]

    def _underscore_em(self, el: Any, text: str, parent_tags: set[str]) -> str:
        stripped = text.strip()
        if not stripped:
            return text
        leading, trailing = text[: len(text) - len(text.lstrip())], text[len(text.rstrip()) :]
        return f"{leading}_{stripped}_{trailing}"

    def convert_li(self, el: Any, text: str, parent_tags: set[str]) -> str:
        item = str(super().convert_li(el, text, parent_tags))  # type: ignore[misc]
        # Paragraphs inside items make a loose list: markdown needs blank lines between the items.
        if el.find("p", recursive=False) is not None:
            item += "\n"
        return item

    def convert_x_md(self, el: Any, text: str, parent_tags: set[str]) -> str:
        return self.rendered[int(el["data-i"])]

    def convert_x_mdblock(self, el: Any, text: str, parent_tags: set[str]) -> str:
        return "\n\n" + self.rendered[int(el["data-i"])] + "\n\n"
