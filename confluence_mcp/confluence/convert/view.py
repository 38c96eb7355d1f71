"""Storage → HTML like Confluence's body.view (placeholder version)."""

from __future__ import annotations

from .links import LinkContext
from .xhtml import inner_xml, parse_fragment

__all__ = ["storage_to_view"]


def storage_to_view(storage: str, *, links: LinkContext | None = None) -> str:
    return inner_xml(parse_fragment(storage))
