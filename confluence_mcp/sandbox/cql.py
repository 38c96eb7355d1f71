"""CQL parser for the sandbox: a lark grammar that turns a query string into a small, typed AST.

Precedence (our documented choice): parentheses, then `NOT` (binds tightest), then `AND`, then `OR` — the same
as JQL, and what a reader of `a OR b AND c` expects. Keywords are case-insensitive. Values are bare words or
strings quoted with `"` or `'` (escape `\\"` and `\\\\`); reserved words must be quoted. Every problem — syntax,
unknown field, operator the field does not support, reserved word as a bare value — raises `CqlError`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Literal

from lark import Lark, Token, Transformer, UnexpectedInput, v_args
from lark.exceptions import VisitError

__all__ = [
    "FIELD_ALIASES",
    "RESERVED_WORDS",
    "And",
    "Clause",
    "CqlError",
    "CqlQuery",
    "FunctionCall",
    "Node",
    "Not",
    "Or",
    "OrderKey",
    "Value",
    "parse_cql",
]


class CqlError(ValueError):
    """The CQL could not be parsed or uses a field/operator the sandbox does not support; str() is the reason."""


_RESERVED_TEXT = """
    after and as avg before begin by commit contains count distinct else empty end explain from having if in
    inner insert into is isnull left like limit max min not null or order outer right select sum then was
    where update
"""
RESERVED_WORDS = frozenset(_RESERVED_TEXT.split())

Operator = Literal["=", "!=", "~", "!~", ">", ">=", "<", "<=", "in", "not in"]

_EQUALITY: frozenset[str] = frozenset({"=", "!=", "in", "not in"})
_TEXT: frozenset[str] = frozenset({"~", "!~"})
_DATE: frozenset[str] = frozenset({"=", "!=", ">", ">=", "<", "<="})

# Canonical field name → operators it accepts. Aliases are folded before the lookup.
FIELD_OPERATORS: dict[str, frozenset[str]] = {
    "space": _EQUALITY,
    "space.title": _EQUALITY | _TEXT,
    "title": _EQUALITY | _TEXT,
    "text": _TEXT,
    "sitesearch": frozenset({"~"}),
    "label": _EQUALITY,
    "type": _EQUALITY,
    "id": _EQUALITY,
    "ancestor": _EQUALITY,
    "parent": _EQUALITY,
    "container": _EQUALITY,
    "creator": _EQUALITY,
    "contributor": _EQUALITY,
    "status": _EQUALITY,
    "created": _DATE,
    "lastmodified": _DATE,
}
FIELD_ALIASES = {"space.key": "space", "content": "id"}
ORDERABLE_FIELDS = frozenset({"title", "created", "lastmodified", "id", "space", "type"})

_GRAMMAR = r"""
    start: expr? order_by?

    ?expr: chain
    ?chain: not_expr (BOOL_OP not_expr)*
    ?not_expr: _NOT not_expr   -> negation
             | atom
    ?atom: clause
         | "(" expr ")"

    clause: FIELD OP value              -> compare
          | FIELD _IN value_list        -> in_list
          | FIELD _NOT _IN value_list   -> not_in_list

    value_list: "(" value ("," value)* ")"
    ?value: DQ_STRING                   -> quoted
          | SQ_STRING                   -> quoted
          | BARE "(" [value ("," value)*] ")"  -> function
          | BARE                        -> bare

    order_by: _ORDER _BY order_key ("," order_key)*
    order_key: FIELD DIRECTION?

    BOOL_OP.3: /(and|or)\b/i
    _NOT.3: /not\b/i
    _IN.3: /in\b/i
    _ORDER.3: /order\b/i
    _BY.3: /by\b/i
    DIRECTION.3: /(asc|desc)\b/i
    OP: "!=" | "!~" | ">=" | "<=" | "=" | "~" | ">" | "<"
    FIELD.2: /[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*/
    BARE: /[^\s"'(),=!~<>+.;?|*\/%^$#@\[\]]+/
    DQ_STRING: /"(?:[^"\\]|\\.)*"/s
    SQ_STRING: /'(?:[^'\\]|\\.)*'/s

    %import common.WS
    %ignore WS
"""


@dataclass(frozen=True)
class FunctionCall:
    """`now("-4w")`, `currentUser()`, ... with its (unescaped) string arguments."""

    name: str
    args: tuple[str, ...] = ()


Value = str | FunctionCall


@dataclass(frozen=True)
class Clause:
    """`field op value(s)`; `field` is canonical (lower case, aliases folded), `op` is lower case."""

    field: str
    op: Operator
    values: tuple[Value, ...]


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


Node = Clause | And | Or | Not


@dataclass(frozen=True)
class OrderKey:
    field: str
    descending: bool = False


@dataclass(frozen=True)
class CqlQuery:
    """A parsed query: `where` is None for an empty query (which matches everything)."""

    where: Node | None
    order_by: tuple[OrderKey, ...] = ()

    def mentions(self, field: str) -> bool:
        """Whether any clause uses `field` (used for `status`: only current content unless asked)."""
        return any(c.field == field for c in iter_clauses(self.where))


def iter_clauses(node: Node | None) -> list[Clause]:
    """Every clause under `node`, left to right."""
    if node is None:
        return []
    if isinstance(node, Clause):
        return [node]
    if isinstance(node, Not):
        return iter_clauses(node.item)
    return [c for item in node.items for c in iter_clauses(item)]


def unescape(literal: str) -> str:
    """The content of a quoted CQL string: `\\"`, `\\'` and `\\\\` unescaped; other escapes kept for Lucene."""
    body = literal[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            following = body[i + 1]
            out.append(following if following in "\"'\\" else char + following)
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out)


def _canonical_field(token: Token) -> str:
    name = str(token).lower()
    name = FIELD_ALIASES.get(name, name)
    if name not in FIELD_OPERATORS:
        raise CqlError(f"unknown field '{token}'")
    return name


def _check_operator(field: str, op: str) -> None:
    if op not in FIELD_OPERATORS[field]:
        raise CqlError(f"operator '{op.upper()}' is not supported for field '{field}'")


class _ToAst(Transformer[Token, object]):
    @v_args(inline=True)
    def quoted(self, token: Token) -> str:
        return unescape(str(token))

    @v_args(inline=True)
    def bare(self, token: Token) -> str:
        word = str(token)
        if word.lower() in RESERVED_WORDS:
            raise CqlError(f"reserved word '{word}' must be quoted")
        return word

    def function(self, children: list[object]) -> FunctionCall:
        name, *args = children
        if any(isinstance(a, FunctionCall) for a in args):
            raise CqlError("function arguments must be plain values")
        return FunctionCall(str(name), tuple(str(a) for a in args if a is not None))

    def value_list(self, children: list[Value]) -> tuple[Value, ...]:
        return tuple(children)

    @v_args(inline=True)
    def compare(self, field_token: Token, op_token: Token, value: Value) -> Clause:
        field = _canonical_field(field_token)
        op = str(op_token)
        _check_operator(field, op)
        return Clause(field, op, (value,))  # type: ignore[arg-type]

    @v_args(inline=True)
    def in_list(self, field_token: Token, values: tuple[Value, ...]) -> Clause:
        field = _canonical_field(field_token)
        _check_operator(field, "in")
        return Clause(field, "in", values)

    @v_args(inline=True)
    def not_in_list(self, field_token: Token, values: tuple[Value, ...]) -> Clause:
        field = _canonical_field(field_token)
        _check_operator(field, "not in")
        return Clause(field, "not in", values)

    def chain(self, children: list[Any]) -> Node:
        """Confluence evaluates AND and OR left to right (no precedence): `a OR b AND c` is `(a OR b) AND c`."""
        result: Node = children[0]
        for op, operand in zip(children[1::2], children[2::2], strict=True):
            kind = And if str(op).lower() == "and" else Or
            # A run of the same operator stays one flat node.
            result = kind((*result.items, operand)) if isinstance(result, kind) else kind((result, operand))
        return result

    @v_args(inline=True)
    def negation(self, item: Node) -> Not:
        return Not(item)

    @v_args(inline=True)
    def order_key(self, field_token: Token, direction: Token | None = None) -> OrderKey:
        name = str(field_token).lower()
        name = {"space.key": "space", "content": "id"}.get(name, name)
        if name not in ORDERABLE_FIELDS:
            raise CqlError(f"cannot ORDER BY '{field_token}'")
        return OrderKey(name, descending=direction is not None and str(direction).lower() == "desc")

    def order_by(self, children: list[OrderKey]) -> tuple[OrderKey, ...]:
        return tuple(children)

    def start(self, children: list[object]) -> CqlQuery:
        where: Node | None = None
        order: tuple[OrderKey, ...] = ()
        for child in children:
            if isinstance(child, tuple):
                order = child
            elif child is not None:
                where = child  # type: ignore[assignment]
        return CqlQuery(where, order)


_PARSER = Lark(_GRAMMAR, parser="lalr", lexer="contextual", maybe_placeholders=True)


@functools.lru_cache(maxsize=512)
def parse_cql(cql: str) -> CqlQuery:
    """Parse a CQL string (cached: the sandbox parses the same query again for each excerpt)."""
    if not cql.strip():
        raise CqlError("empty CQL query")
    try:
        tree = _PARSER.parse(cql)
        result = _ToAst().transform(tree)
    except VisitError as error:
        if isinstance(error.orig_exc, CqlError):
            raise error.orig_exc from None
        raise CqlError(str(error.orig_exc)) from None
    except UnexpectedInput as error:
        raise CqlError(f"syntax error at position {error.pos_in_stream}") from None
    if not isinstance(result, CqlQuery) or result.where is None:
        raise CqlError("the query has no search clause")
    return result
