"""The request checker (spec_requests.py) itself: each kind of deviation is reported under its key, so a clean
run of test_client_requests_match_spec.py means the requests conform, not that the checker saw nothing."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sandbox"))

from openapi_helpers import needs_specs
from spec_requests import problems

pytestmark = needs_specs
SEARCH, ATTACH = "GET /wiki/rest/api/search", "POST /wiki/rest/api/content/{id}/child/attachment"
MULTIPART = "multipart/form-data; boundary=x"


def entry(method: str, path: str, query: Sequence[tuple[str, str]] = (), content_type: str = "",
          **body: Any) -> dict[str, Any]:
    """A request as the sandbox's request log records it."""
    return {"method": method, "path": path, "query": [list(pair) for pair in query], "content_type": content_type,
            **body}


CASES = [
    (entry("GET", "/wiki/rest/api/nowhere"), {"GET /wiki/rest/api/nowhere operation:"}),
    (entry("GET", "/wiki/rest/api/search", [("cql", "x"), ("excerpt", "loud"), ("limit", "ten"), ("bogus", "1")]),
     {f"{SEARCH} query:excerpt", f"{SEARCH} query:limit", f"{SEARCH} query:bogus"}),
    (entry("GET", "/wiki/rest/api/search", [("limit", "5")]), {f"{SEARCH} query:cql"}),
    (entry("GET", "/wiki/rest/api/content", [("title", "a"), ("title", "b")]),
     {"GET /wiki/rest/api/content query:title"}),
    (entry("GET", "/wiki/api/v2/pages/abc"), {"GET /pages/{id} path:{id}"}),
    (entry("POST", "/wiki/rest/api/content", content_type="application/json", json={"title": 5}),
     {"POST /wiki/rest/api/content body:/title type", "POST /wiki/rest/api/content body:/ required"}),
    (entry("DELETE", "/wiki/rest/api/content/1", content_type="application/json", json={}),
     {"DELETE /wiki/rest/api/content/{id} body:json"}),
    (entry("POST", "/wiki/rest/api/content", content_type=MULTIPART, form=["file"]),
     {"POST /wiki/rest/api/content body:multipart"}),
    (entry("POST", "/wiki/rest/api/content/1/child/attachment", content_type=MULTIPART, form=["file", "extra"]),
     {f"{ATTACH} form:minorEdit", f"{ATTACH} form:extra"}),
    (entry("POST", "/wiki/rest/api/content", content_type="application/json", json_error="not valid JSON"),
     {"POST /wiki/rest/api/content body:unreadable"}),
    # v2 write bodies (their oneOf tightened so it can hold): a misspelt field or a foreign format is caught.
    (entry("PUT", "/wiki/api/v2/pages/1", content_type="application/json", json={
        "id": "1", "status": "current", "title": "t", "version": {"number": 2},
        "body": {"representation": "storage", "valu": "<p/>"}}), {"PUT /pages/{id} body:/body oneOf"}),
    (entry("POST", "/wiki/api/v2/pages", content_type="application/json", json={
        "spaceId": "1", "body": {"markdown": {"representation": "storage", "value": "x"}}}),
     {"POST /pages body:/body oneOf"}),
    (entry("POST", "/wiki/api/v2/pages", content_type="application/json", json={
        "spaceId": "1", "body": {"storage": {"representation": "storage", "value": "x"}}}), set()),
    # Conforming: repeated array parameters, free-text expand, comma-separated v2 arrays.
    (entry("GET", "/wiki/rest/api/space", [("spaceKey", "A"), ("spaceKey", "B"), ("expand", "any.thing")]), set()),
    (entry("GET", "/wiki/api/v2/pages", [("space-id", "1,2"), ("limit", "250"), ("body-format", "storage")]), set()),
    (entry("POST", "/wiki/rest/api/content/1/child/attachment", content_type=MULTIPART, form=["minorEdit", "file"]),
     set()),
]


@pytest.mark.parametrize(("request_entry", "expected"), CASES, ids=lambda value: str(value)[:60])
def test_each_kind_of_deviation_is_reported(request_entry: dict[str, Any], expected: set[str]) -> None:
    found = problems(request_entry)
    assert {problem.key for problem in found} == expected, [problem.message for problem in found]
