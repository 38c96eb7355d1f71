"""The sandbox's search engine: evaluates parsed CQL over an in-memory set of documents.

Structured clauses (space, label, type, ancestor, dates, ...) are predicates over the documents; `~` clauses go
to a BM25F inverted index (`text_index`). Results come back ordered by ORDER BY when given, else by relevance when
the query has a positive text clause, else by last modification (newest first). Only `status = current`
documents match unless the query itself mentions `status`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from confluence_mcp.sandbox.cql import (
    And,
    Clause,
    CqlError,
    CqlQuery,
    FunctionCall,
    Node,
    Not,
    Or,
    OrderKey,
    Value,
    parse_cql,
)
from confluence_mcp.sandbox.cql_dates import resolve_date
from confluence_mcp.sandbox.excerpts import build_excerpt
from confluence_mcp.sandbox.text_analysis import analyze
from confluence_mcp.sandbox.text_index import TextIndex
from confluence_mcp.sandbox.text_query import QueryItem, TextQuery, parse_text_query

__all__ = ["CqlError", "Hit", "SearchDoc", "SearchEngine"]

# Field boosts per text field; siteSearch leans harder on titles, like the Confluence UI search.
_BOOSTS: dict[str, dict[str, float]] = {
    "text": {"title": 2.5, "body": 1.0, "labels": 1.5},
    "sitesearch": {"title": 5.0, "body": 1.0, "labels": 2.0},
    "title": {"title": 1.0},
}
_NEGATIVE_OPS = frozenset({"!=", "not in", "!~"})


@dataclass(frozen=True)
class SearchDoc:
    """What the engine knows about one piece of content (page, blogpost, comment, attachment)."""

    id: str
    type: str
    space_key: str
    space_title: str
    title: str
    text: str
    labels: tuple[str, ...]
    ancestor_ids: tuple[str, ...]  # root first
    parent_id: str | None
    container_id: str | None
    creator: str
    contributors: tuple[str, ...]
    created: datetime  # tz-aware UTC
    lastmodified: datetime  # tz-aware UTC
    status: str = "current"


@dataclass(frozen=True)
class Hit:
    doc: SearchDoc
    score: float


@dataclass
class _Evaluation:
    """State of one query evaluation: relevance scores of positive text clauses."""

    now: datetime
    current_user: str
    scores: dict[str, float] = field(default_factory=dict)
    has_text: bool = False


def _plain(value: Value, clause: Clause) -> str:
    if isinstance(value, FunctionCall):
        raise CqlError(f"function {value.name}() cannot be used with field '{clause.field}'")
    return value


def _title_value(value: str) -> str:
    """`title = "\\"Exact Title\\""` means the same as without the inner quotes."""
    stripped = value.strip()
    if len(stripped) >= 2 and stripped[0] == stripped[-1] == '"':
        stripped = stripped[1:-1]
    return stripped.casefold()


class SearchEngine:
    """In-memory CQL search over `SearchDoc`s; `upsert`/`remove` keep the inverted index current."""

    def __init__(self) -> None:
        self._docs: dict[str, SearchDoc] = {}
        self._text = TextIndex()
        # The sandbox serves requests from a thread pool: a search must never see an index half-updated.
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return len(self._docs)

    def get(self, doc_id: str) -> SearchDoc | None:
        return self._docs.get(doc_id)

    def upsert(self, doc: SearchDoc) -> None:
        """Add or replace a document (indexing only re-runs when its searchable text changed)."""
        with self._lock:
            previous = self._docs.get(doc.id)
            self._docs[doc.id] = doc
            if previous is not None and (previous.title, previous.text, previous.labels) == (
                doc.title, doc.text, doc.labels
            ):
                return
            self._text.upsert(doc.id, title=doc.title, body=doc.text, labels=doc.labels)

    def upsert_many(self, docs: Iterable[SearchDoc]) -> None:
        for doc in docs:
            self.upsert(doc)

    def remove(self, doc_id: str) -> None:
        with self._lock:
            self._docs.pop(doc_id, None)
            self._text.remove(doc_id)

    # -- search -------------------------------------------------------------------------------------------------

    def search(self, cql: str, *, now: datetime | None = None, current_user: str = "") -> list[Hit]:
        """All matching documents, ordered; raises CqlError for invalid CQL."""
        query = parse_cql(cql)
        state = _Evaluation(now=(now or datetime.now(UTC)).astimezone(UTC), current_user=current_user)
        assert query.where is not None  # parse_cql refuses empty queries
        with self._lock:
            matched = self._evaluate(query.where, state, negated=False)
            if not query.mentions("status"):
                matched = {doc_id for doc_id in matched if self._docs[doc_id].status == "current"}
            hits = [Hit(self._docs[doc_id], state.scores.get(doc_id, 0.0)) for doc_id in matched]
        return self._order(hits, query, relevance=state.has_text)

    def _order(self, hits: list[Hit], query: CqlQuery, *, relevance: bool) -> list[Hit]:
        hits.sort(key=lambda h: _id_key(h.doc.id))
        if query.order_by:
            for key in reversed(query.order_by):
                hits.sort(key=_order_key(key), reverse=key.descending)
        elif relevance:
            hits.sort(key=lambda h: (-h.score, -h.doc.lastmodified.timestamp()))
        else:
            hits.sort(key=lambda h: h.doc.lastmodified, reverse=True)
        return hits

    def _evaluate(self, node: Node, state: _Evaluation, *, negated: bool) -> set[str]:
        if isinstance(node, Not):
            return set(self._docs) - self._evaluate(node.item, state, negated=not negated)
        if isinstance(node, And):
            result = self._evaluate(node.items[0], state, negated=negated)
            for item in node.items[1:]:
                result &= self._evaluate(item, state, negated=negated)
            return result
        if isinstance(node, Or):
            return set().union(*(self._evaluate(item, state, negated=negated) for item in node.items))
        return self._evaluate_clause(node, state, negated=negated)

    def _evaluate_clause(self, clause: Clause, state: _Evaluation, *, negated: bool) -> set[str]:
        if clause.op in {"~", "!~"}:
            positive = self._text_matches(clause, state, record=not negated and clause.op == "~")
        else:
            predicate = self._predicate(clause, state)
            positive = {doc_id for doc_id, doc in self._docs.items() if predicate(doc)}
        return set(self._docs) - positive if clause.op in _NEGATIVE_OPS else positive

    def _text_matches(self, clause: Clause, state: _Evaluation, *, record: bool) -> set[str]:
        value = _plain(clause.values[0], clause)
        text_query = parse_text_query(value)
        if clause.field == "space.title":
            return {doc_id for doc_id, doc in self._docs.items() if _matches_words(text_query, doc.space_title)}
        scores = self._text.search(text_query, _BOOSTS[clause.field], require_all=clause.field != "sitesearch")
        if record:
            state.has_text = True
            for doc_id, score in scores.items():
                state.scores[doc_id] = state.scores.get(doc_id, 0.0) + score
        return set(scores)

    def _predicate(self, clause: Clause, state: _Evaluation) -> Callable[[SearchDoc], bool]:
        name = clause.field
        if name in {"created", "lastmodified"}:
            return _date_predicate(clause, state.now)
        if name in {"creator", "contributor"}:
            users = {state.current_user if isinstance(v, FunctionCall) and v.name.lower() == "currentuser"
                     else _plain(v, clause) for v in clause.values}
            if name == "creator":
                return lambda doc: doc.creator in users
            return lambda doc: doc.creator in users or not users.isdisjoint(doc.contributors)
        values = [_plain(v, clause) for v in clause.values]
        folded = {v.casefold() for v in values}
        if name == "title":
            titles = {_title_value(v) for v in values}
            return lambda doc: doc.title.casefold() in titles
        simple: dict[str, Callable[[SearchDoc], bool]] = {
            "space": lambda doc: doc.space_key.casefold() in folded,
            "space.title": lambda doc: doc.space_title.casefold() in folded,
            "label": lambda doc: any(label.casefold() in folded for label in doc.labels),
            "type": lambda doc: doc.type.casefold() in folded,
            "status": lambda doc: doc.status.casefold() in folded,
            "id": lambda doc: doc.id in values,
            "parent": lambda doc: doc.parent_id in values,
            "container": lambda doc: doc.container_id in values,
            "ancestor": lambda doc: any(a in values for a in doc.ancestor_ids),
        }
        if name not in simple:
            raise CqlError(f"field '{name}' cannot be used with '{clause.op}'")
        return simple[name]

    # -- excerpts -----------------------------------------------------------------------------------------------

    def excerpt(self, doc_id: str, cql: str, *, max_chars: int = 300, highlight: bool = True) -> str:
        """The best window of the document's text around the query's terms (hits marked when `highlight`)."""
        query = parse_cql(cql)
        with self._lock:
            doc = self._docs.get(doc_id)
            if doc is None:
                return ""
            terms: set[str] = set()
            for clause in _positive_text_clauses(query):
                for item in parse_text_query(_plain(clause.values[0], clause)).items:
                    terms |= self._text.expand(item)
            words = self._text.surface_forms(terms)
        return build_excerpt(doc.text, words, max_chars=max_chars, highlight=highlight)


def _positive_text_clauses(query: CqlQuery) -> list[Clause]:
    """Text clauses that are not under NOT: those whose terms a reader wants highlighted."""
    found: list[Clause] = []

    def walk(node: Node | None, negated: bool) -> None:
        if isinstance(node, Not):
            walk(node.item, not negated)
        elif isinstance(node, And | Or):
            for item in node.items:
                walk(item, negated)
        elif isinstance(node, Clause) and node.op == "~" and not negated:
            found.append(node)

    walk(query.where, False)
    return found


def _matches_words(query: TextQuery, text: str) -> bool:
    """Small-field text match (space titles): every slot has an alternative whose terms all occur."""
    words = set(analyze(text))
    if query.is_empty:
        return False

    def item_matches(item: QueryItem) -> bool:
        if item.wildcard is not None:
            return any(item.wildcard.fullmatch(word) for word in words if word)
        return all(term in words for term, _ in item.terms)

    return all(any(item_matches(item) for item in slot) for slot in query.slots) and not any(
        item_matches(item) for item in query.excluded
    )


def _date_predicate(clause: Clause, now: datetime) -> Callable[[SearchDoc], bool]:
    start, end = resolve_date(clause.values[0], now)

    def moment(doc: SearchDoc) -> datetime:
        return doc.created if clause.field == "created" else doc.lastmodified

    tests: dict[str, Callable[[datetime], bool]] = {
        "=": lambda t: start <= t < end,
        "!=": lambda t: start <= t < end,  # complemented by the caller
        "<": lambda t: t < start,
        "<=": lambda t: t < end,
        ">": lambda t: t >= end,
        ">=": lambda t: t >= start,
    }
    test = tests[clause.op]
    return lambda doc: test(moment(doc))


def _id_key(doc_id: str) -> tuple[int, int, str]:
    return (0, int(doc_id), "") if doc_id.isdigit() else (1, 0, doc_id)


def _order_key(key: OrderKey) -> Callable[[Hit], Any]:
    getters: dict[str, Callable[[Hit], Any]] = {
        "title": lambda h: h.doc.title.casefold(),
        "created": lambda h: h.doc.created,
        "lastmodified": lambda h: h.doc.lastmodified,
        "id": lambda h: _id_key(h.doc.id),
        "space": lambda h: h.doc.space_key.casefold(),
        "type": lambda h: h.doc.type,
    }
    return getters[key.field]

