"""The sandbox's thread-safe store: Confluence's rules for content, labels and permissions.

The CQL engine (`SearchEngine`) is kept in step with every write, so search always sees what GET sees.
Attachments live in `attachments.py` (a mixin) to keep each file readable.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime

from confluence_mcp.confluence.convert import storage_to_text, validate_storage
from confluence_mcp.sandbox.attachments import AttachmentsMixin
from confluence_mcp.sandbox.comments import CommentsMixin
from confluence_mcp.sandbox.labels import LabelsMixin
from confluence_mcp.sandbox.model import (
    Attachment,
    Content,
    Flavor,
    IdSource,
    SandboxError,
    Space,
    User,
    Version,
    utc_now,
)
from confluence_mcp.sandbox.search_engine import SearchDoc, SearchEngine

__all__ = ["MAX_BODY_BYTES", "Store", "default_user"]

MAX_BODY_BYTES = 5_242_880


def default_user(email: str) -> User:
    name = email.split("@", 1)[0] or "sandbox"
    return User(
        account_id="557058:0f1e2d3c-sandbox-0001", username=name, user_key="8a7f8081sandbox0001",
        display_name=name.replace(".", " ").title() + " User", email=email,
    )


class Store(AttachmentsMixin, CommentsMixin, LabelsMixin):
    """Spaces, content, labels, attachments and users of one sandbox."""

    def __init__(self, flavor: Flavor, *, user: User, hidden_spaces: Iterable[str] = (),
                 read_only_spaces: Iterable[str] = ()) -> None:
        self.flavor = flavor
        self.lock = threading.RLock()
        self.ids = IdSource(flavor)
        self.users: dict[str, User] = {user.account_id: user}
        self.current_user = user
        self.hidden_spaces = {key.upper() for key in hidden_spaces}
        self.read_only_spaces = {key.upper() for key in read_only_spaces}
        self.spaces: dict[str, Space] = {}
        self.contents: dict[str, Content] = {}
        self.attachments: dict[str, Attachment] = {}
        self.children_of: dict[str | None, list[str]] = {}
        self.label_ids: dict[str, str] = {}
        self.titles: dict[tuple[str, str, str], str] = {}  # (space, type, lower title) → id of live content
        self.engine = SearchEngine()
        self.text_of: Callable[[str], str] = storage_to_text

    # -- users -------------------------------------------------------------------------------------
    def add_user(self, user: User) -> User:
        with self.lock:
            self.users[user.account_id] = user
            return user

    def find_user(self, ident: str) -> User | None:
        """A user by accountId, username or userKey."""
        with self.lock:
            for user in self.users.values():
                if ident in (user.account_id, user.username, user.user_key):
                    return user
            return None

    def user(self, account_id: str) -> User:
        return self.users.get(account_id) or self.current_user

    # -- spaces ------------------------------------------------------------------------------------
    def create_space(self, key: str, name: str | None = None, *, description: str = "",
                     space_type: str = "global") -> Space:
        with self.lock:
            existing = self.spaces.get(key.upper())
            if existing:
                return existing
            space = Space(id=self.ids.space(), key=key.upper(), name=name or key, created=utc_now(),
                          creator=self.current_user.account_id, type=space_type, description=description)
            self.spaces[space.key] = space
            return space

    def space(self, key: str) -> Space:
        with self.lock:
            space = self.spaces.get(key) or self.spaces.get(key.upper())
            if space is None or space.key in self.hidden_spaces:
                raise SandboxError(404, f"No space with key : {key}")
            return space

    def visible_spaces(self) -> list[Space]:
        with self.lock:
            return sorted((s for s in self.spaces.values() if s.key not in self.hidden_spaces),
                          key=lambda s: s.key)

    def space_by_id(self, space_id: int) -> Space | None:
        with self.lock:
            for space in self.spaces.values():
                if space.id == space_id and space.key not in self.hidden_spaces:
                    return space
            return None

    def check_writable(self, space_key: str) -> None:
        if space_key.upper() in self.hidden_spaces or space_key.upper() not in self.spaces:
            raise SandboxError(404, f"No space with key : {space_key}")
        if space_key.upper() in self.read_only_spaces:
            raise SandboxError(403, f"User not permitted to edit content in space {space_key}")

    # -- content reads -----------------------------------------------------------------------------
    def get(self, content_id: str, statuses: Iterable[str] = ("current",)) -> Content:
        if not content_id.removeprefix("att").isdigit():
            raise SandboxError(400, f"Can't parse as a ContentId: {content_id}")
        with self.lock:
            content = self.contents.get(content_id)
            wanted = set(statuses)
            if (content is None or content.space_key in self.hidden_spaces
                    or ("any" not in wanted and content.status not in wanted)):
                raise SandboxError(404, f"No content found with id : {content_id}")
            return content

    def list_content(self, *, space_key: str | None = None, title: str | None = None,
                     content_type: str | None = "page", status: str = "current") -> list[Content]:
        with self.lock:
            found = [c for c in self.contents.values()
                     if c.space_key not in self.hidden_spaces
                     and (status == "any" or c.status == status)
                     and (content_type is None or c.type == content_type)
                     and (space_key is None or c.space_key == space_key.upper())
                     and (title is None or c.title == title)]  # title match is case-sensitive, as in Confluence
            return sorted(found, key=lambda c: int(c.id))

    def children(self, content_id: str | None, space_key: str | None = None) -> list[Content]:
        with self.lock:
            ids = self.children_of.get(content_id, [])
            kids = [self.contents[i] for i in ids if self.contents[i].status == "current"]
            if space_key is not None:
                kids = [c for c in kids if c.space_key == space_key]
            return kids

    def descendants(self, content_id: str, depth: int | None = None) -> list[Content]:
        with self.lock:
            found: list[Content] = []
            frontier, level = [content_id], 1
            while frontier and (depth is None or level <= depth):
                next_frontier = []
                for parent in frontier:
                    for child in self.children(parent):
                        found.append(child)
                        next_frontier.append(child.id)
                frontier, level = next_frontier, level + 1
            return found

    def ancestors(self, content: Content) -> list[Content]:
        """Root first; the last one is the parent."""
        with self.lock:
            chain: list[Content] = []
            parent_id = content.parent_id
            while parent_id is not None and parent_id in self.contents:
                parent = self.contents[parent_id]
                chain.append(parent)
                parent_id = parent.parent_id
            return list(reversed(chain))

    # -- content writes ----------------------------------------------------------------------------
    def _check_title(self, space_key: str, title: str, content_type: str, except_id: str | None) -> None:
        if content_type == "comment":  # "Re: <page title>", as many as there are comments
            return
        if not title.strip():
            raise SandboxError(400, "Title cannot be empty")
        holder = self.titles.get((space_key, content_type, title.lower()))
        if holder is not None and holder != except_id:
            raise SandboxError(400, "A page with this title already exists: A page already exists with "
                                    f"the title {title} in the space with key {space_key}")

    def _index_title(self, content: Content, *, live: bool) -> None:
        if content.type == "comment":
            return
        key = (content.space_key, content.type, content.title.lower())
        if live:
            self.titles[key] = content.id
        elif self.titles.get(key) == content.id:
            del self.titles[key]

    def _check_body(self, body: str) -> None:
        if len(body.encode()) > MAX_BODY_BYTES:
            raise SandboxError(413, f"Content body exceeds the maximum size of {MAX_BODY_BYTES} bytes")
        try:
            validate_storage(body)
        except ValueError as error:
            message = str(error)
            if not message.startswith("Error parsing xhtml"):
                message = f"Error parsing xhtml: {message}"
            raise SandboxError(400, message) from error

    def _resolve_parent(self, space_key: str, parent_id: str | None) -> str | None:
        if parent_id is None:
            return None
        parent = self.contents.get(str(parent_id))
        if parent is None or parent.status != "current" or parent.space_key in self.hidden_spaces:
            raise SandboxError(404, f"No content found with id : {parent_id}")
        if parent.space_key != space_key:
            raise SandboxError(400, "Can't add a parent from another space")
        return parent.id

    def create(self, *, space_key: str, title: str, body: str, content_type: str = "page",
               parent_id: str | None = None, status: str = "current", labels: Iterable[str] = (),
               author: str | None = None, when: datetime | None = None, check: bool = True,
               text: str | None = None) -> Content:
        with self.lock:
            space_key = space_key.upper()
            if check:
                self.check_writable(space_key)
                self._check_body(body)
            elif space_key not in self.spaces:
                self.create_space(space_key)
            self._check_title(space_key, title, content_type, None)
            parent = self._resolve_parent(space_key, parent_id)
            moment = when or utc_now()
            by = author or self.current_user.account_id
            siblings = self.children_of.setdefault(parent, [])
            content = Content(
                id=self.ids.content(), type=content_type, space_key=space_key, status=status,
                parent_id=parent, created=moment, creator=by, position=len(siblings),
                versions=[Version(number=1, when=moment, by=by, title=title, body=body)],
            )
            self.contents[content.id] = content
            self._index_title(content, live=True)
            siblings.append(content.id)
            space = self.spaces[space_key]
            if space.homepage_id is None and parent is None and content_type == "page":
                space.homepage_id = content.id
            for name in labels:
                self._add_label(content, name, "global")
            self.reindex(content, text=text)
            return content

    def update(self, content_id: str, *, title: str, version: int, body: str | None = None,
               parent_id: str | None = None, status: str = "current", message: str = "",
               minor_edit: bool = False) -> Content:
        with self.lock:
            content = self.get(content_id, ("current", "draft", "trashed"))
            self.check_writable(content.space_key)
            if content.status == "trashed":
                if status != "current":
                    raise SandboxError(404, f"No content found with id : {content_id}")
                self._check_title(content.space_key, content.title, content.type, content.id)
                content.status = "current"  # PUT ?status=current restores from the trash
                self._index_title(content, live=True)
                self.reindex(content)
                self.reindex_comments(content)
                return content
            if version != content.version.number + 1:
                raise SandboxError(409, "Version must be incremented on update. Current version is: "
                                        f"{content.version.number}")
            new_body = content.body if body is None else body
            if body is not None:
                self._check_body(body)
            self._check_title(content.space_key, title, content.type, content.id)
            moved = parent_id is not None and parent_id != content.parent_id
            if moved:
                self._move(content, self._resolve_parent(content.space_key, parent_id))
            unchanged = new_body == content.body and title == content.title and status == content.status
            if unchanged and not moved:
                return content  # Cloud ignores a no-op update: no new version
            self._index_title(content, live=False)
            content.status = status
            content.versions.append(Version(
                number=content.version.number + 1, when=utc_now(), by=self.current_user.account_id,
                title=title, body=new_body, message=message, minor_edit=minor_edit))
            self._index_title(content, live=status in ("current", "draft"))
            for changed in [content, *(self.descendants(content.id) if moved else [])]:
                self.reindex(changed)
            return content

    def _move(self, content: Content, new_parent: str | None, index: int | None = None) -> None:
        if content.type == "comment":
            raise SandboxError(400, "A comment cannot be moved")
        probe: str | None = new_parent
        while probe is not None:  # refuse cycles: a page cannot move under its own subtree
            if probe == content.id:
                raise SandboxError(400, "Cannot move a page under one of its descendants")
            probe = self.contents[probe].parent_id
        self.children_of.get(content.parent_id, []).remove(content.id)
        siblings = self.children_of.setdefault(new_parent, [])
        siblings.insert(len(siblings) if index is None else index, content.id)
        content.parent_id = new_parent
        for position, sibling in enumerate(siblings):
            self.contents[sibling].position = position

    def move(self, content_id: str, position: str, target_id: str) -> Content:
        """`PUT /content/{id}/move/{before|after|append}/{targetId}`; the subtree moves along."""
        with self.lock:
            content, target = self.get(content_id), self.get(target_id)
            self.check_writable(content.space_key)
            if target.space_key != content.space_key or position not in ("before", "after", "append"):
                raise SandboxError(400, f"Cannot move {content_id} {position} {target_id}")
            if position == "append":
                self._move(content, target.id)
            else:
                siblings = [s for s in self.children_of.get(target.parent_id, []) if s != content.id]
                index = siblings.index(target.id) + (position == "after")
                self._move(content, target.parent_id, index)
            for changed in [content, *self.descendants(content.id)]:
                self.reindex(changed)
            return content

    def delete(self, content_id: str, *, purge: bool = False) -> None:
        with self.lock:
            content = self.get(content_id, ("current", "trashed", "draft"))
            self.check_writable(content.space_key)
            if content.status == "trashed" and purge:
                self._purge(content)
            elif content.status == "trashed":
                raise SandboxError(400, "Content is already in the trash; pass status=trashed to purge it")
            elif purge:
                raise SandboxError(404, f"No content found with id : {content_id} and status trashed")
            else:
                content.status = "trashed"
                self._index_title(content, live=False)
                self.engine.remove(content.id)
                self.reindex_comments(content)

    def _purge(self, content: Content) -> None:
        for attachment_id in content.attachment_ids:
            self.attachments.pop(attachment_id, None)
            self.engine.remove(attachment_id)
        self.purge_comments(content)
        if content.type == "comment":
            del self.contents[content.id]
            self.engine.remove(content.id)
            return
        self.children_of.get(content.parent_id, []).remove(content.id)
        for orphan in self.children_of.pop(content.id, []):  # children move up, as in Confluence
            self.contents[orphan].parent_id = content.parent_id
            self.children_of.setdefault(content.parent_id, []).append(orphan)
        del self.contents[content.id]
        self._index_title(content, live=False)
        self.engine.remove(content.id)

    # -- search ------------------------------------------------------------------------------------
    def reindex(self, content: Content, *, text: str | None = None) -> None:
        if content.status != "current":
            self.engine.remove(content.id)
            return
        space = self.spaces[content.space_key]
        contributors = tuple(dict.fromkeys(v.by for v in content.versions))
        self.engine.upsert(SearchDoc(
            id=content.id, type=content.type, space_key=content.space_key, space_title=space.name,
            title=content.title, text=self.text_of(content.body) if text is None else text,
            labels=tuple(label.name for label in content.labels),
            ancestor_ids=tuple(a.id for a in self.ancestors(content)), parent_id=content.parent_id,
            container_id=content.container_id, creator=self._cql_user(content.creator),
            contributors=tuple(self._cql_user(c) for c in contributors),
            created=content.created, lastmodified=content.version.when,
        ))

    def _cql_user(self, account_id: str) -> str:
        return self.user(account_id).cql_identity(self.flavor)

    def search(self, cql: str) -> list[tuple[Content | Attachment, float]]:
        """Run CQL; raises SandboxError(400) for CQL the engine rejects."""
        try:
            hits = self.engine.search(cql, current_user=self.current_user.cql_identity(self.flavor))
        except ValueError as error:  # CqlError is a ValueError
            raise SandboxError(400, f"Could not parse cql : {cql}") from error
        with self.lock:
            found: list[tuple[Content | Attachment, float]] = []
            for hit in hits:
                item: Content | Attachment | None = (self.contents.get(hit.doc.id)
                                                     or self.attachments.get(hit.doc.id))
                if item is not None and item.space_key not in self.hidden_spaces:
                    found.append((item, hit.score))
            return found

    def excerpt(self, item_id: str, cql: str, *, highlight: bool) -> str:
        try:
            return self.engine.excerpt(item_id, cql, highlight=highlight)
        except (ValueError, KeyError):
            return ""
