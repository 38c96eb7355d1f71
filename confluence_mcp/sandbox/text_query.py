"""The value of a CQL `~` clause, read the way Confluence's Lucene backend reads it.

- words are required (AND); an upper-case `OR` between two items makes them alternatives;
- `"exact phrase"` matches the words in order (stopwords keep their slot);
- `*` and `?` inside a word are wildcards (matched against the indexed vocabulary);
- `-word` or `NOT word` excludes; a backslash makes the next character literal, and Lucene's other special
  characters (`+ & | ! ( ) { } [ ] ^ ~ :`) are ignored, as they are when escaped with two backslashes in CQL;
- a word with inner punctuation ("e-mail", "v2.1") becomes a phrase of its parts, like the indexer splits it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from confluence_mcp.sandbox.text_analysis import TOKEN, analyze

__all__ = ["QueryItem", "TextQuery", "parse_text_query"]

_LUCENE_IGNORED = set("+&|!(){}[]^~:/")


@dataclass(frozen=True)
class QueryItem:
    """One searchable unit: a term, a phrase (terms with relative positions) or a wildcard pattern."""

    terms: tuple[tuple[str, int], ...] = ()  # (term, offset); one entry for a plain term
    wildcard: re.Pattern[str] | None = None
    source: str = ""

    @property
    def is_phrase(self) -> bool:
        return len(self.terms) > 1


@dataclass
class TextQuery:
    """Every slot must match (one of its alternatives); no excluded item may match."""

    slots: list[list[QueryItem]] = field(default_factory=list)
    excluded: list[QueryItem] = field(default_factory=list)

    @property
    def items(self) -> list[QueryItem]:
        return [item for slot in self.slots for item in slot]

    @property
    def is_empty(self) -> bool:
        return not self.slots


@dataclass
class _Word:
    text: str
    quoted: bool
    negated: bool = False
    has_wildcard: bool = False


def _split_words(value: str) -> list[_Word]:
    """Lex the value into words and quoted phrases, honouring backslash escapes."""
    words: list[_Word] = []
    buffer: list[str] = []
    wildcard = False
    quoted = False
    negate_next = False
    index = 0

    def flush() -> None:
        nonlocal wildcard, negate_next
        text = "".join(buffer).strip()
        if text or quoted:
            words.append(_Word(text, quoted, negate_next, wildcard))
            negate_next = False
        buffer.clear()
        wildcard = False

    while index < len(value):
        char = value[index]
        if char == "\\" and index + 1 < len(value):
            # Escaped specials are literal, and a literal special only separates tokens.
            buffer.append(value[index + 1] if value[index + 1].isalnum() else " ")
            index += 2
            continue
        if char == '"':
            if quoted:
                flush()
                quoted = False
            else:
                flush()
                quoted = True
        elif quoted:
            buffer.append(char)
        elif char.isspace():
            flush()
        elif char == "-" and not buffer:
            negate_next = True
        elif char in "*?":
            buffer.append(char)
            wildcard = True
        elif char in _LUCENE_IGNORED:
            buffer.append(" ")
        else:
            buffer.append(char)
        index += 1
    flush()
    return words


def _wildcard_item(text: str) -> QueryItem | None:
    pattern = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char)
        for char in text.lower()
        if char in "*?" or TOKEN.fullmatch(char)
    )
    if not pattern.strip(".*"):
        return None  # a bare "*" matches nothing useful
    return QueryItem(wildcard=re.compile(pattern), source=text)


def _item_for(word: _Word) -> QueryItem | None:
    if word.has_wildcard and not word.quoted:
        return _wildcard_item(word.text)
    positions = analyze(word.text)
    terms = tuple((term, offset) for offset, term in enumerate(positions) if term)
    if not terms:
        return None
    first_offset = terms[0][1]
    return QueryItem(terms=tuple((t, o - first_offset) for t, o in terms), source=word.text)


def parse_text_query(value: str) -> TextQuery:
    """Parse a `~` value; a value with nothing searchable gives an empty query (which matches nothing)."""
    query = TextQuery()
    pending_or = False
    negate_next = False
    for word in _split_words(value):
        if not word.quoted and word.text in {"OR", "||"}:
            pending_or = bool(query.slots)
            continue
        if not word.quoted and word.text in {"AND", "&&"}:
            continue
        if not word.quoted and word.text == "NOT":
            negate_next = True
            continue
        item = _item_for(word)
        if item is None:
            continue
        if word.negated or negate_next:
            query.excluded.append(item)
        elif pending_or:
            query.slots[-1].append(item)
        else:
            query.slots.append([item])
        pending_or = negate_next = False
    return query

