"""The CQL builder never lets a value change the query's structure."""

import pytest

from confluence_mcp.confluence import cql


def test_quote_escapes_backslash_then_quote() -> None:
    assert cql.quote('a "b" \\c') == '"a \\"b\\" \\\\c"'


def test_quote_folds_control_characters() -> None:
    assert cql.quote("a\nb\tc") == '"a b c"'


@pytest.mark.parametrize(
    "value",
    ['foo" OR space = "HR', 'x\\" OR type = "blogpost', "and", "order by title", "(a) OR (b)"],
)
def test_text_value_cannot_break_out(value: str) -> None:
    literal = cql.text_value(value)
    assert literal.startswith('"') and literal.endswith('"')
    inner = literal[1:-1]
    assert '"' not in inner.replace('\\"', "")
    assert " OR " not in inner and " AND " not in inner


def test_clause_rejects_bad_field_and_operator() -> None:
    with pytest.raises(ValueError):
        cql.clause("title OR 1", "=", "x")
    with pytest.raises(ValueError):
        cql.clause("title", "== ", "x")


def test_scoped_puts_spaces_outside_the_query() -> None:
    query = cql.clause("title", "~", 'x" OR space = "SECRET')
    scoped = cql.scoped(query, ["DOCS", "ENG"])
    assert scoped.endswith('(space IN ("DOCS", "ENG"))')
    assert scoped.startswith("(title ~ ")
    assert '(type = "page")' in scoped


def test_scoped_order_by_is_validated() -> None:
    assert cql.scoped(None, ["A"], order_by="lastmodified desc").endswith("ORDER BY lastmodified desc")
    with pytest.raises(ValueError):
        cql.scoped(None, ["A"], order_by="title; DROP")


def test_in_requires_values() -> None:
    with pytest.raises(ValueError):
        cql.in_("space", [])
    assert cql.in_("label", ["a-b"], negate=True) == 'label NOT IN ("a-b")'


@pytest.mark.parametrize("user", [
    'space = "PRIVATE") OR (space = "PRIVATE"',  # closes the wrapper's group: the scope lands in one branch
    "type = page) OR NOT (id = 1",
    'title ~ "unterminated',  # the scope's own quotes would pair with this one
    "title = 'a\\'",
    "(space = PRIVATE",
    "space = PRIVATE)",
])
def test_user_cql_cannot_regroup_the_scope(user: str) -> None:
    """index_data(cql=...) wraps the user's CQL in parentheses and ANDs the allowed spaces after it. That holds
    only if the user's text is one group of its own: unbalanced parentheses or quotes are refused, so the
    confinement never depends on how the site orders AND and OR."""
    from confluence_mcp.errors import BadRequest
    from confluence_mcp.index.sync import Selection

    with pytest.raises(BadRequest, match=r"parenthes|quote"):
        Selection(cql=user, allowed_spaces=["DEMO"]).query()


@pytest.mark.parametrize("user", ['title ~ "a) OR (b"', "(label = x) OR (label = 'y(')", 'title = "say \\"hi\\" ("',
                                  "label = x ORDER BY title"])
def test_balanced_user_cql_is_kept(user: str) -> None:
    from confluence_mcp.index.sync import Selection

    query = Selection(cql=user, allowed_spaces=["DEMO"]).query()
    assert query.endswith('(space IN ("DEMO"))') and "ORDER BY" not in query
