"""SearchEngine semantics over a small hand-made corpus: every field, operator, precedence, text search and
excerpts, with a fixed `now` so date functions are deterministic."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from confluence_mcp.sandbox.cql import CqlError
from confluence_mcp.sandbox.search_engine import SearchDoc, SearchEngine

NOW = datetime(2026, 3, 18, 15, 30, tzinfo=UTC)
DAY = timedelta(days=1)


def doc(doc_id: str, title: str, text: str, *, space: str = "DEMO", kind: str = "page", labels: tuple[str, ...] = (),
        ancestors: tuple[str, ...] = (), container: str | None = None, creator: str = "alice",
        contributors: tuple[str, ...] = (), age_days: float = 10, edited_days: float | None = None,
        status: str = "current") -> SearchDoc:
    created = NOW - age_days * DAY
    return SearchDoc(
        id=doc_id, type=kind, space_key=space, space_title={"DEMO": "Demo Space", "OPS": "Operations"}[space],
        title=title, text=text, labels=labels, ancestor_ids=ancestors, parent_id=ancestors[-1] if ancestors else None,
        container_id=container, creator=creator, contributors=(creator, *contributors), created=created,
        lastmodified=NOW - (edited_days if edited_days is not None else age_days) * DAY, status=status,
    )


CORPUS = [
    doc("1", "Home", "Welcome to the demo space.", labels=("home",), age_days=400),
    doc("2", "Leave policy", "Employees may take paid leave. Parental leave is sixteen weeks. Leave requests go "
        "to your manager.", labels=("hr", "policy"), ancestors=("1",), age_days=60, edited_days=2,
        contributors=("bob",)),
    doc("3", "Code review guide", "Every change needs a code review. Reviewers review code quickly.",
        labels=("engineering",), ancestors=("1",), creator="bob", age_days=30),
    doc("4", "Leaving the company", "When leaving, return your laptop and badge.", ancestors=("1", "2"),
        age_days=5, edited_days=0.5),
    doc("5", "Quarterly update", "Revenue grew. The team reviewed leave usage.", kind="blogpost", age_days=20),
    doc("6", "Old leave policy", "Superseded leave rules.", status="trashed", age_days=900),
    doc("7", "diagram.png", "", kind="attachment", container="3", age_days=29),
    doc("10", "Runbook: e-mail outage", "Restart the mail server and check the e-mail queue. Hello dolly is a song.",
        space="OPS", labels=("runbook", "release-notes"), creator="carol", age_days=3),
    doc("11", "Release notes 2.1", "Version 2.1 fixes bugs in the installer.", space="OPS",
        labels=("release-notes",), creator="carol", age_days=1),
    doc("12", 'Title with "quotes" and \\ backslash', "Odd titles must still be searchable.", space="OPS",
        creator="carol", age_days=100),
]


@pytest.fixture(scope="module")
def engine() -> SearchEngine:
    built = SearchEngine()
    for item in CORPUS:
        built.upsert(item)
    return built


def ids(engine: SearchEngine, cql: str, *, user: str = "") -> list[str]:
    return [hit.doc.id for hit in engine.search(cql, now=NOW, current_user=user)]


def id_set(engine: SearchEngine, cql: str, *, user: str = "") -> set[str]:
    return set(ids(engine, cql, user=user))


@pytest.mark.parametrize(
    ("cql", "expected"),
    [
        ("space = DEMO", {"1", "2", "3", "4", "5", "7"}),
        ("space = demo", {"1", "2", "3", "4", "5", "7"}),  # keys compare case-insensitively
        ("space in (OPS, NOPE)", {"10", "11", "12"}),
        ("space != DEMO", {"10", "11", "12"}),
        ("space.title = 'operations'", {"10", "11", "12"}),
        ("space.title ~ demo", {"1", "2", "3", "4", "5", "7"}),
        ("type = blogpost", {"5"}),
        ("type in (attachment, blogpost)", {"5", "7"}),
        ("type not in (page)", {"5", "7"}),
        ("label = policy", {"2"}),
        ("label in (hr, engineering)", {"2", "3"}),
        ("label = 'release-notes' and label != runbook", {"11"}),
        ("space = DEMO and label not in (hr, home)", {"3", "4", "5", "7"}),
        ("ancestor = 1", {"2", "3", "4"}),
        ("ancestor = 2", {"4"}),
        ("parent = 1", {"2", "3"}),
        ("parent in (1, 2) and ancestor != 2", {"2", "3"}),
        ("container = 3 and type = attachment", {"7"}),
        ("id = 2", {"2"}),
        ("content in (1, 3, 999)", {"1", "3"}),
        ("id != 1 and space = DEMO and type = page", {"2", "3", "4"}),
        ("title = 'leave POLICY'", {"2"}),
        ('title = "\\"Leave policy\\""', {"2"}),
        ('title = "Title with \\"quotes\\" and \\\\ backslash"', {"12"}),
        ("title in ('Home', 'Release notes 2.1')", {"1", "11"}),
        ("creator = carol", {"10", "11", "12"}),
        ("contributor = bob", {"2", "3"}),
        ("status = trashed", {"6"}),
        ("status in (current, trashed) and title ~ leave", {"2", "4", "6"}),
    ],
)
def test_structured_fields(engine: SearchEngine, cql: str, expected: set[str]) -> None:
    assert id_set(engine, cql) == expected


def test_current_user_function(engine: SearchEngine) -> None:
    assert id_set(engine, "creator = currentUser()", user="bob") == {"3"}
    assert id_set(engine, "contributor = currentUser() and type = page", user="bob") == {"2", "3"}
    assert id_set(engine, "creator = currentUser()", user="") == set()


@pytest.mark.parametrize(
    ("cql", "expected"),
    [
        ('created > now("-7d")', {"4", "10", "11"}),
        ('created >= startOfDay("-1d")', {"11"}),
        ('lastmodified > now("-3d")', {"2", "4", "11"}),  # 10 was edited exactly 3 days ago
        ("created < 2026-01-01", {"1", "12"}),
        ("created = '2026-03-15'", {"10"}),
        ("created != '2026-03-15' and space = OPS", {"11", "12"}),
        ("created >= '2026/03/17' and created <= '2026/03/17'", {"11"}),
        ("created > '2026/03/16'", {"11"}),
        ("created > '2026/03/17 15:29' and created < '2026/03/17 15:31'", {"11"}),
        ("lastmodified >= startOfWeek() and type = page", {"2", "4", "11"}),  # weeks start on Monday
        ("lastmodified < startOfYear()", {"1", "12"}),
        ('created >= startOfMonth("-1M") and created < startOfMonth()', {"3", "5", "7"}),
    ],
)
def test_dates_and_functions(engine: SearchEngine, cql: str, expected: set[str]) -> None:
    assert id_set(engine, cql) == expected


def test_and_or_evaluate_left_to_right_and_not_binds_tightest(engine: SearchEngine) -> None:
    # No precedence between AND and OR: this is (label = hr OR space = OPS) AND creator = nobody.
    assert id_set(engine, "label = hr OR space = OPS AND creator = nobody") == set()
    assert id_set(engine, "label = hr OR (space = OPS AND creator = nobody)") == {"2"}
    assert id_set(engine, "space = DEMO AND NOT type = page") == {"5", "7"}
    assert id_set(engine, "NOT space = DEMO and not label = runbook") == {"11", "12"}
    assert id_set(engine, "NOT (space = DEMO OR label = runbook)") == {"11", "12"}


def test_default_order_is_last_modified_newest_first(engine: SearchEngine) -> None:
    assert ids(engine, "space = DEMO") == ["4", "2", "5", "7", "3", "1"]


@pytest.mark.parametrize(
    ("cql", "expected"),
    [
        ("space = OPS order by title", ["11", "10", "12"]),
        ("space = OPS order by title desc", ["12", "10", "11"]),
        ("space = OPS order by created", ["12", "10", "11"]),
        ("type = page and ancestor = 1 order by created desc", ["4", "3", "2"]),
        ("id in (1, 2, 10, 11) order by id desc", ["11", "10", "2", "1"]),
        ("id in (1, 10, 11, 2) order by space desc, title asc", ["11", "10", "1", "2"]),
        ("text ~ leave order by title", ["2", "4", "5"]),
    ],
)
def test_order_by(engine: SearchEngine, cql: str, expected: list[str]) -> None:
    assert ids(engine, cql) == expected


@pytest.mark.parametrize(
    ("cql", "expected"),
    [
        ("text ~ leaves", {"2", "4", "5"}),  # stemming: leaves/leave/leaving
        ("title ~ leave", {"2", "4"}),
        ("text ~ 'parental leave'", {"2"}),
        ("text ~ 'dolly hello'", {"10"}),
        ('text ~ "\\"hello dolly\\""', {"10"}),
        ('text ~ "\\"dolly hello\\""', set()),
        ("text ~ engineering", {"3"}),  # text covers labels
        ("title ~ engineering", set()),
        ("title ~ 'leav*'", {"2", "4"}),
        ("text ~ 'rev?ew'", {"3", "5"}),  # expands to the term "review", which "reviewed" shares
        ("text ~ 'laptop OR revenue'", {"4", "5"}),
        ("text ~ 'review -quickly'", {"5"}),
        ("text ~ 'review NOT quickly'", {"5"}),
        ("space = DEMO and text !~ leave", {"1", "3", "7"}),
        ('text ~ "e\\\\-mail"', {"10"}),
        ('title ~ "Runbook\\\\: e\\\\-mail"', {"10"}),
        ('text ~ "\\\\(installer\\\\)"', {"11"}),
        ("text ~ 'the'", set()),  # stopwords only: nothing to search for
        ("text ~ 'REVIEWED'", {"3", "5"}),
        ("siteSearch ~ 'laptop zzzunknown'", {"4"}),
        ("text ~ 'laptop zzzunknown'", set()),
    ],
)
def test_text_search(engine: SearchEngine, cql: str, expected: set[str]) -> None:
    assert id_set(engine, cql) == expected


def test_negated_text_is_the_complement(engine: SearchEngine) -> None:
    everything = id_set(engine, "space in (DEMO, OPS)")
    assert id_set(engine, "space in (DEMO, OPS) and text !~ 'the'") == everything
    assert id_set(engine, "space in (DEMO, OPS) and not text ~ leave") == everything - {"2", "4", "5"}


def test_relevance_prefers_title_and_frequency(engine: SearchEngine) -> None:
    hits = engine.search("text ~ leave", now=NOW)
    assert hits[0].doc.id == "2"
    assert all(hit.score > 0 for hit in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert engine.search("space = DEMO", now=NOW)[0].score == 0.0


def test_function_on_a_plain_field_is_refused(engine: SearchEngine) -> None:
    with pytest.raises(CqlError):
        engine.search("label = currentUser()")
    with pytest.raises(CqlError):
        engine.search("created > soon")
    with pytest.raises(CqlError):
        engine.search("space = DEMO AND (")


def test_upsert_and_remove_are_incremental() -> None:
    engine = SearchEngine()
    for item in CORPUS:
        engine.upsert(item)
    assert id_set(engine, "text ~ sabbatical") == set()
    engine.upsert(replace(CORPUS[2], text="Sabbatical rules replaced the review guide.", labels=("sabbatical",)))
    assert id_set(engine, "text ~ sabbatical") == {"3"}
    assert id_set(engine, "text ~ quickly") == set()
    assert id_set(engine, "label = engineering") == set()
    engine.upsert(replace(CORPUS[1], title="Time off"))  # title-only change is reindexed too
    assert id_set(engine, "title ~ leave") == {"4"}
    assert id_set(engine, "title ~ 'time off'") == {"2"}
    engine.remove("3")
    engine.remove("does-not-exist")
    assert id_set(engine, "text ~ sabbatical") == set()
    assert "3" not in id_set(engine, "space = DEMO")
    assert len(engine) == len(CORPUS) - 1


def test_excerpt_highlights_the_best_window(engine: SearchEngine) -> None:
    text = engine.excerpt("2", "text ~ 'parental leave'")
    assert "@@@hl@@@Parental@@@endhl@@@ @@@hl@@@leave@@@endhl@@@" in text
    plain = engine.excerpt("2", "text ~ 'parental leave'", highlight=False)
    assert "@@@" not in plain and "Parental leave" in plain


def test_excerpt_window_and_fallbacks(engine: SearchEngine) -> None:
    long_text = ("Filler words about nothing. " * 40) + "The sabbatical policy is generous. " + ("More filler. " * 40)
    local = SearchEngine()
    local.upsert(doc("50", "Long", long_text))
    excerpt = local.excerpt("50", "text ~ sabbatical", max_chars=80)
    assert "@@@hl@@@sabbatical@@@endhl@@@" in excerpt
    assert len(excerpt.replace("@@@hl@@@", "").replace("@@@endhl@@@", "")) <= 80
    assert not excerpt.startswith("Filler words about nothing. Filler words about nothing. Filler words about")
    # No text clause: the beginning of the text.
    assert local.excerpt("50", "space = DEMO", max_chars=40).startswith("Filler words")
    # Terms under NOT are not highlighted; unknown ids give an empty excerpt.
    assert "@@@" not in engine.excerpt("2", "space = DEMO and not text ~ leave")
    assert engine.excerpt("nope", "text ~ leave") == ""
    assert "@@@hl@@@leaving@@@endhl@@@" in engine.excerpt("4", "title ~ 'leav*'")
