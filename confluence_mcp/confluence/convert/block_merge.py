"""Merging an edited paragraph, heading, quote or list with the stored one it replaces, so the Cloud editor's ids
(`local-id` on every block and list item) stay on what an edit changed, not only on what it left alone.

The stored start tag is kept while it says the same as the new one (`element_parts.same_tag`: they differ in
bookkeeping at most). A paragraph's or heading's content is the new one as written, its unchanged inline elements
(links, mentions, images...) as stored (`inline_merge`); a quote's content is merged block by block
(`merge.keep_unchanged_blocks`). A list of items is merged item by item in `list_merge` (this merge takes a list
holding anything else); an edited item whose text the editor had wrapped in a `<p>` (Cloud's `<li><p>x</p><ul>..`)
keeps that wrapper's start tag around its new text (`wrapped_like`).
"""

from __future__ import annotations

from collections.abc import Callable

from .canonical import is_cell_block, is_ignorable
from .element_parts import element_parts, merge_content, same_tag
from .inline_merge import merge_inline
from .xhtml import parse_top_level

__all__ = ["MERGED_BLOCKS", "merge_block", "wrapped_like"]

_TEXT_BLOCKS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6"})
_LISTS = frozenset({"ul", "ol"})
# The blocks `merge_block` takes (by the stored and new block's tag, which agree).
MERGED_BLOCKS = _TEXT_BLOCKS | _LISTS | {"blockquote", "li"}

Keep = Callable[[str, str], str]


def merge_block(old: str, new: str, keep: Keep) -> str:
    """`new` with the stored start tag of `old` kept while it says the same, and (a quote, a list, an item) its
    content merged with `keep`. Raises StorageParseError on storage that does not parse (the caller keeps `new`)."""
    old_parts, new_parts = element_parts(old, children=False), element_parts(new, children=False)
    if old_parts is None or new_parts is None or old_parts.close != new_parts.close:
        return new
    if old_parts.close[2:-1] in _TEXT_BLOCKS:
        tags = old_parts if same_tag(old_parts, new_parts) else new_parts
        return tags.open + merge_inline(old_parts.gaps[0], new_parts.gaps[0]) + tags.close
    if old_parts.close == "</li>":
        new = new_parts.open + wrapped_like(old_parts.gaps[0], new_parts.gaps[0]) + new_parts.close
    return merge_content(old, new, keep)


def wrapped_like(old: str, new: str) -> str:
    """A list item's new content with its leading inline text in the stored item's `<p>` start tag, when the stored
    item holds its text in one `<p>` (before nested lists at most) and the new one holds it loose."""
    root, nodes, body = parse_top_level(old)
    blocks = [node for node in nodes if not is_ignorable(node.element)]
    if (root.text or "").strip() or not blocks or blocks[0].element.tag != "p" \
            or any(node.element.tag not in _LISTS for node in blocks[1:]):
        return new
    paragraph = element_parts(body[blocks[0].start : blocks[0].end].decode("utf-8"), children=False)
    root, nodes, body = parse_top_level(new)
    split = len(body)  # where the nested lists that end the new item start
    for node in reversed(nodes):
        if node.element.tag not in _LISTS or (node.element.tail or "").strip():
            break
        split = node.start
    text = body[:split].decode("utf-8")
    if paragraph is None or not text.strip() or any(node.start < split and is_cell_block(node.element)
                                                    for node in nodes):
        return new
    return paragraph.open + text + paragraph.close + body[split:].decode("utf-8")

