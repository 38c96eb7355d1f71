"""`check_connection` against the sandbox: what passes, and the actionable text of what fails."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from confluence_mcp.check import CheckReport, check_connection, format_report
from confluence_mcp.sandbox.runner import RunningSandbox, SandboxOptions, start_sandbox

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module", params=["cloud", "server"])
def sandbox(request: pytest.FixtureRequest) -> Iterator[RunningSandbox]:
    context = "/confluence" if request.param == "server" else ""
    with start_sandbox(SandboxOptions(flavor=request.param, context_path=context)) as running:
        yield running


def items(report: CheckReport) -> dict[str, Any]:
    return {item.name: item for item in report.items}


async def test_everything_passes(sandbox: RunningSandbox, toolkit_factory: Any) -> None:
    report = await check_connection(toolkit_factory(sandbox.base_url, sandbox.options.flavor, space="DEMO"))
    text = format_report(report)
    assert report.ok, text
    assert set(items(report)) == {"tools", "url", "hosting", "authentication", "space DEMO", "search"}
    assert "authenticated as" in text and "All checks passed." in text


async def test_tool_names_are_checked_as_serve_does(sandbox: RunningSandbox, toolkit_factory: Any) -> None:
    kit = toolkit_factory(sandbox.base_url, sandbox.options.flavor, space="DEMO")

    def with_tools(name: str, *tools: str) -> Any:
        return dataclasses.replace(kit, name=name, settings=kit.settings.model_copy(update={"tools": list(tools)}))

    bad = items(await check_connection(with_tools("test", "search_pages", "foo_bar")))["tools"]
    assert not bad.ok and "unknown tool(s) foo_bar; valid names:" in bad.detail
    # A name prefixed with the toolkit's own name works even when that toolkit is the only one (no prefixes).
    good = await check_connection(with_tools("hr", "hr_search_pages", "read_page_by_id"))
    assert good.ok and items(good)["tools"].detail == "2 tools enabled"


async def test_wrong_token_fails_authentication(sandbox: RunningSandbox, toolkit_factory: Any) -> None:
    kit = toolkit_factory(sandbox.base_url, sandbox.options.flavor, space="DEMO", token="bad")
    report = await check_connection(kit)
    found = items(report)
    assert not report.ok
    assert found["url"].ok and not found["authentication"].ok
    assert [name for name, item in found.items() if not item.ok] == ["authentication"]  # not blamed on hosting
    assert found["hosting"].skipped
    assert "Basic = username" in found["authentication"].detail
    assert found["search"].skipped
    assert "[FAIL] authentication" in format_report(report)


async def test_wrong_personal_access_token_is_not_blamed_on_hosting(sandbox: RunningSandbox,
                                                                    toolkit_factory: Any) -> None:
    kit = toolkit_factory(sandbox.base_url, sandbox.options.flavor, token="wrong", bearer=True)
    found = items(await check_connection(kit))
    assert [name for name, item in found.items() if not item.ok] == ["authentication"]


async def test_missing_space_is_reported(sandbox: RunningSandbox, toolkit_factory: Any) -> None:
    report = await check_connection(toolkit_factory(sandbox.base_url, sandbox.options.flavor, space="NOPE"))
    found = items(report)
    assert not found["space NOPE"].ok and "short codes like DOCS" in found["space NOPE"].detail
    # Searching every space instead would pass and say nothing about the toolkit's own space.
    assert found["search"].skipped and "none of the configured spaces is visible" in found["search"].detail


async def test_rate_limiting_is_not_blamed_on_authentication(sandbox: RunningSandbox, toolkit_factory: Any) -> None:
    faults = f"{sandbox.admin_url}/faults"
    httpx.post(faults, json={"fail_next": 1, "status": 429, "match": "user/current"}, timeout=10).raise_for_status()
    report = await check_connection(toolkit_factory(sandbox.base_url, sandbox.options.flavor, space="DEMO"))
    found = items(report)
    assert not report.ok and not found["rate limit"].ok and "retry" in found["rate limit"].detail.lower()
    assert all(found[name].skipped for name in ("hosting", "authentication", "search"))


async def test_wrong_hosting_option_is_named(sandbox: RunningSandbox, toolkit_factory: Any) -> None:
    wrong = "server" if sandbox.options.flavor == "cloud" else "cloud"
    report = await check_connection(toolkit_factory(sandbox.base_url, wrong, space="DEMO"))
    hosting = items(report)["hosting"]
    assert not hosting.ok
    assert f'set hosting = "{sandbox.options.flavor}"' in hosting.detail


async def test_unreachable_site_fails_fast(toolkit_factory: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    report = await check_connection(toolkit_factory(f"http://127.0.0.1:{port}/wiki", "cloud", retry_min=5))
    found = items(report)
    assert not found["url"].ok and "Cloud needs the /wiki path" in found["url"].detail
    assert all(found[name].skipped for name in ("authentication", "hosting", "space", "search"))


async def test_a_base_url_without_the_api_blames_hosting_not_authentication(sandbox: RunningSandbox,
                                                                            toolkit_factory: Any) -> None:
    """A Cloud site given without /wiki (a Server one without its context path): /user/current is a 404, which
    said nothing about the credentials, yet the authentication line failed with advice about space keys."""
    site = sandbox.base_url.removesuffix("/wiki").removesuffix("/confluence")
    report = await check_connection(toolkit_factory(site, "server", space="DEMO"))
    found = items(report)
    assert not report.ok
    assert [name for name, item in found.items() if not item.ok] == ["hosting"], format_report(report)
    assert found["authentication"].skipped and "see hosting" in found["authentication"].detail
