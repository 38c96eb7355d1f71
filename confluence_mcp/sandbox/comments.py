"""Footer comments of the store: a comment is content of type `comment` in its page's space, whose `container`
is the page and whose `parent_id` is the comment it replies to (None for a top-level comment)."""

from __future__ import annotations

from confluence_mcp.sandbox.model import Content, SandboxError, Version, utc_now
from confluence_mcp.sandbox.store_parts import StoreParts

__all__ = ["CommentsMixin"]


class CommentsMixin(StoreParts):
    """Mixed into `Store`; relies on its lock, contents, ids and reindex."""

    def add_comment(self, container_id: str, body: str, *, reply_to: str | None = None,
                    author: str | None = None) -> Content:
        with self.lock:
            page = self.get(container_id)
            if page.type not in ("page", "blogpost"):
                raise SandboxError(400, f"Content {container_id} cannot hold comments")
            self.check_writable(page.space_key)
            self._check_body(body)
            if not body.strip():
                raise SandboxError(400, "A comment needs a body")
            if reply_to is not None and self.get(reply_to).container_id != page.id:
                raise SandboxError(400, f"Comment {reply_to} is not on content {container_id}")
            moment, by = utc_now(), author or self.current_user.account_id
            comment = Content(id=self.ids.content(), type="comment", space_key=page.space_key, status="current",
                              parent_id=reply_to, created=moment, creator=by, position=0, container_id=page.id,
                              versions=[Version(number=1, when=moment, by=by, title=f"Re: {page.title}", body=body)])
            self.contents[comment.id] = comment
            self.reindex(comment)
            return comment

    def reindex_comments(self, page: Content) -> None:
        """A trashed page's comments leave search; a restored page's come back."""
        for comment in self.comments_of(page.id):
            if page.status == "current":
                self.reindex(comment)
            else:
                self.engine.remove(comment.id)

    def purge_comments(self, page: Content) -> None:
        for comment in self.comments_of(page.id):
            del self.contents[comment.id]
            self.engine.remove(comment.id)

    def comments_of(self, container_id: str) -> list[Content]:
        """Every comment on that content, whatever its status (no checks: for serializing and bookkeeping)."""
        return [c for c in self.contents.values() if c.type == "comment" and c.container_id == container_id]

    def comments(self, container_id: str, *, replies: bool) -> list[Content]:
        """The page's comments, oldest first: top-level ones only, or (`replies`) every one."""
        with self.lock:
            self.get(container_id)
            return sorted((c for c in self.comments_of(container_id)
                           if c.status == "current" and (replies or c.parent_id is None)), key=lambda c: int(c.id))
