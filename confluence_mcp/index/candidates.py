"""Which pages of a run changed: site, version, space, labels and, when the run includes them, attachment and
comment versions.

Adding or removing a label and adding, updating or deleting an attachment or a comment leave a page's version
alone, so the candidate listing also brings each page's labels, and attachments (comments) come from one CQL
listing over the candidates (or their spaces), not a request per page. They are compared through a short
signature of their (id, version) pairs, stored per page; NULL means the page's entry holds no such text.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import anyio

from confluence_mcp.confluence import cql as cqlb
from confluence_mcp.confluence.client import ConfluenceClient
from confluence_mcp.confluence.listings import attachment_container
from confluence_mcp.confluence.weblinks import space_key_of
from confluence_mcp.errors import BadRequest, NotFound

if TYPE_CHECKING:
    from confluence_mcp.index.store import PageState

__all__ = ["INDEXED_TYPES", "Candidate", "attachment_signature", "attachment_signatures", "attachment_versions",
           "changed_pages", "comment_signatures", "list_candidates", "site_key"]

log = logging.getLogger(__name__)

ChildKind = Literal["attachment", "comment"]

INDEXED_TYPES = ("page", "blogpost")  # blog posts (announcements, decisions) are searched like pages
_LIST_EXPAND = "version,metadata.labels"  # the space key is in `_expandable.space`: expanding it costs as much
_ATTACHMENT_EXPAND = "version,container"
_LIST_PAGE_SIZE = 250
_SPACES_PER_QUERY = 50  # keeps the listing's URL short
_CONTAINERS_PER_QUERY = 100  # page ids per `container IN (...)` listing (a ~1.5 KB URL)
_BY_CONTAINER_MAX = 500  # up to this many pages, list their own attachments; above, their spaces' (fewer requests)
_PER_PAGE_MAX = 3  # this few pages: a listing each is cheaper than a CQL listing of their attachments
_PER_PAGE_CONCURRENCY = 4


@dataclass(frozen=True)
class Candidate:
    page_id: str
    version: int
    space: str
    labels: tuple[str, ...]  # sorted


def site_key(client: ConfluenceClient) -> str:
    """The site a run's pages come from, as recorded with each page: the client's web base (already without a
    trailing slash or API suffix) with scheme and host in lower case."""
    parts = urlsplit(client.site_url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path}"


async def list_candidates(client: ConfluenceClient, query: str) -> dict[str, Candidate]:
    """Page id → version, space and labels of every page the query matches, without bodies."""
    found: dict[str, Candidate] = {}
    cursor: str | None = None
    while True:
        page = await client.content_search(query, limit=_LIST_PAGE_SIZE, cursor=cursor, expand=_LIST_EXPAND)
        for item in page.results:
            if item.get("type", "page") not in INDEXED_TYPES:
                continue
            version = int((item.get("version") or {}).get("number") or 0)
            found[str(item["id"])] = Candidate(str(item["id"]), version, space_key_of(item) or "",
                                             label_names(item))
        if not page.next or not page.results:
            return found
        cursor = page.next


def label_names(content: dict[str, Any]) -> tuple[str, ...]:
    labels = ((content.get("metadata") or {}).get("labels") or {}).get("results") or []
    return tuple(sorted(str(label["name"]) for label in labels if label.get("name")))


def attachment_versions(attachments: Sequence[dict[str, Any]]) -> dict[str, int]:
    return {str(item["id"]): int((item.get("version") or {}).get("number") or 0) for item in attachments}


def attachment_signature(versions: Mapping[str, int]) -> str:
    """A short hash of the sorted id:version pairs (a fixed value for no attachments)."""
    text = "\n".join(f"{attachment_id}:{versions[attachment_id]}" for attachment_id in sorted(versions))
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


async def attachment_signatures(client: ConfluenceClient, candidates: Mapping[str, Candidate],
                                allowed_spaces: Sequence[str]) -> dict[str, str]:
    """Page id → attachment signature of every candidate."""
    return await _signatures(client, candidates, allowed_spaces, "attachment")


async def comment_signatures(client: ConfluenceClient, candidates: Mapping[str, Candidate],
                             allowed_spaces: Sequence[str]) -> dict[str, str]:
    """Page id → signature of every candidate's comments (replies included): a new, edited or deleted comment
    changes it, where the page's version stays."""
    return await _signatures(client, candidates, allowed_spaces, "comment")


async def _signatures(client: ConfluenceClient, candidates: Mapping[str, Candidate], allowed_spaces: Sequence[str],
                      kind: ChildKind) -> dict[str, str]:
    spaced = {page_id: candidate for page_id, candidate in candidates.items() if candidate.space}
    signatures = await _listed_signatures(client, spaced, allowed_spaces, kind) if len(spaced) > _PER_PAGE_MAX \
        else {}
    signatures.update(await _per_page_signatures(client, [p for p in candidates if p not in signatures], kind))
    return signatures


async def _listed_signatures(client: ConfluenceClient, candidates: Mapping[str, Candidate],
                             allowed_spaces: Sequence[str], kind: ChildKind) -> dict[str, str]:
    """Signatures from CQL listings: a narrow selection lists its own pages' attachments (or comments), a broad one
    its spaces'. A site that refuses the `container` query is asked by space; one that refuses both gets {}
    (page by page)."""
    for way in ("container", "space") if len(candidates) <= _BY_CONTAINER_MAX else ("space",):
        try:
            listed = await _listed_children(client, candidates, allowed_spaces, by=way, kind=kind)
        except BadRequest as exc:
            log.warning("the site refused the %s listing by %s (%s)", kind, way, exc)
            continue
        return {page_id: attachment_signature(listed.get(page_id, {})) for page_id in candidates}
    log.warning("listing each page's %ss", kind)
    return {}


async def _listed_children(client: ConfluenceClient, candidates: Mapping[str, Candidate],
                           allowed_spaces: Sequence[str], *, by: str, kind: ChildKind) -> dict[str, dict[str, int]]:
    """Container page id → {attachment or comment id: version}, from CQL listings of the candidates' children,
    asked `by` their page ids ("container") or their spaces."""
    if by == "container":
        ids = sorted(candidates)
        groups = [cqlb.in_("container", ids[i:i + _CONTAINERS_PER_QUERY])
                  for i in range(0, len(ids), _CONTAINERS_PER_QUERY)]
    else:
        spaces = sorted({candidate.space for candidate in candidates.values()})
        groups = [cqlb.in_("space", spaces[i:i + _SPACES_PER_QUERY]) for i in range(0, len(spaces), _SPACES_PER_QUERY)]
    found: dict[str, dict[str, int]] = {}
    for group in groups:
        query = cqlb.scoped(group, list(allowed_spaces), content_type=kind)
        cursor: str | None = None
        while True:
            page = await client.content_search(query, limit=_LIST_PAGE_SIZE, cursor=cursor,
                                               expand=_ATTACHMENT_EXPAND)
            for item in page.results:
                container = attachment_container(item) or ""
                if container in candidates:
                    found.setdefault(container, {}).update(attachment_versions([item]))
            if not page.next or not page.results:
                break
            cursor = page.next
    return found


async def _per_page_signatures(client: ConfluenceClient, page_ids: list[str], kind: ChildKind) -> dict[str, str]:
    signatures: dict[str, str] = {}
    limiter = anyio.Semaphore(_PER_PAGE_CONCURRENCY)

    async def sign(page_id: str) -> None:
        async with limiter:
            try:
                children = await client.all_attachments(page_id) if kind == "attachment" else \
                    [comment async for comment in client.comments(page_id, expand="version")]
            except NotFound:
                children = []  # deleted since the listing: the next run removes it
        signatures[page_id] = attachment_signature(attachment_versions(children))

    async with anyio.create_task_group() as group:
        for page_id in page_ids:
            group.start_soon(sign, page_id)
    return signatures


def changed_pages(candidates: Mapping[str, Candidate], stored: Mapping[str, PageState],
                  signatures: Mapping[str, str] | None, chunking: str | None = None,
                  comments: Mapping[str, str] | None = None, site: str | None = None) -> list[str]:
    """Candidates to (re-)index: new, or their version, space, labels or, with `signatures`, attachments differ,
    or (with `chunking`) they were cut into chunks another way, or (with `site`) fetched from another site: the
    same id there is another page, or the same page at another address.

    Comment signatures (`comments`) work the same way. Runs without attachments compare no signatures: they
    neither drop a page's attachment text nor make the next run with attachments redo pages it signed, so
    alternating runs settle.
    """
    changed = []
    for page_id, candidate in candidates.items():
        state = stored.get(page_id)
        if (state is None or state.version != candidate.version or tuple(sorted(state.labels)) != candidate.labels
                or (candidate.space and state.space != candidate.space)  # moved to another space
                or (signatures is not None and state.attachments != signatures[page_id])
                or (comments is not None and state.comments != comments[page_id])
                or (chunking is not None and state.chunking != chunking)
                or (site is not None and state.site != site)):
            changed.append(page_id)
    return changed
