"""An incremental inverted index with positions over three fields (title, body, labels), scored with BM25F.

BM25F: a term's frequency in each field is length-normalised and weighted by the field's boost, the weighted sum
is saturated once (k1) and multiplied by the term's IDF. A phrase counts its occurrences and uses its own document
frequency, so rare phrases weigh more; a wildcard is the union of the vocabulary words it matches.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping

from confluence_mcp.sandbox.text_analysis import TOKEN, term_of, terms_of
from confluence_mcp.sandbox.text_query import QueryItem, TextQuery

__all__ = ["FIELDS", "TextIndex"]

FIELDS = ("title", "body", "labels")
_K1 = 1.2
_B = 0.75


class _FieldIndex:
    """Postings of one field: term → doc id → positions."""

    def __init__(self) -> None:
        self.postings: dict[str, dict[str, list[int]]] = {}
        self.lengths: dict[str, int] = {}
        self.total_length = 0
        self.doc_terms: dict[str, tuple[str, ...]] = {}

    def add(self, doc_id: str, terms: list[str]) -> None:
        by_term: defaultdict[str, list[int]] = defaultdict(list)
        for position, term in enumerate(terms):
            by_term[term].append(position)
        by_term.pop("", None)  # stopwords: cheaper to drop once than to test every token
        postings = self.postings
        for term, positions in by_term.items():
            bucket = postings.get(term)
            if bucket is None:
                postings[term] = bucket = {}
            bucket[doc_id] = positions
        self.doc_terms[doc_id] = tuple(by_term)
        self.lengths[doc_id] = len(terms)
        self.total_length += len(terms)

    def remove(self, doc_id: str) -> None:
        for term in self.doc_terms.pop(doc_id, ()):
            bucket = self.postings.get(term)
            if bucket is not None:
                bucket.pop(doc_id, None)
                if not bucket:
                    del self.postings[term]
        self.total_length -= self.lengths.pop(doc_id, 0)

    @property
    def average_length(self) -> float:
        return self.total_length / len(self.lengths) if self.lengths else 1.0

    def frequencies(self, item: QueryItem, expansions: Iterable[str]) -> dict[str, int]:
        """doc id → how often `item` occurs in this field."""
        if item.wildcard is not None:
            counts: defaultdict[str, int] = defaultdict(int)
            for term in expansions:
                for doc_id, positions in self.postings.get(term, {}).items():
                    counts[doc_id] += len(positions)
            return counts
        if not item.is_phrase:
            return {doc_id: len(positions) for doc_id, positions in self.postings.get(item.terms[0][0], {}).items()}
        return self._phrase_frequencies(item)

    def _phrase_frequencies(self, item: QueryItem) -> dict[str, int]:
        buckets = [self.postings.get(term) for term, _ in item.terms]
        if any(bucket is None for bucket in buckets):
            return {}
        rarest = min(buckets, key=lambda b: len(b or ()))
        counts: dict[str, int] = {}
        for doc_id in rarest or {}:
            if not all(doc_id in bucket for bucket in buckets if bucket is not None):
                continue
            position_sets = [set(bucket[doc_id]) for bucket in buckets if bucket is not None]
            first_term_positions = buckets[0][doc_id] if buckets[0] is not None else []
            hits = sum(
                1
                for start in first_term_positions
                if all(start + offset in positions
                       for (_, offset), positions in zip(item.terms, position_sets, strict=True))
            )
            if hits:
                counts[doc_id] = hits
        return counts


class TextIndex:
    """Index of title, body and labels per document id, with BM25F search over a boosted set of fields."""

    def __init__(self) -> None:
        self._fields = {name: _FieldIndex() for name in FIELDS}
        self._vocabulary: dict[str, str] = {}  # lower-cased token → its term, for wildcard expansion
        self._surface_forms: defaultdict[str, set[str]] = defaultdict(set)  # term → tokens seen, for excerpts
        self._expansions: dict[str, frozenset[str]] = {}  # wildcard pattern → terms; cleared as words arrive
        self._doc_ids: set[str] = set()

    def __len__(self) -> int:
        return len(self._doc_ids)

    def upsert(self, doc_id: str, *, title: str, body: str, labels: Iterable[str]) -> None:
        self.remove(doc_id)
        for name, text in (("title", title), ("body", body), ("labels", " ".join(labels))):
            tokens = TOKEN.findall(text.lower())
            self._fields[name].add(doc_id, terms_of(tokens))
            for token in set(tokens).difference(self._vocabulary):
                term = term_of(token)
                if term:
                    self._vocabulary[token] = term
                    self._surface_forms[term].add(token)
                    self._expansions.clear()
        self._doc_ids.add(doc_id)

    def remove(self, doc_id: str) -> None:
        if doc_id not in self._doc_ids:
            return
        for field_index in self._fields.values():
            field_index.remove(doc_id)
        self._doc_ids.discard(doc_id)

    def expand(self, item: QueryItem) -> set[str]:
        """The indexed terms a wildcard item stands for."""
        if item.wildcard is None:
            return {term for term, _ in item.terms}
        cached = self._expansions.get(item.wildcard.pattern)
        if cached is None:
            pattern = item.wildcard
            cached = frozenset(term for token, term in self._vocabulary.items() if pattern.fullmatch(token))
            self._expansions[pattern.pattern] = cached
        return set(cached)

    def surface_forms(self, terms: Iterable[str]) -> set[str]:
        """Every lower-cased word seen in documents that indexes as one of `terms` ("leave" → leave, leaving...)."""
        return {token for term in terms for token in self._surface_forms.get(term, ())}

    def _item_scores(self, item: QueryItem, boosts: Mapping[str, float]) -> dict[str, float]:
        expansions = self.expand(item) if item.wildcard is not None else set()
        per_field = {name: self._fields[name].frequencies(item, expansions) for name in boosts}
        matched: set[str] = set().union(*per_field.values()) if per_field else set()
        if not matched:
            return {}
        total = max(len(self._doc_ids), 1)
        idf = math.log(1.0 + (total - len(matched) + 0.5) / (len(matched) + 0.5))
        weighted: defaultdict[str, float] = defaultdict(float)
        for name, counts in per_field.items():
            field_index = self._fields[name]
            average = field_index.average_length or 1.0
            boost = boosts[name]
            for doc_id, count in counts.items():
                norm = 1.0 - _B + _B * field_index.lengths.get(doc_id, 0) / average
                weighted[doc_id] += boost * count / norm
        return {doc_id: idf * tf * (_K1 + 1.0) / (_K1 + tf) for doc_id, tf in weighted.items()}

    def search(self, query: TextQuery, boosts: Mapping[str, float], *, require_all: bool = True
               ) -> dict[str, float]:
        """doc id → score for documents matching `query` in the boosted fields.

        `require_all` needs every slot to match; otherwise any slot will do and scores are scaled by the share of
        slots matched (coordination), so documents matching more of the query come first.
        """
        if query.is_empty:
            return {}
        slot_scores: list[dict[str, float]] = []
        for slot in query.slots:
            combined: defaultdict[str, float] = defaultdict(float)
            for item in slot:
                for doc_id, score in self._item_scores(item, boosts).items():
                    combined[doc_id] += score
            slot_scores.append(combined)
        matched = set(slot_scores[0]).intersection(*slot_scores[1:]) if require_all else set().union(*slot_scores)
        for item in query.excluded:
            matched -= set(self._item_scores(item, boosts))
        result: dict[str, float] = {}
        for doc_id in matched:
            hits = [scores[doc_id] for scores in slot_scores if doc_id in scores]
            coordination = len(hits) / len(slot_scores)
            result[doc_id] = sum(hits) * coordination
        return result
