"""What the store's rule mixins (attachments, comments, labels) rely on; `Store` provides all of it."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from confluence_mcp.sandbox.model import Attachment, Content, IdSource, User
    from confluence_mcp.sandbox.search_engine import SearchEngine

__all__ = ["StoreParts"]


class StoreParts:
    """Declarations only, for type checkers: the attributes and methods `Store` defines."""

    lock: threading.RLock
    contents: dict[str, Content]
    attachments: dict[str, Attachment]
    label_ids: dict[str, str]
    ids: IdSource
    current_user: User
    engine: SearchEngine

    def get(self, content_id: str, statuses: tuple[str, ...] = ("current",)) -> Content: ...  # type: ignore[empty-body]
    def check_writable(self, space_key: str) -> None: ...
    def reindex(self, content: Content, *, text: str | None = None) -> None: ...
    def _check_body(self, body: str) -> None: ...
