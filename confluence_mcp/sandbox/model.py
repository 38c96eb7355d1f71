"""In-memory Confluence model: users, spaces, pages with version history, labels and attachments.

One `Store` per sandbox; every public method takes the store lock, so uvicorn's threads and seeding
threads can share it. Business rules that Confluence enforces (version numbers, unique titles, trash,
permissions) live here and raise `SandboxError` carrying the HTTP status the routes answer with.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

__all__ = [
    "Attachment",
    "AttachmentVersion",
    "Content",
    "Label",
    "SandboxError",
    "Space",
    "User",
    "Version",
    "utc_now",
]

Flavor = Literal["cloud", "server"]


def utc_now() -> datetime:
    return datetime.now(UTC)


class SandboxError(Exception):
    """A request Confluence would refuse; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


@dataclass
class User:
    account_id: str
    username: str
    user_key: str
    display_name: str
    email: str = ""

    def cql_identity(self, flavor: Flavor) -> str:
        """How CQL user fields (creator, contributor, currentUser()) name this user."""
        return self.account_id if flavor == "cloud" else self.username


@dataclass
class Space:
    id: int
    key: str
    name: str
    created: datetime
    creator: str
    type: str = "global"
    status: str = "current"
    description: str = ""
    homepage_id: str | None = None


@dataclass
class Version:
    number: int
    when: datetime
    by: str  # account_id of the author
    title: str
    body: str
    message: str = ""
    minor_edit: bool = False


@dataclass
class Label:
    id: str
    name: str
    prefix: str = "global"


@dataclass
class AttachmentVersion:
    number: int
    data: bytes
    when: datetime
    by: str
    comment: str = ""


@dataclass
class Attachment:
    id: str
    container_id: str
    space_key: str
    filename: str
    media_type: str
    versions: list[AttachmentVersion] = field(default_factory=list)
    status: str = "current"

    @property
    def current(self) -> AttachmentVersion:
        return self.versions[-1]


@dataclass
class Content:
    """A page, blog post or comment; the latest entry of `versions` is the current state."""

    id: str
    type: str
    space_key: str
    status: str
    parent_id: str | None
    created: datetime
    creator: str
    versions: list[Version]
    position: int
    labels: list[Label] = field(default_factory=list)
    attachment_ids: list[str] = field(default_factory=list)
    container_id: str | None = None  # a comment's page

    @property
    def version(self) -> Version:
        return self.versions[-1]

    @property
    def title(self) -> str:
        return self.versions[-1].title

    @property
    def body(self) -> str:
        return self.versions[-1].body


class IdSource:
    """Monotonic id counters; Cloud attachment ids carry the `att` prefix."""

    def __init__(self, flavor: Flavor) -> None:
        self.flavor = flavor
        self._content = itertools.count(65537)
        self._space = itertools.count(98305)
        self._label = itertools.count(1001)
        self._lock = threading.Lock()

    def content(self) -> str:
        with self._lock:
            return str(next(self._content))

    def attachment(self) -> str:
        with self._lock:
            number = next(self._content)
        return f"att{number}" if self.flavor == "cloud" else str(number)

    def space(self) -> int:
        with self._lock:
            return next(self._space)

    def label(self) -> str:
        with self._lock:
            return str(next(self._label))
