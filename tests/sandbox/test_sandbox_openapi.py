"""Validate the Cloud sandbox's JSON responses against Atlassian's OpenAPI documents (v1 and v2).

Each request is matched to the spec's path template; the documented schema of its status code is
checked with jsonschema ($refs resolved inside the document; OpenAPI 3.0 `nullable` translated).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import jsonschema
import pytest
from openapi_helpers import SPECS, needs_specs, path_template, pointer, spec
from sandbox_helpers import page_id

from confluence_mcp.sandbox.runner import RunningSandbox, SandboxOptions, start_sandbox

pytestmark = needs_specs
XSRF = {"X-Atlassian-Token": "no-check"}


def check(spec_name: str, prefix: str, response: httpx.Response) -> str:
    """Validate `response`; returns the matched template. Fails if the spec does not cover it."""
    doc = spec(spec_name)
    method = response.request.method.lower()
    path = prefix + response.request.url.path.split(prefix, 1)[1] if prefix in response.request.url.path \
        else response.request.url.path
    relative = path[len(prefix):] if spec_name.endswith("v2.openapi.json") else path
    template = path_template(doc, relative, method)
    assert template, f"{method.upper()} {relative} not in {spec_name}"
    responses = doc["paths"][template][method]["responses"]
    status = str(response.status_code)
    assert status in responses, f"{status} not documented for {method.upper()} {template}"
    content = responses[status].get("content", {}).get("application/json")
    if content and "schema" in content:
        root = {**doc, "$ref": pointer("paths", template, method, "responses", status, "content",
                                       "application/json", "schema")}
        jsonschema.Draft7Validator(root).validate(response.json())
    return template


@pytest.fixture(scope="module")
def cloud_site() -> Iterator[RunningSandbox]:
    with start_sandbox(SandboxOptions(flavor="cloud")) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def http(cloud_site: RunningSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=cloud_site.base_url, auth=cloud_site.auth, timeout=10) as client:
        yield client


def v1_requests(http: httpx.Client) -> list[httpx.Response]:
    home, install = page_id(http, "Demo Home"), page_id(http, "Installation Guide")
    full = "body.storage,body.view,ancestors,metadata.labels,children.page,children.attachment,history,space"
    created = http.post("/rest/api/content", json={
        "type": "page", "title": "Schema probe", "space": {"key": "DEMO"}, "ancestors": [{"id": home}],
        "body": {"storage": {"value": "<p>probe</p>", "representation": "storage"}}})
    probe = created.json()["id"]
    updated = http.put(f"/rest/api/content/{probe}", json={
        "type": "page", "title": "Schema probe", "version": {"number": 2},
        "body": {"storage": {"value": "<p>probe 2</p>", "representation": "storage"}}})
    upload = http.post(f"/rest/api/content/{probe}/child/attachment", headers=XSRF,
                       files={"file": ("probe.txt", b"probe", "text/plain")}, data={"minorEdit": "true"})
    att = upload.json()["results"][0]["id"]
    comment = http.post("/rest/api/content", json={
        "type": "comment", "container": {"id": probe, "type": "page"},
        "body": {"storage": {"value": "<p>a comment</p>", "representation": "storage"}}})
    return [
        comment,
        http.get(f"/rest/api/content/{probe}/child/comment",
                 params={"depth": "all", "expand": "body.storage,history,container"}),
        http.get("/rest/api/content/search", params={"cql": f"container = {probe} and type = comment",
                                                     "expand": "body.storage,history"}),
        http.get("/rest/api/content", params={"spaceKey": "DEMO", "expand": "version,space"}),
        http.get(f"/rest/api/content/{install}"),
        http.get(f"/rest/api/content/{install}", params={"expand": full}),
        http.get(f"/rest/api/content/{install}", params={"expand": "descendants.page,container,childTypes.all"}),
        created, updated, upload,
        http.post(f"/rest/api/content/{probe}/child/attachment/{att}/data", headers=XSRF,
                  files={"file": ("probe.txt", b"probe 2", "text/plain")}),
        http.put(f"/rest/api/content/{probe}/child/attachment", headers=XSRF,
                 files={"file": ("probe.txt", b"probe 3", "text/plain")}),
        http.get(f"/rest/api/content/{install}/child/attachment"),
        http.get(f"/rest/api/content/{home}/child", params={"expand": "page,attachment"}),
        http.get(f"/rest/api/content/{home}/child/page", params={"expand": "version"}),
        http.get(f"/rest/api/content/{home}/child/comment"),
        http.get(f"/rest/api/content/{home}/descendant"),
        http.get(f"/rest/api/content/{home}/descendant/page"),
        http.get(f"/rest/api/content/{probe}/history"),
        http.get(f"/rest/api/content/{install}/restriction/byOperation"),
        http.get(f"/rest/api/content/{install}/restriction/byOperation/read"),
        http.get(f"/rest/api/content/{install}/property"),
        http.get(f"/rest/api/content/{probe}/version"),
        http.get(f"/rest/api/content/{probe}/version/1"),
        http.get(f"/rest/api/content/{install}/label"),
        http.post(f"/rest/api/content/{probe}/label", json=[{"prefix": "global", "name": "probe"}]),
        http.delete(f"/rest/api/content/{probe}/label", params={"name": "probe"}),
        http.get("/rest/api/content/search", params={"cql": "space = DEMO", "limit": 3, "expand": "space"}),
        http.get("/rest/api/content/search", params={"cql": "space = DEMO and type = page", "limit": 3,
                                                     "expand": "version,metadata.labels"}),
        http.get("/rest/api/content/search", params={"cql": "space = DEMO and type = attachment",
                                                     "expand": "version,container"}),
        http.get("/rest/api/search", params={"cql": 'text ~ "install"', "limit": 5}),
        http.get("/rest/api/space", params={"expand": "description.plain,homepage"}),
        http.get("/rest/api/space/DEMO", params={"expand": "homepage"}),
        http.get("/rest/api/space/DEMO/content"),
        http.get("/rest/api/space/DEMO/content/page", params={"depth": "root"}),
        http.get("/rest/api/user/current"),
        http.get("/rest/api/user", params={"accountId": "557058:alice-0002"}),
        http.put(f"/rest/api/content/{probe}/move/append/{install}"),
        http.delete(f"/rest/api/content/{probe}"),
    ]


def test_v1_responses_match_the_cloud_spec(http: httpx.Client) -> None:
    responses = v1_requests(http)
    covered = set()
    for response in responses:
        assert response.status_code < 300, (response.request.url, response.text[:300])
        covered.add(check("confluence-cloud-v1.openapi.json", "/wiki", response))
    assert len(covered) >= 20


def test_v2_responses_match_the_cloud_spec(http: httpx.Client) -> None:
    install = page_id(http, "Installation Guide")
    space_id = http.get("/api/v2/spaces", params={"keys": "DEMO"}).json()["results"][0]["id"]
    created = http.post("/api/v2/pages", json={"spaceId": space_id, "status": "current", "title": "V2 probe",
                                               "body": {"representation": "storage", "value": "<p>p</p>"}})
    pid = created.json()["id"]
    blog = http.get("/rest/api/content/search", params={"cql": "type = blogpost"}).json()["results"][0]["id"]
    responses = [
        http.get("/api/v2/pages", params={"space-id": space_id, "limit": 3, "body-format": "storage"}),
        http.get(f"/api/v2/pages/{install}", params={"include-labels": "true"}),
        http.get(f"/api/v2/blogposts/{blog}", params={"body-format": "storage", "include-labels": "true"}),
        http.get(f"/api/v2/pages/{install}", params={"body-format": "storage"}),
        http.get(f"/api/v2/pages/{install}", params={"body-format": "view"}),
        http.get(f"/api/v2/pages/{install}/labels"),
        http.get(f"/api/v2/pages/{install}/attachments"),
        http.get(f"/api/v2/pages/{install}/children"),
        http.get(f"/api/v2/pages/{install}/ancestors"),
        http.get("/api/v2/spaces", params={"keys": "DEMO"}),
        http.get(f"/api/v2/spaces/{space_id}"),
        http.get(f"/api/v2/spaces/{space_id}/pages", params={"limit": 2}),
        created,
        http.put(f"/api/v2/pages/{pid}", json={"id": pid, "status": "current", "title": "V2 probe",
                                               "version": {"number": 2},
                                               "body": {"representation": "storage", "value": "<p>q</p>"}}),
        http.delete(f"/api/v2/pages/{pid}"),
    ]
    covered = set()
    for response in responses:
        assert response.status_code < 300, (response.request.url, response.text[:300])
        covered.add(check("confluence-cloud-v2.openapi.json", "/wiki/api/v2", response))
    assert len(covered) >= 9


def test_error_and_status_paths_are_documented(http: httpx.Client) -> None:
    """Statuses we answer with are among those the spec documents for the endpoint."""
    for response in (http.get("/rest/api/content/999999"),
                     http.get("/rest/api/search", params={"cql": "space = "}),
                     http.get("/rest/api/content/search", params={"cql": "((("}),
                     http.get("/rest/api/content/1", params={"expand": ",".join(["version"] * 9)})):
        assert response.status_code in (400, 404)
        check("confluence-cloud-v1.openapi.json", "/wiki", response)


def test_unknown_rest_paths_answer_in_the_error_envelope(http: httpx.Client) -> None:
    """Clients parse every REST answer as JSON; an unknown path must not come back as plain text."""
    response = http.get("/rest/api/no-such-resource")
    assert response.status_code == 404
    assert response.json()["statusCode"] == 404 and "no-such-resource" in response.json()["message"]
    assert http.get("/no-such-page").status_code == 404


def test_spec_dir_resolution() -> None:
    assert isinstance(SPECS, Path) and SPECS.name == "specs"
