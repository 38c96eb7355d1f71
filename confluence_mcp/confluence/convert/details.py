"""The Page Properties macro (`details`) ⇄ a `> [!DETAILS]` blockquote, and merging an edited body macro.

    > [!DETAILS] id=decision hidden=true
    >
    > |  |  |
    > | --- | --- |
    > | Owner | Ada |

The marker line carries the macro's parameters as `name=value` words, as a layout's section line does
(`layouts.marker_word`); a macro with another parameter has no such form and stays a storage placeholder. The body
is ordinary markdown, usually the key/value table the meeting-notes, decision and requirements templates hold.

Written back, an edited macro whose markdown form is a blockquote (this one, an admonition, an expand) keeps its
stored start tag (macro id, schema version) and parameters while they say the same, and its body is merged block by
block (`merge.keep_unchanged_blocks`), so an edited table cell leaves the other rows' stored bytes alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .canonical import canonicalize
from .element_parts import ElementParts, element_parts, merge_content, same_tag
from .layouts import LayoutSyntaxError, marker_word, marker_words

__all__ = ["DETAILS_KIND", "DETAILS_MACRO", "DetailsSyntaxError", "details_marker", "details_parameters",
           "merge_macro"]

DETAILS_KIND = "DETAILS"
DETAILS_MACRO = "details"
# What the Page Properties macro takes on Cloud and Server/DC: the id a Page Properties Report filters on, and
# whether the table is hidden on the page.
DETAILS_PARAMETERS = ("id", "hidden")
_NAME = re.compile(r'\sac:name="([^"]*)"')
_BODIES = ("ac:rich-text-body", "ac:plain-text-body")

Keep = Callable[[str, str], str]


class DetailsSyntaxError(LayoutSyntaxError):
    """A `[!DETAILS]` marker line with words that are not the macro's parameters (reported as a layout marker
    error is: the write tools name the problem and write nothing)."""


def details_marker(parameters: dict[str, str]) -> str | None:
    """`[!DETAILS] id=x hidden=true` for the macro's parameters, or None when one has no such form."""
    if set(parameters) - set(DETAILS_PARAMETERS):
        return None
    words = [marker_word(name, value) for name, value in parameters.items()]
    if None in words:
        return None
    return " ".join([f"[!{DETAILS_KIND}]", *(word for word in words if word)])


def details_parameters(text: str, line: int) -> dict[str, str]:
    """The parameters a `[!DETAILS]` marker line carries after the marker; raises `DetailsSyntaxError`."""
    parameters = {}
    for name, value, word in marker_words(text):
        if name not in DETAILS_PARAMETERS:
            allowed = " and ".join(f"{known}=<value>" for known in DETAILS_PARAMETERS)
            raise DetailsSyntaxError(f"Page Properties marker `[!{DETAILS_KIND}]` on line {line}: {word!r} is not "
                                     f"one of its parameters; after the marker only {allowed} may follow.")
        parameters[name] = value
    return parameters


def merge_macro(old: str, new: str, keep: Keep) -> str:
    """`new` (a macro) with the stored bytes of `old` kept where they say the same: the start tag while its
    attributes agree, the parameters while all agree, the rich-text body merged with `keep` (a code macro's text is
    taken as written). Macros of different names, or without one body beside their parameters, are written as
    `new`. Storage that does not parse raises StorageParseError (the caller, `merge`, then keeps `new`)."""
    return _merge_macro(old, new, keep) or new


def _merge_macro(old: str, new: str, keep: Keep) -> str | None:
    old_parts, new_parts = element_parts(old), element_parts(new)
    if old_parts is None or new_parts is None or _name(old_parts) != _name(new_parts):
        return None
    old_body, new_body = _body_index(old_parts), _body_index(new_parts)
    if old_body is None or new_body is None:
        return None
    new_child = new_parts.children[new_body]
    plain = new_parts.elements[new_body].tag != "ac:rich-text-body"  # a code macro's text: as written
    body = new_child if plain else merge_content(old_parts.children[old_body], new_child, keep)
    tag_kept = same_tag(old_parts, new_parts)
    if _parameters(old_parts, old_body) == _parameters(new_parts, new_body):
        children = [body if index == old_body else child for index, child in enumerate(old_parts.children)]
        return old_parts.join(children, None if tag_kept else new_parts.open)
    children = [body if index == new_body else child for index, child in enumerate(new_parts.children)]
    return new_parts.join(children, old_parts.open if tag_kept else None)


def _name(parts: ElementParts) -> str | None:
    match = _NAME.search(parts.open)
    return match.group(1) if match else None


def _body_index(parts: ElementParts) -> int | None:
    """Where the macro's one body (rich-text, or a code macro's plain text) is, when all its other children are
    parameters."""
    tags = [element.tag for element in parts.elements]
    bodies = [tag for tag in tags if tag in _BODIES]
    if len(bodies) != 1 or any(tag not in (*_BODIES, "ac:parameter") for tag in tags):
        return None
    return tags.index(bodies[0])


def _parameters(parts: ElementParts, body: int) -> list[str]:
    """The parameters in canonical form, their order ignored."""
    return sorted(canonicalize(child) for index, child in enumerate(parts.children) if index != body)
