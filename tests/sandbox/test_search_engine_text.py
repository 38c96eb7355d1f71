"""Text analysis under the `~` operator: tokens, stopwords, the light stemmer, and reading Lucene-style values."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from confluence_mcp.sandbox.search_engine import SearchDoc, SearchEngine
from confluence_mcp.sandbox.text_analysis import analyze, stem
from confluence_mcp.sandbox.text_query import parse_text_query


@pytest.mark.parametrize(
    "family",
    [
        ("leave", "leaves", "leaving", "Leave"),
        ("policy", "policies"),
        ("review", "reviews", "reviewed", "reviewing"),
        ("run", "runs", "running"),
        ("plan", "plans", "planned", "planning"),
        ("class", "classes"),
        ("quick", "quickly"),
        ("hope", "hoped", "hopes", "hoping"),
        ("employee", "employees"),
    ],
)
def test_word_families_share_one_term(family: tuple[str, ...]) -> None:
    assert len({term for word in family for term in analyze(word)}) == 1


@pytest.mark.parametrize("word", ["status", "analysis", "thing", "bring", "only", "2024", "v2", "sixteen"])
def test_words_that_must_not_be_mangled_stay_distinct(word: str) -> None:
    assert stem(word)
    assert analyze(word) == [stem(word)]
    assert stem("status") != stem("stat")
    assert stem("thing") == "thing"


def test_tokens_split_on_punctuation_and_stopwords_keep_their_position() -> None:
    assert analyze("The e-mail queue, re-started!") == ["", "", "mail", "queu", "re", "start"]
    assert analyze("Terms of use") == ["term", "", "us"]
    assert analyze("naïve café ÜBER") == ["naïv", "café", "über"]


def test_text_query_words_phrases_or_and_exclusions() -> None:
    query = parse_text_query('leave "parental pay" OR bonus -draft NOT obsolete')
    assert [[item.source for item in slot] for slot in query.slots] == [["leave"], ["parental pay", "bonus"]]
    assert [item.source for item in query.excluded] == ["draft", "obsolete"]
    phrase = query.slots[1][0]
    assert phrase.is_phrase and phrase.terms == (("parental", 0), ("pay", 1))


def test_phrase_offsets_skip_stopwords_but_keep_gaps() -> None:
    (item,) = parse_text_query('"terms of use"').items
    assert item.terms == (("term", 0), ("us", 2))


def test_escaped_lucene_specials_are_plain_separators() -> None:
    # `text ~ "foo\\+bar \\(baz\\) qux\\*"` reaches the text parser as `foo\+bar \(baz\) qux\*`.
    query = parse_text_query("foo\\+bar \\(baz\\) qux\\*")
    assert all(item.wildcard is None for item in query.items)
    assert [item.source for item in query.items] == ["foo bar", "baz", "qux"]


def test_wildcards_and_unsearchable_values() -> None:
    (item,) = parse_text_query("onboard*").items
    assert item.wildcard is not None and item.wildcard.fullmatch("onboarding")
    assert parse_text_query("*").is_empty
    assert parse_text_query("the of and").is_empty
    assert parse_text_query("+(){}[]^~:").is_empty
    assert parse_text_query("").is_empty


def _doc(number: int, text: str) -> SearchDoc:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    return SearchDoc(id=str(number), type="page", space_key="DEMO", space_title="Demo", title=f"Page {number}",
                     text=text, labels=(), ancestor_ids=(), parent_id=None, container_id=None, creator="u",
                     contributors=("u",), created=moment, lastmodified=moment)


def test_search_while_another_thread_writes() -> None:
    engine = SearchEngine()
    for number in range(200):
        engine.upsert(_doc(number, f"alpha beta gamma {number}"))
    errors: list[BaseException] = []
    stop = threading.Event()

    def writer() -> None:
        try:
            number = 200
            while not stop.is_set():
                engine.upsert(_doc(number, f"alpha delta {number}"))
                engine.remove(str(number - 50))
                number += 1
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for _ in range(40):
            engine.search("space = DEMO and text ~ alpha")
            engine.search("not text ~ 'gam*'")
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not errors


def test_stemming_joins_verbs_and_their_ation_nouns() -> None:
    from confluence_mcp.sandbox.text_analysis import stem

    assert stem("install") == stem("installation") == stem("installations")
    assert stem("configure") == stem("configuration")
    assert stem("station") == "station" and stem("nation") == "nation"  # too short a root to strip
