"""JSON shapes of Confluence REST v1 (Content, Space, User, Version, labels, attachments) per flavour."""

from __future__ import annotations

import base64
from datetime import datetime
from urllib.parse import quote, quote_plus

from confluence_mcp.confluence.convert import LinkContext, storage_to_view
from confluence_mcp.sandbox.model import Attachment, Content, Space, User, Version
from confluence_mcp.sandbox.store import Store

__all__ = ["Serializer", "format_when", "parse_expand"]

_CONTENT_EXPANDABLE = ("childTypes", "container", "metadata", "operations", "children", "restrictions",
                       "history", "ancestors", "body", "version", "descendants", "space")
MAX_SUB_EXPANSIONS = 8


def parse_expand(raw: str | None) -> set[str]:
    """`a.b,c` → {"a", "a.b", "c"}; more than 8 items is a 400 in Confluence."""
    if not raw:
        return set()
    items = [item.strip() for item in raw.split(",") if item.strip()]
    if len(items) > MAX_SUB_EXPANSIONS:
        from confluence_mcp.sandbox.model import SandboxError

        raise SandboxError(400, f"Maximum sub-expansions allowed is {MAX_SUB_EXPANSIONS}")
    expanded: set[str] = set()
    for item in items:
        parts = item.split(".")
        expanded.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return expanded


def format_when(moment: datetime, flavor: str) -> str:
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
    return stamp + ("Z" if flavor == "cloud" else "+00:00")


_TINY_OUT = str.maketrans("+/", "_-")  # Atlassian's mapping: the reverse of RFC 4648's URL-safe alphabet
_TINY_IN = str.maketrans("_-", "+/")


def tiny_code(content_id: str) -> str:
    """Confluence's tiny-link code: the id little-endian, base64 with `+`→`_` and `/`→`-`, no padding."""
    raw = int(content_id).to_bytes(8, "little").rstrip(b"\0") or b"\0"
    return base64.b64encode(raw).decode().rstrip("=").translate(_TINY_OUT)


def tiny_code_id(code: str) -> str | None:
    """The id a tiny-link code stands for (trailing A's may be cut), or None when it is not one."""
    text = code.translate(_TINY_IN)
    try:
        raw = base64.b64decode(text + "A" * (-len(text) % 4), validate=True)
    except ValueError:
        return None
    return str(int.from_bytes(raw, "little"))


class Serializer:
    """Builds response dicts for one request; `base` is the absolute site URL (with `/wiki` on Cloud)."""

    def __init__(self, store: Store, base: str, context: str) -> None:
        self.store = store
        self.flavor = store.flavor
        self.base = base.rstrip("/")
        self.context = context
        self.api = "/rest/api"

    # -- links -------------------------------------------------------------------------------------
    def when(self, moment: datetime) -> str:
        return format_when(moment, self.flavor)

    def webui(self, content: Content) -> str:
        page = self.store.contents.get(content.container_id or "")
        if page is not None:  # a comment: its page, focused on it
            return f"{self.webui(page)}?focusedCommentId={content.id}#comment-{content.id}"
        words = quote_plus(content.title)
        if self.flavor == "cloud":
            kind = "pages" if content.type == "page" else "blog/" + content.created.strftime("%Y/%m/%d")
            return f"/spaces/{content.space_key}/{kind}/{content.id}/{words}"
        if content.type == "blogpost":
            return f"/display/{content.space_key}/{content.created.strftime('%Y/%m/%d')}/{words}"
        return f"/display/{content.space_key}/{words}"

    def space_webui(self, space: Space) -> str:
        return f"/spaces/{space.key}" if self.flavor == "cloud" else f"/display/{space.key}"

    def download_link(self, attachment: Attachment) -> str:
        stamp = int(attachment.current.when.timestamp() * 1000)
        return (f"/download/attachments/{attachment.container_id}/{quote(attachment.filename)}"
                f"?version={attachment.current.number}&modificationDate={stamp}&api=v2")

    def envelope_links(self, self_path: str) -> dict[str, str]:
        return {"base": self.base, "context": self.context, "self": self.base + self_path}

    def link_context(self, content: Content | None) -> LinkContext:
        store = self.store

        def page_url(title: str, space: str | None) -> str | None:
            key = space or (content.space_key if content else None)
            found = [c for c in store.list_content(space_key=key, title=title, content_type=None)
                     if c.type in ("page", "blogpost")] if key else []
            return self.base + self.webui(found[0]) if found else None

        def user_name(ident: str) -> str | None:
            user = store.find_user(ident)
            return user.display_name if user else None

        def attachment_url(filename: str) -> str | None:
            if content is None:
                return None
            found = store.find_attachment(content.id, filename)
            return self.base + self.download_link(found) if found else None

        return LinkContext(space_key=content.space_key if content else None, page_url=page_url,
                           user_name=user_name, attachment_url=attachment_url)

    # -- objects -----------------------------------------------------------------------------------
    def user(self, user: User) -> dict[str, object]:
        picture = {"path": "/wiki/aa-avatar/default.png" if self.flavor == "cloud"
                   else "/images/icons/profilepics/default.svg", "width": 48, "height": 48, "isDefault": True}
        if self.flavor == "cloud":
            return {"type": "known", "accountId": user.account_id, "accountType": "atlassian",
                    "email": user.email, "publicName": user.display_name, "displayName": user.display_name,
                    "profilePicture": picture, "isExternalCollaborator": False,
                    "_expandable": {"operations": "", "personalSpace": ""},
                    "_links": {"self": f"{self.base}{self.api}/user?accountId={user.account_id}"}}
        return {"type": "known", "username": user.username, "userKey": user.user_key,
                "displayName": user.display_name, "profilePicture": picture,
                "_expandable": {"status": ""},
                "_links": {"self": f"{self.base}{self.api}/user?key={user.user_key}"}}

    def version(self, content_id: str, version: Version) -> dict[str, object]:
        return {"by": self.user(self.store.user(version.by)), "when": self.when(version.when),
                "friendlyWhen": version.when.strftime("%b %d, %Y"), "message": version.message,
                "number": version.number, "minorEdit": version.minor_edit,
                "_expandable": {"collaborators": "", "content": f"{self.api}/content/{content_id}"},
                "_links": {"self": f"{self.base}{self.api}/content/{content_id}/version/{version.number}"}}

    def space(self, space: Space, expand: set[str] = frozenset()) -> dict[str, object]:  # type: ignore[assignment]
        data: dict[str, object] = {"id": space.id, "key": space.key, "name": space.name, "type": space.type,
                                   "status": space.status}
        expandable = {key: "" for key in ("settings", "metadata", "operations", "lookAndFeel", "identifiers",
                                          "permissions", "icon", "theme", "history")}
        if "description" in expand:
            data["description"] = {"plain": {"value": space.description, "representation": "plain",
                                              "embeddedContent": []}, "_expandable": {"view": ""}}
        else:
            expandable["description"] = ""
        if "homepage" in expand and space.homepage_id in self.store.contents:
            data["homepage"] = self.content(self.store.contents[space.homepage_id], set())
        else:
            expandable["homepage"] = f"{self.api}/content/{space.homepage_id}" if space.homepage_id else ""
        data["_expandable"] = expandable
        data["_links"] = {"webui": self.space_webui(space), "self": f"{self.base}{self.api}/space/{space.key}"}
        return data

    def labels(self, content: Content, self_path: str, start: int = 0, limit: int = 200) -> dict[str, object]:
        chosen = content.labels[start:start + limit]
        return {"results": [{"prefix": lb.prefix, "name": lb.name, "id": lb.id, "label": lb.name}
                            for lb in chosen],
                "start": start, "limit": limit, "size": len(chosen),
                "_links": {"self": self.base + self_path}}

    def sublist(self, items: list[dict[str, object]], self_path: str, limit: int = 25) -> dict[str, object]:
        return {"results": items[:limit], "start": 0, "limit": limit, "size": len(items[:limit]),
                "_links": {"self": self.base + self_path}}

    def content(self, content: Content, expand: set[str], *, top_level: bool = False) -> dict[str, object]:
        cid = content.id
        data: dict[str, object] = {"id": cid, "type": content.type, "status": content.status,
                                   "title": content.title}
        expandable = {key: "" for key in _CONTENT_EXPANDABLE}
        container = self.store.contents.get(content.container_id or "")
        expandable.update(container=f"{self.api}/content/{container.id}" if container
                          else f"{self.api}/space/{content.space_key}",
                          children=f"{self.api}/content/{cid}/child",
                          history=f"{self.api}/content/{cid}/history",
                          descendants=f"{self.api}/content/{cid}/descendant",
                          restrictions=f"{self.api}/content/{cid}/restriction/byOperation",
                          space=f"{self.api}/space/{content.space_key}")
        space = self.store.spaces[content.space_key]
        if "space" in expand:
            data["space"] = self.space(space)
            expandable.pop("space")
        if "history" in expand:
            data["history"] = {
                "latest": True, "createdBy": self.user(self.store.user(content.creator)),
                "createdDate": self.when(content.created),
                "lastUpdated": self.version(cid, content.version),
                "_expandable": {"previousVersion": "", "contributors": "", "nextVersion": ""},
                "_links": {"self": f"{self.base}{self.api}/content/{cid}/history"}}
            expandable.pop("history")
        if "version" in expand:
            data["version"] = self.version(cid, content.version)
            expandable.pop("version")
        if "ancestors" in expand:
            data["ancestors"] = [self.content(a, set()) for a in self.store.ancestors(content)]
            expandable.pop("ancestors")
        if "container" in expand:
            data["container"] = self.content(container, set()) if container else self.space(space)
            expandable.pop("container")
        if "body" in expand:
            data["body"] = self.body(content, expand)
            expandable.pop("body")
        if "metadata" in expand:
            metadata: dict[str, object] = {"_expandable": {"currentuser": "", "properties": "", "frontend": "",
                                                           "editorHtml": ""}}
            if "metadata.labels" in expand:
                metadata["labels"] = self.labels(content, f"{self.api}/content/{cid}/label")
            else:
                metadata["_expandable"]["labels"] = f"{self.api}/content/{cid}/label"  # type: ignore[index]
            data["metadata"] = metadata
            expandable.pop("metadata")
        if "children" in expand:
            data["children"] = self.children(content, expand)
            expandable.pop("children")
        if "descendants" in expand:
            data["descendants"] = {"page": self.sublist(
                [self.content(c, set()) for c in self.store.descendants(cid)],
                f"{self.api}/content/{cid}/descendant/page"),
                "_expandable": {"attachment": "", "comment": ""}}
            expandable.pop("descendants")
        if "childTypes" in expand:
            data["childTypes"] = {kind: {"value": bool(n), "_links": {}} for kind, n in (
                ("attachment", len(content.attachment_ids)), ("comment", len(self.store.comments_of(cid))),
                ("page", len(self.store.children(cid))))}
            expandable.pop("childTypes")
        if content.type == "comment":  # v1 says where a comment is; the sandbox's are all footer comments
            data["extensions"] = {"location": "footer"}
        else:
            data["extensions"] = {"position": content.position if self.flavor == "cloud" else "none"}
        data["_expandable"] = expandable
        links = {"webui": self.webui(content), "tinyui": f"/x/{tiny_code(cid)}",
                 "self": f"{self.base}{self.api}/content/{cid}"}
        if self.flavor == "cloud":
            links["editui"] = f"/pages/resumedraft.action?draftId={cid}"
            links["edituiv2"] = f"/spaces/{content.space_key}/pages/edit-v2/{cid}"
        else:
            links["edit"] = f"/pages/resumedraft.action?draftId={cid}"
        if top_level:
            links.update(collection=f"{self.api}/content", base=self.base, context=self.context)
        data["_links"] = links
        return data

    def body(self, content: Content, expand: set[str]) -> dict[str, object]:
        body: dict[str, object] = {}
        expandable = {k: "" for k in ("editor", "view", "export_view", "styled_view", "storage",
                                      "dynamic", "editor2", "anonymous_export_view")}
        if self.flavor == "cloud":
            expandable["atlas_doc_format"] = ""
        for representation in ("storage", "view", "export_view", "styled_view", "anonymous_export_view"):
            if f"body.{representation}" not in expand:
                continue
            value = content.body
            if representation != "storage":
                value = storage_to_view(content.body, links=self.link_context(content))
            body[representation] = {"value": value, "representation": representation, "embeddedContent": [],
                                    "_expandable": {"content": f"{self.api}/content/{content.id}"}}
            expandable.pop(representation, None)
        body["_expandable"] = expandable
        return body

    def children(self, content: Content, expand: set[str]) -> dict[str, object]:
        cid = content.id
        result: dict[str, object] = {}
        expandable = {"attachment": f"{self.api}/content/{cid}/child/attachment",
                      "comment": f"{self.api}/content/{cid}/child/comment",
                      "page": f"{self.api}/content/{cid}/child/page"}
        if "children.page" in expand:
            result["page"] = self.sublist([self.content(c, set()) for c in self.store.children(cid)],
                                          f"{self.api}/content/{cid}/child/page")
            expandable.pop("page")
        if "children.attachment" in expand:
            result["attachment"] = self.sublist(
                [self.attachment(a) for a in self.store.list_attachments(cid)],
                f"{self.api}/content/{cid}/child/attachment")
            expandable.pop("attachment")
        if "children.comment" in expand:
            comments = [c for c in self.store.comments_of(cid) if c.status == "current" and c.parent_id is None]
            result["comment"] = self.sublist([self.content(c, set()) for c in comments],
                                             f"{self.api}/content/{cid}/child/comment")
            expandable.pop("comment")
        result["_expandable"] = expandable
        return result

    def attachment(self, attachment: Attachment, expand: set[str] = frozenset()) -> dict[str, object]:  # type: ignore[assignment]
        current = attachment.current
        data: dict[str, object] = {
            "id": attachment.id, "type": "attachment", "status": attachment.status, "title": attachment.filename,
            "version": self.version(attachment.id, _as_version(attachment)),
            "metadata": {"mediaType": attachment.media_type, "comment": current.comment,
                         "_expandable": {"currentuser": "", "properties": "", "frontend": "", "labels": ""}},
            "extensions": {"mediaType": attachment.media_type, "fileSize": len(current.data),
                           "comment": current.comment},
            "_expandable": {"childTypes": "", "operations": "", "schedulePublishDate": "", "children": "",
                            "restrictions": "", "history": "", "ancestors": "", "body": "", "descendants": "",
                            "space": f"{self.api}/space/{attachment.space_key}",
                            "container": f"{self.api}/content/{attachment.container_id}"},
        }
        if "container" in expand:
            data["container"] = self.content(self.store.contents[attachment.container_id], set())
            data["_expandable"].pop("container")  # type: ignore[attr-defined]
        data["_links"] = {
            "webui": f"/pages/viewpageattachments.action?pageId={attachment.container_id}"
                     f"&preview=%2F{attachment.container_id}%2F{attachment.id}%2F{quote(attachment.filename)}",
            "download": self.download_link(attachment),
            "self": f"{self.base}{self.api}/content/{attachment.id}"}
        return data


def _as_version(attachment: Attachment) -> Version:
    current = attachment.current
    return Version(number=current.number, when=current.when, by=current.by, title=attachment.filename,
                   body="", message=current.comment)
