"""Storage → markdown (placeholder version; replaced by the full converter)."""

from __future__ import annotations

from markdownify import markdownify

from .links import LinkContext
from .xhtml import inner_xml, parse_fragment

__all__ = ["storage_to_markdown"]


def storage_to_markdown(storage: str, *, links: LinkContext | None = None) -> str:
    return str(markdownify(inner_xml(parse_fragment(storage)), heading_style="ATX")).strip()
