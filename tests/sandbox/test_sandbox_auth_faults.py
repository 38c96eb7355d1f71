"""401 styles, Basic/Bearer auth, the fault admin API (fail-next, rate, stats), 429 headers, drops, slowness."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from confluence_mcp.sandbox.runner import RunningSandbox, SandboxOptions, start_sandbox


@pytest.fixture(scope="module", params=["cloud", "server"])
def faulty(request: pytest.FixtureRequest) -> Iterator[RunningSandbox]:
    """A private sandbox per flavour: fault settings must not leak into other tests."""
    with start_sandbox(SandboxOptions(flavor=request.param, seed=None)) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def admin(faulty: RunningSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=faulty.admin_url, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def api(faulty: RunningSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=faulty.base_url, auth=faulty.auth, timeout=10) as client:
        yield client


@pytest.fixture(autouse=True)
def calm(admin: httpx.Client) -> Iterator[None]:
    admin.post("/faults", json={"rate": 0, "fail_next": 0, "status": 503, "retry_after": "1",
                                "slow_seconds": 1.0, "match": ""})
    yield
    admin.post("/faults", json={"rate": 0, "fail_next": 0, "match": ""})


def test_wrong_credentials_are_401_in_flavour_style(faulty: RunningSandbox) -> None:
    url = faulty.base_url + "/rest/api/space"
    for auth in (("sandbox@example.com", "wrong"), ("someone@example.com", "sandbox-token"), None):
        response = httpx.get(url, auth=auth)
        assert response.status_code == 401
        if faulty.options.flavor == "cloud":
            assert response.headers["content-type"].startswith("text/plain")
            assert response.text.startswith("Basic authentication with passwords is deprecated.")
        else:
            assert response.headers["content-type"].startswith("text/html")
            assert "AUTHENTICATED_FAILED" in response.text
    assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_basic_and_bearer_accepted(faulty: RunningSandbox) -> None:
    url = faulty.base_url + "/rest/api/user/current"
    assert httpx.get(url, auth=("sandbox@example.com", "sandbox-token")).status_code == 200
    assert httpx.get(url, headers={"Authorization": "Bearer sandbox-token"}).status_code == 200
    by_username = httpx.get(url, auth=("sandbox", "sandbox-token")).status_code
    assert by_username == (200 if faulty.options.flavor == "server" else 401)  # DC logs in by username


def test_fail_next_is_deterministic(api: httpx.Client, admin: httpx.Client) -> None:
    settings = admin.post("/faults", json={"fail_next": 2, "status": 503, "retry_after": "7"}).json()
    assert settings["fail_next"] == 2
    first, second, third = (api.get("/rest/api/space") for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (503, 503, 200)
    assert first.headers["retry-after"] == "7"


def test_fail_next_can_target_requests_by_path_and_query(api: httpx.Client, admin: httpx.Client) -> None:
    admin.post("/faults", json={"fail_next": 1, "status": 400, "match": 'type = "attachment"'})
    pages = api.get("/rest/api/content/search", params={"cql": 'type = "page"'})
    spaces = api.get("/rest/api/space")
    refused = api.get("/rest/api/content/search", params={"cql": 'type = "attachment"'})
    again = api.get("/rest/api/content/search", params={"cql": 'type = "attachment"'})
    assert [r.status_code for r in (pages, spaces, refused, again)] == [200, 200, 400, 200]
    assert admin.get("/faults").json()["match"] == 'type = "attachment"'


def test_429_carries_rate_limit_headers(api: httpx.Client, admin: httpx.Client) -> None:
    admin.post("/faults", json={"fail_next": 1, "status": 429, "retry_after": "9223372036854775807"})
    response = api.get("/rest/api/space")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "9223372036854775807"
    for header in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"):
        assert header in response.headers
    assert response.headers["x-ratelimit-remaining"] == "0"


@pytest.mark.parametrize("status", [500, 502])
def test_server_errors(api: httpx.Client, admin: httpx.Client, status: int) -> None:
    admin.post("/faults", json={"fail_next": 1, "status": status})
    assert api.get("/rest/api/space").status_code == status


def test_dropped_connection(faulty: RunningSandbox, admin: httpx.Client) -> None:
    admin.post("/faults", json={"fail_next": 1, "status": 0})  # status 0 = drop the connection
    with pytest.raises(httpx.TransportError), httpx.Client(auth=faulty.auth, timeout=5) as fresh:
        fresh.get(faulty.base_url + "/rest/api/space")
    with httpx.Client(auth=faulty.auth, timeout=5) as fresh:
        assert fresh.get(faulty.base_url + "/rest/api/space").status_code == 200


def test_slow_responses(faulty: RunningSandbox, admin: httpx.Client) -> None:
    admin.post("/faults", json={"rate": 1.0, "kinds": ["slow"], "slow_seconds": 0.5})
    with pytest.raises(httpx.ReadTimeout), httpx.Client(auth=faulty.auth, timeout=0.2) as impatient:
        impatient.get(faulty.base_url + "/rest/api/space")


def test_random_rate_injects_every_kind(api: httpx.Client, admin: httpx.Client) -> None:
    admin.post("/faults", json={"rate": 1.0, "kinds": ["429", "500", "502", "503"]})
    statuses = {api.get("/rest/api/space").status_code for _ in range(40)}
    assert statuses <= {429, 500, 502, 503} and len(statuses) >= 3
    admin.post("/faults", json={"rate": 0})
    assert api.get("/rest/api/space").status_code == 200


def test_stats_count_requests_by_route(api: httpx.Client, admin: httpx.Client, faulty: RunningSandbox) -> None:
    admin.post("/reset-stats")
    api.get("/rest/api/space")
    api.get("/rest/api/content/123")
    api.get("/rest/api/content/456")
    stats = admin.get("/stats").json()
    assert stats["total"] == 3
    prefix = "/wiki" if faulty.options.flavor == "cloud" else ""
    assert stats["by_route"][f"GET {prefix}/rest/api/content/{{id}}"] == 2
    assert admin.post("/reset-stats").json()["total"] == 0


def test_admin_rejects_bad_input(admin: httpx.Client) -> None:
    assert admin.post("/faults", content=b"not json").status_code == 400
    assert admin.post("/faults", json={"rate": "high"}).status_code == 400
    assert admin.get("/nope").status_code == 404


def test_cli_faults_option_sets_the_rate() -> None:
    with start_sandbox(SandboxOptions(seed=None, faults=1.0)) as sandbox:
        settings = httpx.get(sandbox.admin_url + "/faults").json()
        assert settings["rate"] == 1.0
