"""How converted documents refer to pages, users and attachments, and the markdown URL schemes we define."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, unquote

__all__ = [
    "ATTACHMENT_SCHEME",
    "CODE_FENCE_PARAMETERS",
    "PAGE_SCHEME",
    "STORAGE_FENCE",
    "STORAGE_SCHEME",
    "USER_SCHEMES",
    "LinkContext",
    "code_fence_info",
    "decode_inline_storage",
    "encode_inline_storage",
    "page_reference",
    "parse_code_fence_info",
    "parse_page_reference",
]

STORAGE_FENCE = "confluence-storage"  # ```confluence-storage <what>``` block carrying raw storage
STORAGE_SCHEME = "confluence-storage:"  # [label](confluence-storage:<base64url of storage>) inline element
PAGE_SCHEME = "confluence-page:"  # [label](confluence-page:SPACE/Title) when no page URL is available
ATTACHMENT_SCHEME = "confluence-attachment:"  # [label](confluence-attachment:file.pdf)
# Mentions: [@Name](confluence-user:<account id>) (Cloud), confluence-userkey: / confluence-username: (DC).
USER_SCHEMES = {"confluence-user:": "ri:account-id", "confluence-userkey:": "ri:userkey",
                "confluence-username:": "ri:username"}


_URLSAFE_TO_STANDARD = str.maketrans("-_", "+/")


@dataclass
class LinkContext:
    """Callbacks resolving references between storage and markdown; each one is optional."""

    space_key: str | None = None
    page_url: Callable[[str, str | None], str | None] | None = None  # (title, space) -> web URL
    page_from_url: Callable[[str], tuple[str, str | None] | None] | None = None  # web URL -> (title, space)
    user_name: Callable[[str], str | None] | None = None  # account id / user key -> display name
    attachment_url: Callable[[str], str | None] | None = None  # file name -> download URL


def encode_inline_storage(storage: str) -> str:
    return STORAGE_SCHEME + base64.urlsafe_b64encode(storage.encode("utf-8")).decode("ascii").rstrip("=")


def decode_inline_storage(href: str) -> str | None:
    """The storage carried by a `confluence-storage:` link, or None when it is not valid base64/UTF-8."""
    payload = href[len(STORAGE_SCHEME) :].strip().translate(_URLSAFE_TO_STANDARD)
    try:
        decoded = base64.b64decode(payload + "=" * (-len(payload) % 4), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    return decoded or None


def page_reference(title: str, space: str | None) -> str:
    encoded_title = quote(title, safe="")
    return f"{PAGE_SCHEME}{quote(space, safe='')}/{encoded_title}" if space else f"{PAGE_SCHEME}{encoded_title}"


def parse_page_reference(href: str) -> tuple[str, str | None] | None:
    rest = href[len(PAGE_SCHEME) :]
    space, _, title = rest.rpartition("/") if "/" in rest else ("", "", rest)
    title = unquote(title)
    if not title:
        return None
    return title, unquote(space) or None


# Code macro parameters a fence's info string carries after the language: ```python title="a.py" linenumbers=true
CODE_FENCE_PARAMETERS = frozenset({"title", "linenumbers", "firstline", "theme", "collapse", "breakoutMode",
                                   "breakoutWidth"})
_FENCE_PARAMETER = re.compile(r'(?:^|(?<=\s))([A-Za-z]+)=(?:"([^"\n]*)"|([^\s"]+))(?=\s|$)')


def code_fence_info(language: str, parameters: dict[str, str]) -> str | None:
    """The info string for a code macro, or None when its language or a parameter has no such form."""
    if re.search(r'[\s="`]', language) or set(parameters) - CODE_FENCE_PARAMETERS:
        return None
    words = [language] if language else []
    for name, value in parameters.items():
        if not value or '"' in value or "\n" in value:
            return None
        words.append(f'{name}="{value}"' if re.search(r"\s", value) else f"{name}={value}")
    return " ".join(words)


def parse_code_fence_info(info: str) -> tuple[str, dict[str, str]]:
    """Language and known code macro parameters of a fence's info string; other words are ignored."""
    info = info.strip()
    language = "" if not info or _FENCE_PARAMETER.match(info) else info.split(maxsplit=1)[0]
    parameters = {}
    for match in _FENCE_PARAMETER.finditer(info):
        if match.group(1) in CODE_FENCE_PARAMETERS:
            parameters[match.group(1)] = match.group(2) if match.group(2) is not None else match.group(3)
    return language, parameters


# Image display attributes a markdown image's title carries: ![logo](logo.png "align=center width=300")
# (`style` and `class` are left to the validated storage placeholder: free CSS has no place in a title.)
IMAGE_ATTRIBUTES = frozenset({"align", "layout", "width", "height", "original-width", "original-height",
                              "custom-width", "border", "thumbnail", "title"})
_IMAGE_ATTRIBUTE = re.compile(r"(?:^|(?<=\s))([a-z-]+)=(?:'([^'\n]*)'|([^\s'\"\\]+))(?=\s|$)")


def image_title(attributes: dict[str, str]) -> str | None:
    """The markdown title for an `ac:image`'s display attributes (names without `ac:`), "" for none, or None when
    one has no such form."""
    words = []
    for name, value in sorted(attributes.items()):
        if name not in IMAGE_ATTRIBUTES or re.search(r"['\"\\\n]", value):
            return None
        words.append(f"{name}='{value}'" if re.search(r"\s", value) or not value else f"{name}={value}")
    return " ".join(words)


def parse_image_title(title: str) -> dict[str, str]:
    """Display attributes from a markdown image's title; a title that is not all `name=value` words of known
    attributes is the image's tooltip (`title`)."""
    title = title.strip()
    found = {m.group(1): m.group(2) if m.group(2) is not None else m.group(3)
             for m in _IMAGE_ATTRIBUTE.finditer(title)}
    if not title:
        return {}
    if set(found) <= IMAGE_ATTRIBUTES and _IMAGE_ATTRIBUTE.sub("", title).strip() == "":
        return found
    return {"title": title}
