"""Cloud REST v2 page operations, in the v1 Content JSON the rest of the code reads.

Atlassian has deprecated the v1 content endpoints on Cloud (they still answer). When a site answers one of them
with 410 Gone, `ConfluenceClient` switches that operation to the v2 stand-in here:

- read: `GET /pages/{id}` (or `/blogposts/{id}`: v1 served both), plus, when the v1 `expand` asked for them,
  every label, the space (`GET /spaces/{id}`, for its key) and the ancestors (`GET /pages/{id}/ancestors`);
- title lookup: `GET /pages?space-id&title`;
- create: `POST /pages` (v2 carries no labels: they go through v1's label endpoint, which is not deprecated);
- update and delete: `PUT` / `DELETE /pages/{id}` (or `/blogposts/{id}`); v2 has no minor edits, so watchers
  are notified of every update;
- a page's labels: `GET /pages/{id}/labels` (adding and removing labels stays on v1, not deprecated);
- a space with its homepage: `GET /spaces?keys=KEY`.

`v2_to_v1_attachment` maps the v2 attachment listing that `listings.py` falls back to.

Only the fields our callers read are mapped. A 410 means the v1 call did nothing, so nothing is written twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from confluence_mcp.confluence.urls import segment
from confluence_mcp.errors import ConfluenceError, NotFound

if TYPE_CHECKING:
    from confluence_mcp.confluence.client import ConfluenceClient

__all__ = ["V2Pages", "expand_parts", "page_or_blogpost", "v2_query", "v2_to_v1_attachment", "v2_to_v1_page"]

log = logging.getLogger(__name__)
_T = TypeVar("_T")


class V2Pages:
    """The v2 stand-ins for v1 page reads and writes; space ids are looked up once per key."""

    def __init__(self, client: ConfluenceClient) -> None:
        self.client = client
        self._space_ids: dict[str, str] = {}

    async def get(self, page_id: str, expand: str, statuses: Sequence[str] = ()) -> dict[str, Any]:
        parts = expand_parts(expand)
        status = {"status": list(statuses)} if statuses else {}
        kind, path, page = await self._locate(page_id, params={**v2_query(parts), **status})
        labels = page.get("labels")
        if isinstance(labels, dict) and (labels.get("meta") or {}).get("hasMore"):  # the page carries 50 at most
            labels["results"] = await self._all_labels(path)
        return await self._as_v1(page, kind, parts)

    async def labels(self, page_id: str) -> list[str]:
        return [str(item.get("name")) for item in (await page_or_blogpost(page_id, self._all_labels))[2]]

    async def _all_labels(self, path: str) -> list[dict[str, Any]]:
        """Every label of the page or blog post at that v2 path."""
        return [item async for item in self.client.paginate(f"{path}/labels", api="v2", page_size=250)]

    async def find_by_title(self, space_key: str, title: str, expand: str) -> dict[str, Any] | None:
        parts = expand_parts(expand)
        listing = await self.client.get_json("pages", api="v2", params={
            "space-id": await self.space_id(space_key), "title": title, "status": "current", "limit": 5,
            **v2_query(parts - {"metadata.labels"})})
        for page in listing.get("results") or []:
            if page.get("title") == title:
                return await self._as_v1(page, "page", parts)
        return None

    async def create(self, space_key: str, title: str, storage: str, *, parent_id: str | None, status: str,
                     labels: list[str]) -> dict[str, Any]:
        payload: dict[str, Any] = {"spaceId": await self.space_id(space_key), "status": status, "title": title,
                                   "body": {"representation": "storage", "value": storage}}
        if parent_id:
            payload["parentId"] = str(parent_id)
        # Without a parent, at the space's root as v1 put it (v2 would file it under the homepage).
        root = None if parent_id else {"root-level": "true"}
        page = await self.client.send_json("POST", "pages", json=payload, params=root, api="v2")
        if labels:
            try:
                await self.client.add_labels(str(page["id"]), labels)
            except ConfluenceError as exc:  # the page exists: callers check its labels (create_page does)
                log.warning("page %s created through REST v2, but adding its labels failed: %s", page["id"], exc)
        return await self._written(page, "page")

    async def update(self, page_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        """`payload` is the v1 PUT body (`update_page` builds it); its kind picks /pages or /blogposts."""
        version = payload["version"]
        body: dict[str, Any] = {
            "id": str(page_id), "status": payload["status"], "title": payload["title"],
            "body": {"representation": "storage", "value": payload["body"]["storage"]["value"]},
            "version": {"number": version["number"], "message": version.get("message") or ""},
        }
        kind = str(payload.get("type") or "page")
        if version.get("minorEdit"):
            log.warning("page %s: REST v2 has no minor edits, so watchers are notified of this update", page_id)
        if payload.get("ancestors") and kind == "page":
            body["parentId"] = str(payload["ancestors"][-1]["id"])
        page = await self.client.send_json("PUT", f"{_collection(kind)}/{segment(page_id)}", json=body, api="v2")
        return await self._written(page, kind)

    async def delete(self, page_id: str, *, purge: bool) -> None:
        """To the trash; with `purge`, out of it for good (a page already in the trash is purged directly)."""
        if not purge:
            await page_or_blogpost(page_id, lambda path: self.client.request("DELETE", path, api="v2"))
            return
        _, path, item = await self._locate(page_id, params={"status": ["current", "draft", "trashed"]})
        if item.get("status") != "trashed":
            await self.client.request("DELETE", path, api="v2")
        await self.client.request("DELETE", path, params={"purge": "true"}, api="v2")

    async def space_id(self, key: str) -> str:
        if key not in self._space_ids:
            await self.space(key)
        return self._space_ids[key]

    async def space(self, key: str) -> dict[str, Any]:
        """v1's `GET /space/{key}?expand=homepage` answer: id, key, name and the homepage's id."""
        listing = await self.client.get_json("spaces", params={"keys": key}, api="v2")
        found = [s for s in listing.get("results") or [] if str(s.get("key") or "").upper() == key.upper()]
        if not found:
            raise NotFound(f"Space {key} was not found, or this account cannot see it: check the space key "
                           "(a short code like DOCS, not the space name).")
        space = found[0]
        self._space_ids[key] = str(space["id"])
        home = space.get("homepageId")
        return {"id": space["id"], "key": space.get("key"), "name": space.get("name"), "type": space.get("type"),
                **({"homepage": {"id": str(home), "type": "page"}} if home else {})}

    async def roots(self, key: str) -> Any:
        """The first page of a space's top-level pages (`GET /spaces/{id}/pages?depth=root`), as v2 JSON."""
        return await self.client.get_json(f"spaces/{segment(await self.space_id(key))}/pages",
                                          params={"depth": "root", "limit": 100}, api="v2")

    async def _locate(self, page_id: str, *, params: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
        """The page, else the blog post, with that id: its kind, v2 path and JSON."""
        return await page_or_blogpost(page_id, lambda path: self.client.get_json(path, params=params, api="v2"))

    async def _written(self, page: dict[str, Any], kind: str) -> dict[str, Any]:
        """The v1 shape of a page just written. The write has landed, so no further read may fail it: the space
        comes from the ids already looked up, else from a best-effort read (callers need its key)."""
        keys = {space_id: key for key, space_id in self._space_ids.items()}
        space_id = str(page.get("spaceId") or "")
        space: dict[str, Any] | None = {"id": space_id, "key": keys[space_id]} if space_id in keys else None
        if space is None and space_id:
            try:
                space = await self.client.get_json(f"spaces/{segment(space_id)}", api="v2")
            except ConfluenceError as exc:
                log.warning("page %s written, but its space %s could not be read: %s", page.get("id"), space_id, exc)
        return v2_to_v1_page(page, kind=kind, space=space)

    async def _as_v1(self, page: dict[str, Any], kind: str, parts: set[str]) -> dict[str, Any]:
        space = None
        if "space" in parts and page.get("spaceId"):
            space = await self.client.get_json(f"spaces/{segment(str(page['spaceId']))}", api="v2")
            if space.get("key"):
                self._space_ids.setdefault(str(space["key"]), str(space["id"]))
        ancestors: list[dict[str, Any]] | None = None
        if "ancestors" in parts:
            ancestors = []
            if kind == "page":
                listing = await self.client.get_json(f"pages/{segment(str(page['id']))}/ancestors",
                                                     params={"limit": 250}, api="v2")
                ancestors = listing.get("results") or []
        return v2_to_v1_page(page, kind=kind, space=space, ancestors=ancestors)


async def page_or_blogpost(page_id: str, call: Callable[[str], Awaitable[_T]]) -> tuple[str, str, _T]:
    """`call` on the page's v2 path, else (404) on the blog post's (v1 served both at one path): the kind, the
    path and the answer."""
    path = f"pages/{segment(page_id)}"
    try:
        return "page", path, await call(path)
    except NotFound:
        path = f"blogposts/{segment(page_id)}"
        return "blogpost", path, await call(path)


def _collection(kind: str) -> str:
    return "blogposts" if kind == "blogpost" else "pages"


def expand_parts(expand: str) -> set[str]:
    """The fields a v1 `expand` names, e.g. {"body.storage", "space"}."""
    return {part.strip() for part in expand.split(",")}


def v2_query(parts: set[str]) -> dict[str, str]:
    """The `GET /pages/{id}` parameters that cover a v1 `expand` (its `expand_parts`)."""
    query = {}
    if "body.storage" in parts:
        query["body-format"] = "storage"
    if "metadata.labels" in parts:
        query["include-labels"] = "true"
    return query


def v2_to_v1_page(page: dict[str, Any], *, kind: str = "page", space: dict[str, Any] | None = None,
                  ancestors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The v1 shape of a v2 page: id, type, status, title, version (with its author's account id), history
    (creation date and creator's account id), body.storage, space, ancestors, metadata.labels and _links, each
    when the v2 answer (or the extra reads) carried it."""
    version = page.get("version") or {}
    content: dict[str, Any] = {
        "id": str(page.get("id", "")), "type": kind, "status": page.get("status", "current"),
        "title": page.get("title", ""),
        "version": {"number": version.get("number"), "when": version.get("createdAt"),
                    "message": version.get("message", ""), "minorEdit": version.get("minorEdit", False)},
        "_links": dict(page.get("_links") or {}),
    }
    if version.get("authorId"):  # v2 names people by account id only; v1 carries the display name too
        content["version"]["by"] = {"accountId": str(version["authorId"])}
    if page.get("createdAt") or page.get("authorId"):
        content["history"] = {"createdDate": page.get("createdAt"),
                              "createdBy": {"accountId": str(page["authorId"])} if page.get("authorId") else {}}
    storage = ((page.get("body") or {}).get("storage") or {}).get("value")
    if storage is not None:
        content["body"] = {"storage": {"value": storage, "representation": "storage"}}
    if space is not None:
        content["space"] = {"id": space.get("id"), "key": space.get("key"), "name": space.get("name")}
    if ancestors is not None:
        content["ancestors"] = [{"id": str(item["id"]), "type": item.get("type", "page")} for item in ancestors]
    labels = page.get("labels")
    if isinstance(labels, dict):
        content["metadata"] = {"labels": {"results": [
            {"id": label.get("id"), "name": label.get("name"), "prefix": label.get("prefix", "global")}
            for label in labels.get("results") or []]}}
    return content


def v2_to_v1_attachment(item: dict[str, Any]) -> dict[str, Any]:
    """The v1 shape of a v2 attachment: the fields our callers read (title, media type, size, version,
    container, download link)."""
    links = dict(item.get("_links") or {})
    if not links.get("download") and item.get("downloadLink"):
        links["download"] = item["downloadLink"]
    media_type, comment = item.get("mediaType"), item.get("comment")
    return {
        "id": str(item.get("id", "")), "type": "attachment", "status": item.get("status", "current"),
        "title": item.get("title", ""),
        "version": {"number": (item.get("version") or {}).get("number"),
                    "when": (item.get("version") or {}).get("createdAt")},
        "metadata": {"mediaType": media_type, "comment": comment},
        "extensions": {"mediaType": media_type, "fileSize": item.get("fileSize"), "comment": comment},
        "container": {"id": str(item.get("pageId") or item.get("blogPostId") or "")},
        "_links": links,
    }
