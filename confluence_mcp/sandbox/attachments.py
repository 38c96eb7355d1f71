"""Attachment rules of the store: upload, duplicate names, new versions, deletion (no trash)."""

from __future__ import annotations

from confluence_mcp.sandbox.model import Attachment, AttachmentVersion, SandboxError, utc_now
from confluence_mcp.sandbox.store_parts import StoreParts

__all__ = ["AttachmentsMixin"]


class AttachmentsMixin(StoreParts):
    """Mixed into `Store`; relies on its lock, contents, attachments, ids and engine."""

    def list_attachments(self, container_id: str, *, filename: str | None = None,
                         media_type: str | None = None) -> list[Attachment]:
        with self.lock:
            content = self.get(container_id)
            found = [self.attachments[i] for i in content.attachment_ids if i in self.attachments]
            if filename is not None:
                found = [a for a in found if a.filename == filename]
            if media_type is not None:
                found = [a for a in found if a.media_type == media_type]
            return found

    def attachment(self, attachment_id: str, container_id: str | None = None) -> Attachment:
        with self.lock:
            attachment = self.attachments.get(attachment_id)
            if attachment is None or (container_id is not None and attachment.container_id != container_id):
                raise SandboxError(404, f"No attachment found with id : {attachment_id}")
            self.get(attachment.container_id)  # hidden or trashed container hides the file too
            return attachment

    def find_attachment(self, container_id: str, filename: str) -> Attachment | None:
        with self.lock:
            for attachment in self.list_attachments(container_id):
                if attachment.filename == filename:
                    return attachment
            return None

    def add_attachment(self, container_id: str, filename: str, data: bytes, *, media_type: str,
                       comment: str = "", replace: bool = False, check: bool = True) -> Attachment:
        """POST semantics (duplicate → 400) unless `replace` (PUT: create or add a version)."""
        with self.lock:
            content = self.get(container_id)
            if check:
                self.check_writable(content.space_key)
            existing = self.find_attachment(container_id, filename)
            if existing is not None:
                if not replace:
                    raise SandboxError(400, "Cannot add a new attachment with same file name as an existing "
                                            f"attachment: {filename}")
                return self.add_attachment_version(existing.id, data, media_type=media_type, comment=comment)
            attachment = Attachment(
                id=self.ids.attachment(), container_id=content.id, space_key=content.space_key,
                filename=filename, media_type=media_type,
                versions=[AttachmentVersion(number=1, data=data, when=utc_now(),
                                            by=self.current_user.account_id, comment=comment)],
            )
            self.attachments[attachment.id] = attachment
            content.attachment_ids.append(attachment.id)
            self.reindex_attachment(attachment)
            return attachment

    def add_attachment_version(self, attachment_id: str, data: bytes, *, media_type: str | None = None,
                               comment: str = "", filename: str | None = None) -> Attachment:
        with self.lock:
            attachment = self.attachment(attachment_id)
            self.check_writable(attachment.space_key)
            if filename:
                attachment.filename = filename
            if media_type:
                attachment.media_type = media_type
            attachment.versions.append(AttachmentVersion(
                number=attachment.current.number + 1, data=data, when=utc_now(),
                by=self.current_user.account_id, comment=comment))
            self.reindex_attachment(attachment)
            return attachment

    def delete_attachment(self, attachment_id: str) -> None:
        """Attachments are deleted permanently (no trash)."""
        with self.lock:
            attachment = self.attachment(attachment_id)
            self.check_writable(attachment.space_key)
            del self.attachments[attachment_id]
            self.get(attachment.container_id).attachment_ids.remove(attachment_id)
            self.engine.remove(attachment_id)

    def reindex_attachment(self, attachment: Attachment) -> None:
        from confluence_mcp.sandbox.search_engine import SearchDoc

        content = self.get(attachment.container_id)
        space = self.spaces[content.space_key]  # type: ignore[attr-defined]
        creator = self.user(attachment.versions[0].by).cql_identity(self.flavor)  # type: ignore[attr-defined]
        self.engine.upsert(SearchDoc(
            id=attachment.id, type="attachment", space_key=content.space_key, space_title=space.name,
            title=attachment.filename, text=f"{attachment.filename} {attachment.current.comment}".strip(),
            labels=(), ancestor_ids=(), parent_id=None, container_id=content.id, creator=creator,
            contributors=(creator,), created=attachment.versions[0].when,
            lastmodified=attachment.current.when,
        ))
