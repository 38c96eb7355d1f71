"""Label rules of the store: names are lower-cased single words; adding merges, removing a missing one is 404."""

from __future__ import annotations

from collections.abc import Iterable

from confluence_mcp.sandbox.model import Content, Label, SandboxError
from confluence_mcp.sandbox.store_parts import StoreParts

__all__ = ["LabelsMixin"]


class LabelsMixin(StoreParts):
    """Mixed into `Store`; relies on its lock, label ids, ids and reindex."""

    def _add_label(self, content: Content, name: str, prefix: str) -> None:
        name = name.strip().lower()
        if not name or any(ch.isspace() for ch in name) or any(ch in name for ch in ":;,.?&[]()#^*@!"):
            raise SandboxError(400, f"Label '{name}' contains invalid characters")
        if any(label.name == name for label in content.labels):
            return
        label_id = self.label_ids.setdefault(name, self.ids.label())
        content.labels.append(Label(id=label_id, name=name, prefix=prefix))

    def add_labels(self, content_id: str, labels: Iterable[tuple[str, str]]) -> Content:
        with self.lock:
            content = self.get(content_id)
            self.check_writable(content.space_key)
            for prefix, name in labels:
                self._add_label(content, name, prefix or "global")
            self.reindex(content)
            return content

    def remove_label(self, content_id: str, name: str) -> None:
        with self.lock:
            content = self.get(content_id)
            self.check_writable(content.space_key)
            before = len(content.labels)
            content.labels = [label for label in content.labels if label.name != name.lower()]
            if len(content.labels) == before:
                raise SandboxError(404, f"Label {name} not found on content {content_id}")
            self.reindex(content)
