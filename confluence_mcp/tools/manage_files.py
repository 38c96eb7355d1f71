"""Attachment tool: upload a file to a page and optionally show it in the body.

Files come inline (base64) or from the toolkit's `upload_dir` only; a path that resolves outside that directory
(`..`, absolute paths elsewhere, symlinks out) is refused. Filenames and captions are XML-escaped, so they cannot
inject markup into the page.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import re
from pathlib import Path, PurePath
from typing import Annotated, Any, Literal
from xml.sax.saxutils import escape, quoteattr, unescape

import anyio
from mcp.server.mcpserver import Context
from pydantic import Field

from confluence_mcp.confluence.weblinks import storage_of
from confluence_mcp.errors import BadRequest, PolicyError, VersionConflict
from confluence_mcp.tools.content import PageRefArg, resolve_page_ref
from confluence_mcp.tools.context import KitRuntime, current_kit
from confluence_mcp.tools.registry import tool
from confluence_mcp.tools.write_support import (
    PageWrite,
    kit_labels,
    labels_after_write,
    load_page,
    page_write,
    update_checked,
)

__all__ = ["add_file_to_page", "attachment_markup", "shows_attachment"]

MAX_UPLOAD_BYTES = 100 * 1024 * 1024
_DATA_URI = re.compile(r"^data:[^,]*;base64,", re.IGNORECASE)
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9][\w!#$&^.+-]*/[A-Za-z0-9][\w!#$&^.+-]*")


def attachment_markup(filename: str, media_type: str, caption: str | None) -> str:
    """Storage that shows an attachment: an image for image types, else a link to the file."""
    ref = f"<ri:attachment ri:filename={quoteattr(filename)}/>"
    if media_type.startswith("image/"):
        cap = f"<ac:caption><p>{escape(caption)}</p></ac:caption>" if caption else ""
        alt = f" ac:alt={quoteattr(caption)}" if caption else ""
        return f"<p><ac:image{alt}>{ref}{cap}</ac:image></p>"
    label = (caption or filename).replace("]]>", "]]]]><![CDATA[>")  # CDATA is literal: no XML escaping
    return f"<p><ac:link>{ref}<ac:plain-text-link-body><![CDATA[{label}]]>" \
           f"</ac:plain-text-link-body></ac:link></p>"


_CDATA = re.compile(r"<!\[CDATA\[.*?\]\]>", re.DOTALL)
_ATTACHMENT_REF = re.compile(
    r"""<ri:attachment\s+[^>]*?\bri:filename=("[^"]*"|'[^']*')\s*(?:/>|>\s*</ri:attachment>)""")


def shows_attachment(storage: str, filename: str) -> bool:
    """True when the body already embeds or links this page's attachment `filename` (no ri:page: this page's)."""
    markup = _CDATA.sub("", storage)  # a code block quoting such markup shows nothing
    return any(unescape(m.group(1)[1:-1], {"&quot;": '"', "&apos;": "'"}) == filename
               for m in _ATTACHMENT_REF.finditer(markup))


def decode_base64(text: str) -> bytes:
    """The bytes of base64 as tools and models write it: wrapped lines, a `data:` URI prefix, the URL-safe
    alphabet and missing padding are accepted; anything else is BadRequest. Over MAX_UPLOAD_BYTES is refused
    before decoding."""
    body = "".join(_DATA_URI.sub("", text.strip(), count=1).split()).translate(str.maketrans("-_", "+/"))
    if len(body) * 3 // 4 > MAX_UPLOAD_BYTES:
        raise BadRequest(f"file_base64 is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.")
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest(f"file_base64 is not valid base64: {exc}.") from exc


def _media_type(given: str | None, name: str) -> str:
    if given is None or not given.strip():
        return mimetypes.guess_type(name)[0] or "application/octet-stream"
    kind = given.split(";", 1)[0].strip().lower()  # parameters such as charset are not part of Confluence's type
    if not _MEDIA_TYPE.fullmatch(kind):
        raise BadRequest(f"media_type {given!r} is not a MIME type such as image/png or application/pdf.")
    return kind


async def _read_upload(kit: KitRuntime, file_path: str) -> tuple[bytes, str]:
    root = kit.toolkit.settings.upload_dir
    if root is None:
        raise PolicyError("This toolkit has no upload_dir configured, so files cannot be read from disk: pass the "
                          "file as file_base64 instead, or set upload_dir in the toolkit configuration.")
    base = Path(root).expanduser().resolve()
    target = (base / file_path).resolve()
    if not target.is_relative_to(base):
        raise PolicyError(f"Path {file_path!r} is outside the upload directory; only files under upload_dir "
                          "can be attached.")
    if not target.is_file():
        raise BadRequest(f"No file {file_path!r} in the upload directory.")
    if target.stat().st_size > MAX_UPLOAD_BYTES:
        raise BadRequest(f"{file_path!r} is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.")
    return await anyio.to_thread.run_sync(target.read_bytes), target.name


async def _show(kit: KitRuntime, page: dict[str, Any], name: str, snippet: str, position: str,
                attempts: int = 3) -> dict[str, Any] | None:
    """Add `snippet` to the body (the updated page), or None when the body shows `name` already. Adding to a body
    someone changed meanwhile loses nothing, so a version conflict re-reads the page and adds to the newer body."""
    page_id = str(page["id"])
    for attempt in range(attempts):
        old = storage_of(page)
        if shows_attachment(old, name):
            return None
        storage = snippet + old if position == "prepend" else old + snippet
        try:
            return await update_checked(kit.client, page, title=page["title"], storage=storage,
                                        message=f"Added {name}", minor_edit=True)
        except VersionConflict as exc:
            if attempt == attempts - 1:
                raise VersionConflict(
                    f"{name} is attached to page {page_id} ('{page.get('title')}'), but not shown in its body: the "
                    f"page changed {attempts} times while this call ran (last saved by {exc.changed_by or 'someone'})."
                    " Call add_file_to_page again to show it (the file is uploaded as a new version).",
                    current_version=exc.current_version, changed_by=exc.changed_by,
                ) from exc
        page = await load_page(kit.client, page_id, expand="body.storage,version,space")
    raise AssertionError("unreachable")


@tool("manage", "Add file to page", read_only=False)
async def add_file_to_page(
    page_id: PageRefArg,
    ctx: Context,
    file_base64: Annotated[str | None, Field(description="File content as base64 (a data: URI also works)")] = None,
    file_path: Annotated[str | None, Field(description="Path under the toolkit's upload_dir")] = None,
    filename: Annotated[str | None, Field(description="Attachment name (required with file_base64)")] = None,
    caption: Annotated[str | None, Field(description="Caption (images) or link text")] = None,
    show_on_page: Annotated[bool, Field(description="Also show it in the body (new version)")] = True,
    position: Annotated[Literal["append", "prepend"], Field(description="Where in the body")] = "append",
    media_type: Annotated[str | None, Field(description="MIME type (default: from filename)")] = None,
) -> PageWrite:
    """Attach a file to a page (a new version if the name exists), optionally showing it in the body."""
    kit = current_kit(ctx)
    kit.require_writable()
    if (file_base64 is None) == (file_path is None):
        raise BadRequest("Give exactly one of file_base64 (with filename) or file_path (under upload_dir).")
    if file_base64 is not None:
        if not filename:
            raise BadRequest("filename is required with file_base64.")
        content = decode_base64(file_base64)
    else:
        content, default_name = await _read_upload(kit, file_path or "")
        filename = filename or default_name
    if not content:
        raise BadRequest("The file is empty (0 bytes): Confluence does not store empty attachments.")
    # Characters that HTTP multipart or XML would alter are replaced, so the stored name matches the markup.
    name = re.sub(r'[\x00-\x1f"<>:*?|]', "_", PurePath(filename.replace("\\", "/")).name).strip()
    if not name or name in {".", ".."}:
        raise BadRequest(f"{filename!r} is not a usable file name.")
    kind = _media_type(media_type, name)
    page_id = await resolve_page_ref(kit, page_id)
    page = await load_page(kit.client, page_id, expand="body.storage,version,space")
    kit.require_space((page.get("space") or {}).get("key"))
    await kit.client.upload_attachment(page_id, name, content, media_type=kind, comment=caption)
    if not show_on_page:
        out = page_write(kit.client, page)
        out.note = f"Attached {name} ({len(content)} bytes); the page body was not changed."
        return out
    updated = await _show(kit, page, name, attachment_markup(name, kind, caption), position)
    out = page_write(kit.client, updated or page)
    if updated is None:  # a new version of a file the page shows already: one embed is enough
        out.note = f"Attached {name} ({len(content)} bytes) as a new version; the page already shows it."
        return out
    out.note = f"Attached {name} ({len(content)} bytes) and showed it on the page."
    if kit.toolkit.settings.labels:  # as on every page the tools change; the edit has landed either way
        out.labels, failure = await labels_after_write(kit.client, page_id, kit_labels(kit))
        if failure is not None:
            out.note += f" The toolkit's labels could not be added ({failure}); use update_labels to add them."
    return out
