"""Keep the stored bytes of the unchanged inline elements of an edited paragraph, heading, list item or cell.

A block whose text was edited is written as its markdown renders; its links, mentions, images, emoticons, dates and
inline macros would then lose what markdown does not carry (`ri:version-at-save`, a mention's `ri:local-id`, a rich
`ac:link-body`, an emoji's attributes, a smart link's card). Here each inline element of the new content that says
the same as a stored one (`visible.block_key`: kind, target and text, canonically) takes that one's stored bytes.
Elements are paired by key, the n-th new one with the n-th stored one, only when both sides hold that key as often:
otherwise which stored element an edit kept is a guess, and the new ones are written as rendered.
"""

from __future__ import annotations

from dataclasses import dataclass

from .element_parts import element_parts
from .visible import block_key
from .xhtml import StorageParseError, parse_top_level

__all__ = ["merge_inline"]

# Inline formatting around text and other inline elements: looked into, not matched as a whole.
_CONTAINERS = frozenset({"strong", "b", "em", "i", "u", "s", "del", "sub", "sup", "span", "code"})


@dataclass(frozen=True)
class _Atom:
    """An inline element (at any depth of formatting) with its byte span in the content."""

    key: str
    start: int
    end: int


def merge_inline(old: str, new: str) -> str:
    """`new` (a block's content) with each inline element paired with a stored one of `old` as stored."""
    try:
        old_atoms, new_atoms = _atoms(old, 0), _atoms(new, 0)
    except StorageParseError:
        return new
    old_body, new_body = old.encode("utf-8"), new.encode("utf-8")
    stored: dict[str, list[_Atom]] = {}
    for atom in old_atoms:
        stored.setdefault(atom.key, []).append(atom)
    written: dict[str, list[_Atom]] = {}
    for atom in new_atoms:
        written.setdefault(atom.key, []).append(atom)
    pairs = sorted((pair for key, atoms in written.items() if len(stored.get(key, ())) == len(atoms)
                    for pair in zip(atoms, stored[key], strict=True)), key=lambda pair: pair[0].start)
    if not pairs:
        return new
    out, position = [], 0
    for atom, original in pairs:
        out += [new_body[position : atom.start], old_body[original.start : original.end]]
        position = atom.end
    out.append(new_body[position:])
    return b"".join(out).decode("utf-8")


def _atoms(content: str, base: int) -> list[_Atom]:
    """The inline elements of `content` (byte offsets from `base`), inside formatting too."""
    atoms: list[_Atom] = []
    _, nodes, body = parse_top_level(content)
    for node in nodes:
        element = node.element
        if not isinstance(element.tag, str) or element.tag == "br":  # comments, line breaks: nothing to keep
            continue
        storage = body[node.start : node.end].decode("utf-8")
        parts = element_parts(storage, children=False) if element.tag in _CONTAINERS and len(element) else None
        if parts is not None:
            atoms += _atoms(parts.gaps[0], base + node.start + len(parts.open.encode("utf-8")))
        elif key := block_key(element):
            atoms.append(_Atom(key, base + node.start, base + node.end))
    return atoms
