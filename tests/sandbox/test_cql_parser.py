"""The sandbox's CQL grammar: what parses into which tree, and what is refused with CqlError."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from confluence_mcp.confluence.cql import clause, in_, scoped, text_clause
from confluence_mcp.sandbox.cql import And, Clause, CqlError, FunctionCall, Not, Or, OrderKey, parse_cql
from confluence_mcp.sandbox.cql_dates import resolve_date

NOW = datetime(2026, 3, 18, 15, 30, tzinfo=UTC)  # a Wednesday


def where(cql: str) -> object:
    return parse_cql(cql).where


@pytest.mark.parametrize(
    ("cql", "expected"),
    [
        ("space = DEMO", Clause("space", "=", ("DEMO",))),
        ("space.key = DEMO", Clause("space", "=", ("DEMO",))),
        ("SPACE = 'DEMO'", Clause("space", "=", ("DEMO",))),
        ('content = 123', Clause("id", "=", ("123",))),
        ('title = "Leave \\"policy\\""', Clause("title", "=", ('Leave "policy"',))),
        ("title = 'it\\'s'", Clause("title", "=", ("it's",))),
        ('title = "back\\\\slash"', Clause("title", "=", ("back\\slash",))),
        ('text ~ "\\"hello dolly\\""', Clause("text", "~", ('"hello dolly"',))),
        ('text ~ "a\\\\+b"', Clause("text", "~", ("a\\+b",))),  # Lucene escape survives for the text parser
        ("label = release-notes", Clause("label", "=", ("release-notes",))),
        ('label = "and"', Clause("label", "=", ("and",))),
        ("label in (a, 'b', \"c d\")", Clause("label", "in", ("a", "b", "c d"))),
        ("label NOT IN (x)", Clause("label", "not in", ("x",))),
        ("type != page", Clause("type", "!=", ("page",))),
        ("title !~ draft", Clause("title", "!~", ("draft",))),
        ("siteSearch ~ 'vacation days'", Clause("sitesearch", "~", ("vacation days",))),
        ("space.title ~ handbook", Clause("space.title", "~", ("handbook",))),
        ("creator = currentUser()", Clause("creator", "=", (FunctionCall("currentUser"),))),
        ('created > now("-4w")', Clause("created", ">", (FunctionCall("now", ("-4w",)),))),
        ("lastmodified >= startOfMonth()", Clause("lastmodified", ">=", (FunctionCall("startOfMonth"),))),
        ('created <= "2024/01/31 13:45"', Clause("created", "<=", ("2024/01/31 13:45",))),
        ("created < 2024-01-31", Clause("created", "<", ("2024-01-31",))),
        ("ancestor = 42 and parent != 7", And((Clause("ancestor", "=", ("42",)), Clause("parent", "!=", ("7",))))),
        ("container = 9", Clause("container", "=", ("9",))),
        ("contributor in (alice, bob)", Clause("contributor", "in", ("alice", "bob"))),
    ],
)
def test_clauses_parse_to_canonical_fields_and_unescaped_values(cql: str, expected: object) -> None:
    assert where(cql) == expected


def test_not_binds_tighter_than_and_which_binds_tighter_than_or() -> None:
    a, b, c = (Clause("label", "=", (x,)) for x in "abc")
    # Left to right, no precedence (Confluence's rule): a OR b AND c = (a OR b) AND c.
    assert where("label = a OR label = b AND label = c") == And((Or((a, b)), c))
    assert where("label = a OR label = b OR label = c") == Or((a, b, c))
    assert where("label = a AND label = b OR label = c") == Or((And((a, b)), c))
    assert where("NOT label = a AND label = b") == And((Not(a), b))
    assert where("label = a and not label = b or label = c") == Or((And((a, Not(b))), c))


def test_parentheses_override_precedence() -> None:
    a, b, c = (Clause("label", "=", (x,)) for x in "abc")
    assert where("(label = a OR label = b) AND label = c") == And((Or((a, b)), c))
    assert where("NOT (label = a OR label = b)") == Not(Or((a, b)))
    assert where("((label = a))") == a


def test_keywords_are_case_insensitive() -> None:
    assert parse_cql("label = a aNd label = b Or NOT label = c order BY title DESC") == parse_cql(
        "label = a AND label = b OR NOT label = c ORDER BY title desc"
    )


def test_order_by_keys_and_directions() -> None:
    query = parse_cql("space = DEMO order by lastmodified desc, title, created ASC")
    assert query.order_by == (OrderKey("lastmodified", True), OrderKey("title", False), OrderKey("created", False))


def test_queries_built_by_the_client_cql_builder_parse() -> None:
    built = [
        scoped(text_clause("text", 'leave "policy" (2024) + AND*'), ["BENEFITS", "DEMO"], order_by="lastmodified desc"),
        clause("title", "=", 'Quote " and \\ backslash'),
        in_("label", ["a-b", "order"], negate=True),
        scoped(None, ["DEMO"], content_type=None),
    ]
    for cql in built:
        assert parse_cql(cql).where is not None


@pytest.mark.parametrize(
    ("cql", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("space = ", "syntax"),
        ("space DEMO", "syntax"),
        ("= DEMO", "syntax"),
        ("space = DEMO AND", "syntax"),
        ("space = DEMO OR OR label = x", "syntax"),
        ("(space = DEMO", "syntax"),
        ("space = DEMO)", "syntax"),
        ('title = "unterminated', "syntax"),
        ("label in ()", "syntax"),
        ("label in a, b", "syntax"),
        ("space = DEMO ORDER BY", "syntax"),
        ("space = DEMO ORDER title", "syntax"),
        ("space == DEMO", "syntax"),
        ("label = and", "reserved"),
        ("label = ORDER", "reserved"),
        ("label in (a, null)", "reserved"),
        ("title = my.page", "syntax"),  # '.' is reserved: the value must be quoted
        ("label = a+b", "syntax"),
        ("nosuchfield = 1", "unknown field"),
        ("text = hello", "not supported"),
        ("space ~ DEMO", "not supported"),
        ("label > a", "not supported"),
        ("created ~ yesterday", "not supported"),
        ("siteSearch !~ x", "not supported"),
        ("space = DEMO order by label", "ORDER BY"),
        ("ORDER BY title", "syntax"),
    ],
)
def test_invalid_cql_raises_cql_error(cql: str, reason: str) -> None:
    with pytest.raises(CqlError) as caught:
        parse_cql(cql)
    message = str(caught.value)
    assert message
    if reason != "syntax":
        assert reason.lower() in message.lower()


def test_a_bare_word_after_an_operator_is_a_value_even_if_it_names_a_field() -> None:
    assert where("space = space") == Clause("space", "=", ("space",))


def test_cql_error_is_a_value_error_with_a_short_reason() -> None:
    with pytest.raises(ValueError, match="unknown field 'bogus'"):
        parse_cql("bogus = 1")


@pytest.mark.parametrize(
    ("value", "start", "end"),
    [
        ("2024/01/31", datetime(2024, 1, 31, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC)),
        ("2024-01-31", datetime(2024, 1, 31, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC)),
        ("2024/01/31 13:45", datetime(2024, 1, 31, 13, 45, tzinfo=UTC), datetime(2024, 1, 31, 13, 46, tzinfo=UTC)),
        ("2024-01-31 13:45", datetime(2024, 1, 31, 13, 45, tzinfo=UTC), datetime(2024, 1, 31, 13, 46, tzinfo=UTC)),
    ],
)
def test_date_literals_cover_their_precision(value: str, start: datetime, end: datetime) -> None:
    assert resolve_date(value, NOW) == (start, end)


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (FunctionCall("now"), NOW),
        (FunctionCall("now", ("-4w",)), datetime(2026, 2, 18, 15, 30, tzinfo=UTC)),
        (FunctionCall("now", ("+1d -2h",)), datetime(2026, 3, 19, 13, 30, tzinfo=UTC)),
        (FunctionCall("now", ("30m",)), datetime(2026, 3, 18, 16, 0, tzinfo=UTC)),
        (FunctionCall("startOfDay"), datetime(2026, 3, 18, tzinfo=UTC)),
        (FunctionCall("startOfDay", ("-7d",)), datetime(2026, 3, 11, tzinfo=UTC)),
        (FunctionCall("startOfWeek"), datetime(2026, 3, 16, tzinfo=UTC)),
        (FunctionCall("startOfMonth", ("-1M",)), datetime(2026, 2, 1, tzinfo=UTC)),
        (FunctionCall("startOfYear"), datetime(2026, 1, 1, tzinfo=UTC)),
        (FunctionCall("startofyear", ("-1y",)), datetime(2025, 1, 1, tzinfo=UTC)),
        (FunctionCall("endOfDay"), datetime(2026, 3, 18, 23, 59, 59, 999999, tzinfo=UTC)),
        # End of this month, then one month back (clamped to February's last day).
        (FunctionCall("endOfMonth", ("-1M",)), datetime(2026, 2, 28, 23, 59, 59, 999999, tzinfo=UTC)),
    ],
)
def test_date_functions(call: FunctionCall, expected: datetime) -> None:
    start, end = resolve_date(call, NOW)
    assert start == expected
    assert end > start


@pytest.mark.parametrize("bad", [FunctionCall("now", ("-4x",)), FunctionCall("yesterday"), "31/01/2024", "soon"])
def test_bad_dates_raise(bad: FunctionCall | str) -> None:
    with pytest.raises(CqlError):
        resolve_date(bad, NOW)
