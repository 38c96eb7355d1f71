"""An edited bullet or numbered list merged with the stored one item by item, as `table_merge` merges rows.

Items are aligned by what they say, an item's texts being its own text and each nested list's: unchanged items pair
in order first, then wherever they moved, then items sharing a text (one edited, maybe moved too), then in each
changed stretch what is left, by how alike it reads or in order (`table_align.align_rows`). An unchanged item keeps
its stored bytes (Cloud's `<p>` and `local-id`s, a mention's `ri:local-id`, a link's `ri:version-at-save`, Server's
whitespace), wherever it went; an edited item keeps its stored start tag (and its `<p>`'s) while they say the same,
its own text merged block by block and its nested lists merged the same way, recursively. A new item is written in
the list's style: its text in a `<p>` when every stored item holds its text in one (the Cloud editor's shape). The
list's start tag (`start`, ids) stays while it says the same; items that were neighbours keep the whitespace between
them, new neighbours get the list's usual.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from difflib import SequenceMatcher
from xml.etree.ElementTree import Element

from .block_merge import merge_block, wrapped_like
from .canonical import is_cell_block, is_ignorable
from .element_parts import ElementParts, element_parts, same_tag
from .table_align import align_rows, pair_most_shared
from .visible import block_key, visible_text
from .xhtml import parse_fragment, parse_top_level

__all__ = ["merge_list"]

Keep = Callable[[str, str], str]
_LISTS = frozenset({"ul", "ol"})
# Stored items holding one text weighed at most (a text many items say, "TBD", would make the pairing quadratic).
_MOST_HOLDERS = 50


@dataclass
class _Item:
    """A list item as `open` + `head` (its own content) + (gap + nested list)... + `tail` + `close`."""

    open: str
    head: str
    gaps: list[str]
    lists: list[str]
    tail: str
    close: str

    def join(self, open_tag: str, head: str, lists: list[str], gaps: list[str], tail: str) -> str:
        return open_tag + head + "".join(gap + nested for gap, nested in zip(gaps, lists, strict=True)) + tail \
            + self.close


def merge_list(old: str, new: str, keep: Keep) -> str:
    """`new` (an edited `ul`/`ol`) with the stored bytes of `old`'s items kept wherever they say the same. A list
    holding anything but items is merged as `block_merge` merges it; StorageParseError when a side does not parse."""
    old_parts, new_parts = element_parts(old), element_parts(new)
    if old_parts is None or new_parts is None or old_parts.close != new_parts.close or not old_parts.children \
            or any(element.tag != "li" for element in [*old_parts.elements, *new_parts.elements]):
        return merge_block(old, new, keep)
    match = _align([_texts(item) for item in old_parts.elements], [_texts(item) for item in new_parts.elements])
    wrapped = all(_in_paragraph(child) for child in old_parts.children)
    items: list[str] = []
    for j, i in enumerate(match):
        if i is None:
            items.append(_in_list_style(new_parts.children[j], wrapped))
        elif block_key(old_parts.elements[i]) == block_key(new_parts.elements[j]):
            items.append(old_parts.children[i])
        else:
            items.append(_merge_item(old_parts.children[i], new_parts.children[j], keep, wrapped))
    open_tag = old_parts.open if same_tag(old_parts, new_parts) else new_parts.open
    return open_tag + _spaced(items, match, old_parts) + old_parts.close


def _texts(item: Element) -> tuple[str, ...]:
    """What an item says, as `align_rows` weighs a row's cells: its own text, then each nested list's."""
    own = Element(item.tag)
    own.text = item.text
    own.extend(child for child in item if child.tag not in _LISTS)
    return visible_text(own), *(visible_text(child) for child in item if child.tag in _LISTS)


def _align(old: list[tuple[str, ...]], new: list[tuple[str, ...]]) -> list[int | None]:
    """Per new item the stored item it continues: items saying the same in order first, then such items moved
    elsewhere, then items sharing some text (own or a nested list's: one edited, maybe moved), then in each changed
    stretch what is left (`align_rows`: by alike text, in order when as many)."""
    match: list[int | None] = [None] * len(new)
    stretches = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if op == "equal":
            match[j1:j2] = range(i1, i2)
        else:
            stretches.append((range(i1, i2), range(j1, j2)))
    free: dict[tuple[str, ...], list[int]] = {}
    paired = {i for i in match if i is not None}
    for i in range(len(old)):
        if i not in paired:
            free.setdefault(old[i], []).append(i)
    for j, texts in enumerate(new):
        if match[j] is None and free.get(texts):
            match[j] = free[texts].pop(0)
    taken = {i for i in match if i is not None}
    _pair_sharing(old, new, match, taken)
    for olds, news in stretches:
        left_old = [i for i in olds if i not in taken]
        left_new = [j for j in news if match[j] is None]
        if not left_old or not left_new:
            continue
        for j, found in zip(left_new, align_rows([old[i] for i in left_old], [new[j] for j in left_new]), strict=True):
            if found is not None:
                match[j] = left_old[found]
                taken.add(left_old[found])
    return match


def _pair_sharing(old: list[tuple[str, ...]], new: list[tuple[str, ...]], match: list[int | None],
                  taken: set[int]) -> None:
    """Pair items left over that share a text (not empty), most shared first, then nearest."""
    holders: dict[str, list[int]] = {}
    for i, texts in enumerate(old):
        if i not in taken:
            for text in set(texts) - {""}:
                holders.setdefault(text, []).append(i)
    shared: Counter[tuple[int, int]] = Counter()
    for j, texts in enumerate(new):
        if match[j] is None:
            for text in set(texts) - {""}:
                shared.update((i, j) for i in holders.get(text, [])[:_MOST_HOLDERS])
    pair_most_shared(shared, match, taken)


def _spaced(items: list[str], match: list[int | None], stored: ElementParts) -> str:
    """The items with the stored whitespace between stored neighbours, the list's most common elsewhere (Server
    puts each item on a line of its own), and the stored whitespace at both ends."""
    between = stored.gaps[1:-1]
    usual = Counter(between).most_common(1)[0][0] if between else \
        stored.gaps[0] if stored.gaps[0] == stored.gaps[-1] and not stored.gaps[0].strip() else ""
    out = [stored.gaps[0]]
    for index, item in enumerate(items):
        if index:
            before, after = match[index - 1], match[index]
            out.append(between[before] if before is not None and after == before + 1 else usual)
        out.append(item)
    out.append(stored.gaps[-1])
    return "".join(out)


def _split(storage: str) -> _Item | None:
    """The item cut before the lists that end it; None when text or a block follows a nested list."""
    parts = element_parts(storage, children=False)
    if parts is None:
        return None
    _, nodes, body = parse_top_level(parts.gaps[0])
    trailing = len(nodes)
    while trailing and nodes[trailing - 1].element.tag in _LISTS:
        trailing -= 1
    lists = nodes[trailing:]
    if any((node.element.tail or "").strip() for node in lists):
        return None
    if not lists:
        return _Item(parts.open, parts.gaps[0], [], [], "", parts.close)
    head = body[: lists[0].start].decode("utf-8")
    stripped = head.rstrip()
    ends = [len(stripped.encode("utf-8")), *(node.end for node in lists[:-1])]
    gaps = [body[end : node.start].decode("utf-8") for end, node in zip(ends, lists, strict=True)]
    return _Item(parts.open, stripped, gaps, [body[node.start : node.end].decode("utf-8") for node in lists],
                 body[lists[-1].end :].decode("utf-8"), parts.close)


def _key(item: _Item, head: str) -> str:
    """The item's own content as a block says it (a lone `<p>` in an item reads as its text)."""
    return block_key(parse_fragment(item.open + head + item.close)[0])


def _merge_item(old: str, new: str, keep: Keep, wrapped: bool) -> str:
    """An edited item: its own content merged with the stored one (in its `<p>` start tag when the stored item had
    one), its nested lists merged in order with the stored ones of the same kind (a list nested anew in the list's
    style), the stored start tag kept while it says the same."""
    old_item, new_item = _split(old), _split(new)
    if old_item is None or new_item is None:
        return merge_block(old, new, keep)
    if _key(old_item, old_item.head) == _key(new_item, new_item.head):
        head = old_item.head
    else:
        head = keep(old_item.head, wrapped_like(old_item.head, new_item.head))
    lists = [_merge_nested(old_item.lists[index], nested, keep) if index < len(old_item.lists) else
             _styled_list(nested) if wrapped else nested for index, nested in enumerate(new_item.lists)]
    same_shape = len(old_item.lists) == len(new_item.lists)
    old_parts, new_parts = element_parts(old, children=False), element_parts(new, children=False)
    assert old_parts is not None and new_parts is not None  # `_split` read both
    open_tag = old_item.open if same_tag(old_parts, new_parts) else new_item.open
    return old_item.join(open_tag, head, lists, old_item.gaps if same_shape else new_item.gaps,
                         old_item.tail if same_shape else new_item.tail)


def _merge_nested(old: str, new: str, keep: Keep) -> str:
    old_element, new_element = parse_fragment(old)[0], parse_fragment(new)[0]
    if old_element.tag != new_element.tag:
        return new
    return old if block_key(old_element) == block_key(new_element) else merge_list(old, new, keep)


def _in_paragraph(storage: str) -> bool:
    """The item holds its own text in one `<p>` (Cloud's `<li><p>x</p><ul>..`)."""
    item = _split(storage)
    if item is None:
        return False
    root, nodes, _ = parse_top_level(item.head)
    blocks = [node for node in nodes if not is_ignorable(node.element)]
    return not (root.text or "").strip() and len(blocks) == 1 and blocks[0].element.tag == "p" \
        and not (blocks[0].element.tail or "").strip()


def _in_list_style(storage: str, wrapped: bool) -> str:
    """A new item as the stored list's items are: its loose text in a `<p>` when theirs all are, and so the items
    of the lists nested in it."""
    item = _split(storage)
    if not wrapped or item is None:
        return storage
    _, nodes, _ = parse_top_level(item.head)
    head = item.head
    if item.head.strip() and not any(is_cell_block(node.element) for node in nodes):
        head = "<p>" + item.head + "</p>"
    lists = [_styled_list(nested) for nested in item.lists]
    return item.join(item.open, head, lists, item.gaps, item.tail)


def _styled_list(storage: str) -> str:
    parts = element_parts(storage)
    if parts is None or any(element.tag != "li" for element in parts.elements):
        return storage
    return parts.join([_in_list_style(child, True) for child in parts.children])
