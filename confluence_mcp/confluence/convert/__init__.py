"""Confluence storage ⇄ markdown conversion (see the module docstrings for the representation)."""

from __future__ import annotations

from .from_markdown import markdown_to_storage
from .links import LinkContext
from .sections import SectionNotFound, replace_section
from .text import storage_to_text
from .to_markdown import storage_to_markdown
from .view import storage_to_view
from .xhtml import StorageParseError, validate_storage

__all__ = [
    "LinkContext",
    "SectionNotFound",
    "StorageParseError",
    "markdown_to_storage",
    "replace_section",
    "storage_to_markdown",
    "storage_to_text",
    "storage_to_view",
    "validate_storage",
]
