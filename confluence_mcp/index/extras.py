"""Text indexed with a page besides its body: footer comments and the text of its attachments."""

from __future__ import annotations

import codecs
from typing import Any

import anyio

from confluence_mcp.confluence.client import ConfluenceClient
from confluence_mcp.confluence.convert import storage_to_text
from confluence_mcp.confluence.convert.outline import mentions_as_names
from confluence_mcp.confluence.users import mentioned_users_by_page
from confluence_mcp.confluence.weblinks import storage_of
from confluence_mcp.errors import NotFound

__all__ = ["MAX_ATTACHMENTS", "attachment_sections", "comment_sections"]

MAX_ATTACHMENTS = 50  # attachments whose text (or metadata line) a page's entry holds
_TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".csv", ".json", ".html", ".htm", ".xml")
_MAX_ATTACHMENT_BYTES = 512 * 1024
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


async def comment_sections(client: ConfluenceClient, page_id: str) -> tuple[list[str], dict[str, int], bool]:
    """One Markdown section with the page's footer comments as plain text (empty when there are none), each
    comment's version by id (to sign them), and whether a mentioned user's lookup failed for now."""
    comments = [comment async for comment in client.comments(page_id, expand="body.storage,history,version")]
    versions = {str(c["id"]): int((c.get("version") or {}).get("number") or 0) for c in comments}
    storages = [storage_of(c) for c in comments]
    users = await mentioned_users_by_page(client, storages)  # mentions read `@Display Name`, as in the page body
    lines = []
    for comment, storage, mentioned in zip(comments, storages, users, strict=True):
        storage = mentions_as_names(storage, dict(mentioned.names))  # `@id` when the name is unknown
        text = await anyio.to_thread.run_sync(storage_to_text, storage) if storage else ""
        author = ((comment.get("history") or {}).get("createdBy") or {}).get("displayName") or "someone"
        if text.strip():
            lines.append(f"- {author}: {' '.join(text.split())}")
    return (["## Comments\n\n" + "\n".join(lines)] if lines else []), versions, any(u.pending for u in users)


async def attachment_sections(client: ConfluenceClient, attachments: list[dict[str, Any]]) -> list[str]:
    """A section per attachment: the text of text-like files, a metadata line for the others."""
    sections = []
    for attachment in attachments[:MAX_ATTACHMENTS]:
        name = str(attachment.get("title") or "attachment")
        media_type = str((attachment.get("metadata") or {}).get("mediaType")
                         or (attachment.get("extensions") or {}).get("mediaType") or "")
        size = int((attachment.get("extensions") or {}).get("fileSize") or 0)
        download = (attachment.get("_links") or {}).get("download")
        header = f"## Attachment: {name}"
        if name.lower().endswith(_TEXT_SUFFIXES) and download and size <= _MAX_ATTACHMENT_BYTES:
            try:
                raw = await client.download_attachment(attachment)
            except NotFound:
                continue
            text = _decoded(raw[:_MAX_ATTACHMENT_BYTES])
            if text is not None:
                if name.lower().endswith((".html", ".htm", ".xml")):
                    text = await anyio.to_thread.run_sync(storage_to_text, text)
                sections.append(f"{header}\n\n{text.strip()}")
                continue
        sections.append(f"{header}\n\nFile {name} ({media_type or 'unknown type'}, {size} bytes) "
                        "attached to this page.")
    return sections


def _decoded(raw: bytes) -> str | None:
    """The text of a text-like file: UTF-8, UTF-16 with its byte order mark (spreadsheet exports), else Windows-1252;
    None when it is not text (binary under a text name): its metadata line is indexed instead of noise."""
    for bom, codec in _BOMS:
        if raw.startswith(bom):
            text = raw.decode(codec, errors="replace")
            break
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("cp1252", errors="replace")
    unreadable = sum(1 for ch in text if ch == "\ufffd" or (not ch.isprintable() and ch not in "\t\n\r\f"))
    return None if unreadable > max(8, len(text) // 100) else text
