"""Images in a storage body: find them with a real XML parse, resolve them to attachments, fetch them safely.

`scan_images` swaps every `<ac:image>` (and plain `<img>`) for an alphanumeric placeholder, so the converters can
turn the rest of the page into markdown and plain text unchanged; callers then put descriptions where the
placeholders are. Attachments are resolved with ONE listing per page that holds them. Bytes are fetched only
from the Confluence site, through the client (its credentials never go anywhere else); a foreign `ri:url` is
named and left to an LLM that can fetch URLs itself. A same-site URL is page content too: an attachment link
(`/download/attachments/<page>/...`, the REST download) is fetched only when its page's space passes
`require_space`, and other same-site paths only for a toolkit confined to no spaces.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import unquote, urlsplit
from xml.etree.ElementTree import Element

import anyio

from confluence_mcp.confluence.client import ConfluenceClient
from confluence_mcp.confluence.convert.xhtml import inner_xml, parse_fragment
from confluence_mcp.errors import ConfluenceError, PolicyError

__all__ = [
    "MAX_IMAGE_BYTES",
    "FetchedImage",
    "ImageRef",
    "ImageScan",
    "context_around",
    "fetch_images",
    "scan_images",
    "sniff_image_type",
]

MAX_IMAGE_BYTES = 5 * 1024 * 1024
ImageSource = Literal["attachment", "url"]
# Parents where a bare placeholder would be loose top-level text; there it gets its own paragraph.
_BLOCK_PARENTS = frozenset({"storage-root", "ac:rich-text-body", "ac:layout-cell", "td", "th", "div", "li",
                            "blockquote"})
_MAX_LISTED_ATTACHMENTS = 2000  # per page; a page with more is unusual and the rest count as missing
_WHITESPACE = re.compile(r"\s+")
# The page holding a file a same-site URL names: the web UI's links and the REST download.
_HOLDER_PATH = re.compile(r"/(?:download/(?:attachments|thumbnails)|rest/api/content)/(\d+)/")


@dataclass(frozen=True)
class ImageRef:
    """One image of the page, in document order."""

    index: int
    source: ImageSource
    filename: str  # attachment file name, or the last path segment of the URL
    placeholder: str
    alt: str = ""
    url: str | None = None  # `ri:url` / `img src`
    page_title: str | None = None  # attachment of another page (`ri:page` inside `ri:attachment`)
    space_key: str | None = None

    @property
    def name(self) -> str:
        return self.filename or self.alt or f"image {self.index + 1}"


@dataclass(frozen=True)
class ImageScan:
    refs: list[ImageRef]
    storage: str  # the body with each image replaced by its placeholder

    def strip_placeholders(self, text: str, *, keep: ImageRef | None = None) -> str:
        """`text` with every placeholder except `keep`'s replaced by `[Image <name>]`."""
        for ref in self.refs:
            if ref is not keep:
                text = text.replace(ref.placeholder, f"[Image {ref.name}]")
        return text


@dataclass
class FetchedImage:
    """The outcome of fetching one image: bytes and media type, or why there are none."""

    ref: ImageRef
    data: bytes | None = None
    media_type: str | None = None
    external_url: str | None = None  # a foreign http(s) URL we did not download
    error: str | None = None
    # An attachment's site and download link, which names its version: same site and link, same bytes (another
    # site, such as a staging copy, may hold other bytes under the same ids and link).
    revision: str | None = None
    skipped: bool = False  # not downloaded because the caller already knows this revision

    @property
    def sha256(self) -> str | None:
        return hashlib.sha256(self.data).hexdigest() if self.data is not None else None

    def data_uri(self) -> str:
        assert self.data is not None and self.media_type
        return f"data:{self.media_type};base64,{base64.b64encode(self.data).decode('ascii')}"


@dataclass
class _Scanner:
    nonce: str
    refs: list[ImageRef] = field(default_factory=list)

    def placeholder(self) -> str:
        return f"ImgSlot{self.nonce}N{len(self.refs)}E"

    def describe(self, element: Element) -> ImageRef | None:
        alt = element.get("ac:alt") or element.get("alt") or element.get("ac:title") or element.get("title") or ""
        if element.tag == "img":
            src = (element.get("src") or "").strip()
            return self._url_ref(src, alt) if src else None
        for child in element:
            if child.tag == "ri:attachment":
                page = next((c for c in child if c.tag in ("ri:page", "ri:blog-post")), None)
                return ImageRef(len(self.refs), "attachment", child.get("ri:filename") or "", self.placeholder(),
                                alt, page_title=page.get("ri:content-title") if page is not None else None,
                                space_key=page.get("ri:space-key") if page is not None else None)
            if child.tag == "ri:url":
                return self._url_ref((child.get("ri:value") or "").strip(), alt)
        return None

    def _url_ref(self, url: str, alt: str) -> ImageRef:
        name = "" if url.startswith("data:") else unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])
        return ImageRef(len(self.refs), "url", name, self.placeholder(), alt, url=url)


def scan_images(storage: str) -> ImageScan:
    """Find the images of a storage body; StorageParseError when the body is not well-formed."""
    root = parse_fragment(storage)
    scanner = _Scanner(hashlib.sha256(storage.encode()).hexdigest()[:8])
    parents = {child: parent for parent in root.iter() for child in parent}
    for element in [e for e in root.iter() if e.tag in ("ac:image", "img")]:
        if element not in parents:
            continue  # inside an image we already replaced
        ref = scanner.describe(element)
        if ref is None:
            continue
        scanner.refs.append(ref)
        _replace_with_text(parents, element, ref.placeholder)
    return ImageScan(scanner.refs, inner_xml(root))


def _replace_with_text(parents: dict[Element, Element], element: Element, text: str) -> None:
    parent = parents[element]
    for inner in element.iter():
        parents.pop(inner, None)
    position = list(parent).index(element)
    if parent.tag in _BLOCK_PARENTS:
        paragraph = Element("p")
        paragraph.text, paragraph.tail = text, element.tail
        parent.remove(element)
        parent.insert(position, paragraph)
        parents[paragraph] = parent
        return
    inline = text + (element.tail or "")
    if position == 0:
        parent.text = (parent.text or "") + inline
    else:
        before = parent[position - 1]
        before.tail = (before.tail or "") + inline
    parent.remove(element)


def context_around(scan: ImageScan, text: str, ref: ImageRef, radius: int) -> str:
    """The page text within ±radius characters of the image, whitespace-collapsed, other images named."""
    at = text.find(ref.placeholder)
    if at < 0 or radius <= 0:
        return ""
    before = scan.strip_placeholders(text[:at])[-radius:]
    after = scan.strip_placeholders(text[at + len(ref.placeholder):])[:radius]
    return _WHITESPACE.sub(" ", f"{before} [this image] {after}").strip()


def sniff_image_type(data: bytes) -> str | None:
    """The media type of PNG, JPEG, GIF or WebP bytes, by magic number; None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


async def fetch_images(client: ConfluenceClient, page_id: str, refs: list[ImageRef], *,
                       default_space: str | None, require_space: Callable[[str | None], None],
                       max_bytes: int = MAX_IMAGE_BYTES, download: bool = True,
                       known: Callable[[FetchedImage], bool] | None = None,
                       confined: bool = True) -> list[FetchedImage]:
    """Bytes for each image (in `refs` order): attachments via one listing per holding page, same-site URLs via
    the client, `data:` URIs decoded; foreign URLs are not fetched. `require_space` vets other pages' spaces.
    With `download=False` only the lookups run (nothing will be described, but missing files are still named).
    An attachment whose revision `known` accepts is not downloaded either (marked `skipped`). `confined`: the
    toolkit is limited to some spaces, so a same-site URL that names no page's file is not fetched."""
    listings = await _attachment_listings(client, page_id, refs, default_space, require_space)
    results = [FetchedImage(ref) for ref in refs]
    limiter = anyio.CapacityLimiter(4)
    spaces: dict[str, str | None] = {page_id: default_space}

    async def vet(url: str) -> None:
        """PolicyError unless the toolkit may read what the same-site `url` names."""
        link = client.urls.origin_relative(url) or ""
        path = urlsplit(link).path.removeprefix(client.urls.site_path)
        holder = _HOLDER_PATH.match(path)
        if holder is None:
            if confined:
                raise PolicyError("Same-site image URL that names no page's attachment: not downloaded by a "
                                  "toolkit confined to allowed spaces.")
            return
        if holder.group(1) not in spaces:
            page = await client.get_page(holder.group(1), expand="space")
            spaces[holder.group(1)] = (page.get("space") or {}).get("key")
        require_space(spaces[holder.group(1)])

    async def fetch(result: FetchedImage) -> None:
        async with limiter:
            await _fetch_one(client, result, listings, default_space, max_bytes, download, known, vet)

    async with anyio.create_task_group() as group:
        for result in results:
            group.start_soon(fetch, result)
    return results


_Listing = dict[str, dict[str, Any]] | str  # filename → attachment, or why the page's attachments are unknown


def _holder(ref: ImageRef, default_space: str | None) -> tuple[str, str] | None:
    """(space, title) of the page holding an attachment when it is another page, else None."""
    if ref.page_title is None:
        return None
    return ref.space_key or default_space or "", ref.page_title


async def _attachment_listings(client: ConfluenceClient, page_id: str, refs: list[ImageRef],
                               default_space: str | None,
                               require_space: Callable[[str | None], None]) -> dict[Any, _Listing]:
    listings: dict[Any, _Listing] = {}
    for ref in refs:
        if ref.source != "attachment":
            continue
        holder = _holder(ref, default_space)
        if holder in listings:
            continue
        try:
            if holder is None:
                listings[None] = await _list_attachments(client, page_id)
                continue
            space, title = holder
            require_space(space)
            found = await client.find_page_by_title(space, title, expand="space")
            listings[holder] = (await _list_attachments(client, str(found["id"])) if found
                                else f"page {title!r} in space {space} was not found")
        except (PolicyError, ConfluenceError) as exc:
            listings[holder] = str(exc)
    return listings


async def _list_attachments(client: ConfluenceClient, page_id: str) -> dict[str, dict[str, Any]]:
    """Every attachment of a page by file name."""
    by_name: dict[str, dict[str, Any]] = {}
    for item in await client.all_attachments(page_id, max_items=_MAX_LISTED_ATTACHMENTS):
        by_name.setdefault(str(item.get("title") or ""), item)
    return by_name


async def _fetch_one(client: ConfluenceClient, result: FetchedImage, listings: dict[Any, _Listing],
                     default_space: str | None, max_bytes: int, download: bool,
                     known: Callable[[FetchedImage], bool] | None, vet: Callable[[str], Awaitable[None]]) -> None:
    ref = result.ref
    try:
        if ref.source == "attachment":
            await _fetch_attachment(client, result, listings.get(_holder(ref, default_space), "not listed"),
                                    max_bytes, download, known)
        else:
            await _fetch_url(client, result, max_bytes, download, vet)
    except (PolicyError, ConfluenceError) as exc:
        result.error = str(exc)
    if result.data is not None and result.error is None:
        _validate(result, max_bytes)


async def _fetch_attachment(client: ConfluenceClient, result: FetchedImage, listing: _Listing,
                            max_bytes: int, download: bool, known: Callable[[FetchedImage], bool] | None) -> None:
    ref = result.ref
    if isinstance(listing, str):
        result.error = f"Attachment {ref.filename!r} could not be looked up: {listing}"
        return
    attachment = listing.get(ref.filename)
    if attachment is None:
        result.error = f"Attachment {ref.filename!r} is not attached to the page."
        return
    size = (attachment.get("extensions") or {}).get("fileSize")
    if isinstance(size, int) and size > max_bytes:
        result.error = f"Attachment {ref.filename!r} is {size} bytes, above the {max_bytes}-byte limit."
        return
    link = (attachment.get("_links") or {}).get("download")
    if not link:
        result.error = f"Attachment {ref.filename!r} has no download link."
        return
    result.revision = f"{client.site_url} {attachment.get('id', '')}@{link}"
    if known is not None and known(result):
        result.skipped = True
    elif download:
        result.data = await client.download_attachment(attachment)


async def _fetch_url(client: ConfluenceClient, result: FetchedImage, max_bytes: int, download: bool,
                     vet: Callable[[str], Awaitable[None]]) -> None:
    url = result.ref.url or ""
    if url.startswith("data:"):
        result.data = _decode_data_uri(url, max_bytes)
        if result.data is None:
            result.error = "The inline data: image is not valid base64 image data."
        return
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https", ""):
        result.error = f"Image URL scheme {scheme!r} is not supported."
        return
    if client.urls.origin_relative(url) is None:
        # Never fetch foreign hosts ourselves: no credential or cookie leak, no SSRF from the server.
        result.external_url = url if scheme else None
        result.error = "External image on another host: not downloaded."
        return
    await vet(url)
    if download:
        result.data = await client.download(url)


def _decode_data_uri(uri: str, max_bytes: int) -> bytes | None:
    header, _, payload = uri.partition(",")
    if ";base64" not in header or len(payload) > max_bytes * 4 // 3 + 8:
        return None
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return None


def _validate(result: FetchedImage, max_bytes: int) -> None:
    data = result.data or b""
    if len(data) > max_bytes:
        result.data, result.error = None, f"Image is {len(data)} bytes, above the {max_bytes}-byte limit."
        return
    media_type = sniff_image_type(data)
    if media_type is None:
        result.data = None
        result.error = "Not a PNG, JPEG, GIF or WebP image (SVG, diagrams and other formats are not described)."
        return
    result.media_type = media_type
