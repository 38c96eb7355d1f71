"""CQL over HTTP: `/content/search` and `/search` in both flavours, on a fresh demo sandbox per module.

The CQL engine's own semantics are tested next to it; here every query goes through the REST surface:
envelopes, pagination (cursor on Cloud, start on Server), caps, excerpts, errors and permissions.
"""

from __future__ import annotations

import html
from collections.abc import Iterator

import httpx
import pytest
from sandbox_helpers import message, page_id

from confluence_mcp.sandbox.runner import RunningSandbox, SandboxOptions, start_sandbox

DEMO_PAGES = {"Demo Home", "Getting Started", "Installation Guide", "Troubleshooting", "Configuration",
              "Architecture Overview", "Components", "Team Directory", "Release Notes"}


@pytest.fixture(scope="module", params=["cloud", "server"])
def search_sandbox(request: pytest.FixtureRequest) -> Iterator[RunningSandbox]:
    options = SandboxOptions(flavor=request.param, hidden_spaces=("PRIVATE",))
    with start_sandbox(options) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def http(search_sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=search_sandbox.base_url, auth=search_sandbox.auth, timeout=10) as client:
        yield client


def titles(http: httpx.Client, cql: str, **params: str) -> list[str]:
    response = http.get("/rest/api/content/search", params={"cql": cql, "limit": "100", **params})
    assert response.status_code == 200, response.text
    return [r["title"] for r in response.json()["results"]]


# (cql, expected titles); sets compare unordered, lists compare in order.
QUERIES: list[tuple[str, set[str] | list[str]]] = [
    ("space = DEMO and type = page", DEMO_PAGES),
    ('space = "DEMO" and type = page', DEMO_PAGES),
    ("space in (DEMO, ARCHIVE) and type = page", DEMO_PAGES | {"Old Roadmap"}),
    ("space = ARCHIVE", {"Old Roadmap"}),
    ("space = PRIVATE", set()),  # hidden space: nothing, not an error
    ("space != DEMO and type = page", {"Old Roadmap"}),
    ("type = blogpost", {"Welcome to the sandbox"}),
    ("type in (blogpost, attachment)", {"Welcome to the sandbox", "sandbox-logo.png", "architecture.png",
                                        "install-notes.txt"}),
    ("type = attachment and space = DEMO", {"sandbox-logo.png", "architecture.png", "install-notes.txt"}),
    ('title = "Demo Home"', {"Demo Home"}),
    ("title = 'Demo Home'", {"Demo Home"}),
    ('title ~ "Architecture" and type = page', {"Architecture Overview"}),
    ('title in ("Components", "Configuration")', {"Components", "Configuration"}),
    ('title !~ "guide" and label = onboarding', {"Getting Started"}),
    ("label = onboarding", {"Getting Started", "Installation Guide"}),
    ("label in (team, troubleshooting)", {"Team Directory", "Troubleshooting"}),
    ("label = guide and label = configuration", {"Configuration"}),
    ("label = guide and not label = configuration", {"Getting Started"}),
    ('label = "release-notes"', {"Release Notes"}),
    ("label not in (onboarding, guide, demo, architecture, design) and space = DEMO and type = page",
     {"Troubleshooting", "Team Directory", "Release Notes"}),
    ('text ~ "pip install"', {"Installation Guide"}),
    ('text ~ "\\"never commit\\""', {"Installation Guide"}),
    ('text ~ "PowerShell"', {"Installation Guide"}),
    ('text ~ "Postgres" and type = page', {"Architecture Overview"}),
    ('siteSearch ~ "roadmap"', {"Old Roadmap"}),
    ('text ~ "confidential"', set()),  # only in the hidden space
    ("text ~ zzzzunlikelyzzzz", set()),
    ("label = onboarding or label = team", {"Getting Started", "Installation Guide", "Team Directory"}),
    ("(label = onboarding or label = team) and title ~ guide", {"Installation Guide"}),
    ("label = team or (label = onboarding and title ~ guide)", {"Team Directory", "Installation Guide"}),
    ('title = "Components" order by title', ["Components"]),
    ("label in (onboarding, team) order by title asc", ["Getting Started", "Installation Guide",
                                                        "Team Directory"]),
    ("label in (onboarding, team) order by title desc", ["Team Directory", "Installation Guide",
                                                         "Getting Started"]),
    ("space = DEMO and type = page and created >= now(\"-100d\")", DEMO_PAGES),
    ('created < "2000/01/01"', set()),
    ('lastmodified > "2000-01-01" and label = install', {"Installation Guide"}),
    ("type = page and space = DEMO and lastmodified < startOfYear(\"+5y\")", DEMO_PAGES),
]


@pytest.mark.parametrize(("cql", "expected"), QUERIES, ids=[q for q, _ in QUERIES])
def test_cql_queries(http: httpx.Client, cql: str, expected: set[str] | list[str]) -> None:
    found = titles(http, cql)
    if isinstance(expected, list):
        assert found == expected
    else:
        assert set(found) == expected


def test_structural_queries(http: httpx.Client) -> None:
    home, getting = page_id(http, "Demo Home"), page_id(http, "Getting Started")
    assert set(titles(http, f"ancestor = {home} and type = page")) == DEMO_PAGES - {"Demo Home"}
    assert set(titles(http, f"parent = {getting}")) == {"Installation Guide", "Configuration"}
    assert titles(http, f"id = {home}") == ["Demo Home"]
    assert titles(http, f"content = {home}") == ["Demo Home"]
    assert set(titles(http, f"ancestor = {getting} and type = page")) == {
        "Installation Guide", "Configuration", "Troubleshooting"}
    assert set(titles(http, f"container = {page_id(http, 'Installation Guide')}")) == {"install-notes.txt"}


def test_listings_carry_labels_and_attachment_containers(http: httpx.Client) -> None:
    """What incremental indexing lists: page labels from both search APIs (and the space key without expanding
    the space), attachments of a space with their version and container page."""
    install = page_id(http, "Installation Guide")
    listed = http.get("/rest/api/content/search", params={"cql": f"id = {install}",
                                                          "expand": "version,metadata.labels"}).json()["results"]
    assert sorted(label["name"] for label in listed[0]["metadata"]["labels"]["results"]) == ["install", "onboarding"]
    assert listed[0]["_expandable"]["space"].endswith("/space/DEMO") and "space" not in listed[0]
    found = http.get("/rest/api/search", params={"cql": f"id = {install}",
                                                 "expand": "content.metadata.labels"}).json()["results"]
    assert {label["name"] for label in found[0]["content"]["metadata"]["labels"]["results"]} == {"install",
                                                                                                  "onboarding"}
    attachments = http.get("/rest/api/content/search", params={
        "cql": '(space IN ("DEMO")) AND type = "attachment" AND space IN ("DEMO", "ARCHIVE")',
        "expand": "version,container"}).json()["results"]
    by_title = {item["title"]: item for item in attachments}
    assert set(by_title) == {"sandbox-logo.png", "architecture.png", "install-notes.txt"}
    notes = by_title["install-notes.txt"]
    assert (notes["type"], notes["container"]["id"], notes["version"]["number"]) == ("attachment", install, 1)


def test_user_queries(http: httpx.Client, search_sandbox: RunningSandbox) -> None:
    bob = "557058:bob-0003" if search_sandbox.options.flavor == "cloud" else "bob"
    assert set(titles(http, f'creator = "{bob}"')) == {"Troubleshooting", "Architecture Overview"}
    assert "Troubleshooting" not in titles(http, "creator = currentUser() and type = page")
    assert "Demo Home" in titles(http, "contributor = currentUser()")


@pytest.mark.parametrize("bad", [
    "space = ", "title ~", "(label = a", "label = a)", "space = DEMO and", "nosuchfield = 1",
    "space == DEMO", "title = \"unterminated", "space = DEMO order by", "and space = DEMO",
    "space = DEMO label = x", "space in DEMO",
])
def test_invalid_cql_is_400(http: httpx.Client, search_sandbox: RunningSandbox, bad: str) -> None:
    for path in ("/rest/api/content/search", "/rest/api/search"):
        response = http.get(path, params={"cql": bad})
        assert response.status_code == 400, (bad, response.text)
        assert f"Could not parse cql : {bad}" in message(response)
        if search_sandbox.options.flavor == "server":
            assert response.json()["reason"] == "Bad Request"


def test_reserved_words_and_escaping(http: httpx.Client) -> None:
    title = 'Quote "and" back\\slash'
    escaped = title.replace("\\", "\\\\").replace('"', '\\"')
    created = http.post("/rest/api/content", json={
        "type": "page", "title": title, "space": {"key": "DEMO"},
        "body": {"storage": {"value": "<p>order by and or not in</p>", "representation": "storage"}}})
    assert created.status_code == 200
    assert titles(http, f'title = "{escaped}"') == [title]
    assert http.get("/rest/api/content/search", params={"cql": "label = and"}).status_code == 400
    assert titles(http, 'label = "and"') == []
    http.delete(f"/rest/api/content/{created.json()['id']}")


def walk(http: httpx.Client, path: str, params: dict[str, str]) -> tuple[list[str], list[dict]]:
    seen: list[str] = []
    envelopes = []
    response = http.get(path, params=params)
    while True:
        assert response.status_code == 200, response.text
        data = response.json()
        envelopes.append(data)
        seen += [r.get("title") or r["content"]["title"] for r in data["results"]]
        next_link = data["_links"].get("next")
        if not next_link:
            return seen, envelopes
        response = http.get(data["_links"]["base"] + next_link)


def test_pagination_walk(http: httpx.Client, search_sandbox: RunningSandbox) -> None:
    cql = "space = DEMO order by title"
    everything = titles(http, cql)
    for path in ("/rest/api/content/search", "/rest/api/search"):
        seen, envelopes = walk(http, path, {"cql": cql, "limit": "4"})
        assert seen == everything and len(envelopes) == -(-len(everything) // 4)
        first_next = envelopes[0]["_links"]["next"]
        if search_sandbox.options.flavor == "cloud":
            assert "cursor=" in first_next and "start=" not in first_next
        else:
            assert "start=4" in first_next
        assert all(e["size"] == len(e["results"]) for e in envelopes)


def test_search_wrappers_and_excerpts(http: httpx.Client, search_sandbox: RunningSandbox) -> None:
    data = http.get("/rest/api/search", params={"cql": 'text ~ "pip" and type = page'}).json()
    assert {"results", "start", "limit", "size", "totalSize", "cqlQuery", "searchDuration", "_links"} <= data.keys()
    assert data["cqlQuery"] == 'text ~ "pip" and type = page' and data["totalSize"] == 1
    hit = data["results"][0]
    assert "@@@hl@@@pip@@@endhl@@@" in hit["excerpt"].lower()
    assert hit["content"]["title"] == "Installation Guide" and hit["entityType"] == "content"
    assert hit["url"] == hit["content"]["_links"]["webui"] and hit["lastModified"]
    assert hit["resultGlobalContainer"]["title"] == "Demo Space"
    plain = http.get("/rest/api/search", params={"cql": 'text ~ "pip"', "excerpt": "indexed"}).json()
    assert "@@@hl@@@" not in plain["results"][0]["excerpt"] and "pip" in plain["results"][0]["excerpt"]
    none = http.get("/rest/api/search", params={"cql": 'text ~ "pip"', "excerpt": "none"}).json()
    assert none["results"][0]["excerpt"] == ""


def test_search_excerpts_are_html_escaped_unless_asked_unescaped(http: httpx.Client) -> None:
    # Confluence encodes `highlight` and `indexed` excerpts as HTML; the `*_unescaped` strategies return the text.
    params = {"cql": 'text ~ "httpx" and type = page'}  # Troubleshooting: print(httpx.get("http://..."))
    escaped = http.get("/rest/api/search", params=params).json()["results"][0]["excerpt"]
    raw = http.get("/rest/api/search", params={**params, "excerpt": "highlight_unescaped"}).json()
    indexed = http.get("/rest/api/search", params={**params, "excerpt": "indexed"}).json()
    assert '"http' in raw["results"][0]["excerpt"] and "&quot;http" in escaped
    assert escaped == html.escape(raw["results"][0]["excerpt"])
    assert indexed["results"][0]["excerpt"] == html.escape(
        http.get("/rest/api/search", params={**params, "excerpt": "indexed_unescaped"}).json()["results"][0]["excerpt"])


def test_search_caps(http: httpx.Client, search_sandbox: RunningSandbox) -> None:
    params = {"cql": "space = DEMO and type = page", "limit": "5000"}
    bare = http.get("/rest/api/content/search", params=params).json()["limit"]
    with_body = http.get("/rest/api/content/search", params={**params, "expand": "body.storage"}).json()
    other = http.get("/rest/api/content/search", params={**params, "expand": "version"}).json()["limit"]
    assert with_body["limit"] == 50 and "storage" in with_body["results"][0]["body"]
    if search_sandbox.options.flavor == "server":
        assert (bare, other) == (1000, 200)
    else:
        assert bare == other == 250


def test_search_sees_writes(http: httpx.Client) -> None:
    created = http.post("/rest/api/content", json={
        "type": "page", "title": "Quokka facts", "space": {"key": "DEMO"},
        "body": {"storage": {"value": "<p>The quokka is a small marsupial.</p>", "representation": "storage"}}})
    cid = created.json()["id"]
    assert titles(http, 'text ~ "marsupial"') == ["Quokka facts"]
    http.put(f"/rest/api/content/{cid}", json={
        "type": "page", "title": "Quokka facts", "version": {"number": 2},
        "body": {"storage": {"value": "<p>Now about wombats.</p>", "representation": "storage"}}})
    assert titles(http, 'text ~ "marsupial"') == [] and titles(http, "text ~ wombats") == ["Quokka facts"]
    http.delete(f"/rest/api/content/{cid}")
    assert titles(http, "text ~ wombats") == []


def test_missing_cql_is_400(http: httpx.Client) -> None:
    assert http.get("/rest/api/content/search").status_code == 400
