"""Build CQL from user values without ever pasting raw text into the query.

Every value is quoted (`"` and `\\` escaped); values for the `~` text operators also have Lucene's special
characters neutralised. `scoped` wraps any query in parentheses and ANDs the toolkit's spaces outside it, so
nothing inside can widen the scope.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

__all__ = ["and_", "clause", "in_", "or_", "quote", "scoped", "text_clause", "text_value", "user_query"]

# Characters Lucene treats as syntax inside a `~` value; Confluence wants them escaped with two backslashes.
_LUCENE_SPECIAL = re.compile(r'([+\-&|!(){}\[\]^~*?:\\/"])')
_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9_.]*$")
_OPERATORS = {"=", "!=", "<", "<=", ">", ">=", "~", "!~"}
_ORDER_BY = re.compile(r"order\s+by\b", re.IGNORECASE)


def quote(value: str | int) -> str:
    """A CQL string literal: `"` and `\\` escaped, control characters folded to spaces."""
    text = re.sub(r"[\x00-\x1f]", " ", str(value))
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def text_value(value: str) -> str:
    """A literal for `~`/`!~`: Lucene specials become plain characters, then the whole is quoted."""
    neutral = _LUCENE_SPECIAL.sub(" ", value)
    neutral = re.sub(r"\b(AND|OR|NOT)\b", lambda m: m.group(1).lower(), neutral)
    neutral = " ".join(neutral.split())
    return quote(neutral)


def _field(name: str) -> str:
    if not _FIELD.match(name):
        raise ValueError(f"not a CQL field name: {name!r}")
    return name


def clause(field: str, op: str, value: str | int) -> str:
    """`field op "value"`; `~` and `!~` get a Lucene-safe value."""
    if op not in _OPERATORS:
        raise ValueError(f"not a CQL operator: {op!r}")
    literal = text_value(str(value)) if op in {"~", "!~"} else quote(value)
    return f"{_field(field)} {op} {literal}"


def text_clause(field: str, value: str) -> str:
    """`field ~ "value"` (`~ ""` when the value has no searchable characters: callers refuse such input first)."""
    return clause(field, "~", value)


def in_(field: str, values: Iterable[str | int], *, negate: bool = False) -> str:
    """`field IN ("a", "b")` (or NOT IN)."""
    items = [quote(v) for v in values]
    if not items:
        raise ValueError(f"{field} IN needs at least one value")
    return f"{_field(field)} {'NOT IN' if negate else 'IN'} ({', '.join(items)})"


def and_(*parts: str | None) -> str:
    """Join the non-empty parts with AND, each parenthesised."""
    kept = [p for p in parts if p]
    return kept[0] if len(kept) == 1 else " AND ".join(f"({p})" for p in kept)


def or_(*parts: str | None) -> str:
    """Join the non-empty parts with OR, each parenthesised."""
    kept = [p for p in parts if p]
    return kept[0] if len(kept) == 1 else " OR ".join(f"({p})" for p in kept)


def scoped(query: str | None, spaces: Sequence[str], *, content_type: str | Sequence[str] | None = "page",
           order_by: str | None = None) -> str:
    """`(query) AND space IN (...) AND type = page [ORDER BY ...]`: the scope is outside the user's query; several
    content types read `type IN (...)`."""
    scope = in_("space", spaces) if spaces else None
    kinds = [content_type] if isinstance(content_type, str) else list(content_type or [])
    kind = (clause("type", "=", kinds[0]) if len(kinds) == 1 else in_("type", kinds)) if kinds else None
    cql = and_(query, kind, scope)
    if order_by:
        if not re.fullmatch(r"[A-Za-z]+( (asc|desc))?", order_by, flags=re.IGNORECASE):
            raise ValueError(f"bad ORDER BY: {order_by!r}")
        cql = f"{cql} ORDER BY {order_by}"
    return cql


def user_query(text: str) -> str:
    """CQL a caller wrote, without its ORDER BY, checked to be one group of its own: ValueError when its
    parentheses or quotes do not balance (`a) OR (b` would close the parentheses `scoped` puts around it, leaving
    the scope in one branch of the caller's OR)."""
    depth, quote_char, at = 0, "", 0
    while at < len(text):
        char = text[at]
        if quote_char:
            if char == "\\":
                at += 1
            elif char == quote_char:
                quote_char = ""
        elif char in "\"'":
            quote_char = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise ValueError("it closes a parenthesis it never opened")
        elif depth == 0 and _ORDER_BY.match(text, at) and (at == 0 or not text[at - 1].isalnum()):
            break
        at += 1
    if quote_char:
        raise ValueError(f"a {quote_char} quote is never closed")
    if depth:
        raise ValueError(f"{depth} parenthesis{'es' if depth > 1 else ''} never closed")
    return text[:at].strip()
