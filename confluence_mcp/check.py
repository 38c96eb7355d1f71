"""`confluence-mcp check`: can this toolkit reach its site, log in, see its space(s) and search?

Each step reports what works and, for what does not, the actionable message of the typed error. Retries are
switched off so an unreachable site fails in seconds rather than after minutes of backoff.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
from pydantic import BaseModel, Field

from confluence_mcp.config import Hosting, Toolkit
from confluence_mcp.confluence import cql
from confluence_mcp.confluence.client import ConfluenceClient
from confluence_mcp.confluence.urls import SiteUrls, normalise_site_url
from confluence_mcp.errors import (
    AuthenticationFailed,
    ConfigError,
    ConfluenceConnectionError,
    ConfluenceError,
    NotFound,
    PermissionDenied,
    RateLimited,
)

__all__ = ["CheckItem", "CheckReport", "check_connection", "format_report"]


class CheckItem(BaseModel):
    name: str
    ok: bool
    detail: str
    skipped: bool = False


class CheckReport(BaseModel):
    toolkit: str
    site_url: str
    hosting: str
    items: list[CheckItem] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(item.ok for item in self.items)


async def check_connection(toolkit: Toolkit, *, transport: httpx.AsyncBaseTransport | None = None) -> CheckReport:
    """Run the checks in order; later ones are skipped when an earlier one makes them meaningless."""
    quick = dataclasses.replace(toolkit, settings=toolkit.settings.model_copy(update={"retries": 0}))
    site_url = normalise_site_url(toolkit.credential.base_url or "", toolkit.hosting)
    report = CheckReport(toolkit=toolkit.name, site_url=site_url, hosting=toolkit.hosting)
    add = report.items.append
    add(_tools_item(toolkit))
    async with ConfluenceClient(quick, transport=transport, max_concurrency=4) as client:
        user, failure = await _current_user(client)
        if isinstance(failure, ConfluenceConnectionError):
            add(CheckItem(name="url", ok=False, detail=str(failure)))
            for name in ("authentication", "hosting", "space", "search"):
                add(_skipped(name, "the site is not reachable"))
            return report
        via = f" through Atlassian's API gateway ({client.urls.gateway})" if client.urls.gateway else ""
        add(CheckItem(name="url", ok=True, detail=f"{site_url} answers{via}"))
        if isinstance(failure, RateLimited):  # says nothing about the credentials: the site refused to answer yet
            add(CheckItem(name="rate limit", ok=False, detail=str(failure)))
            for name in ("hosting", "authentication", "space", "search"):
                add(_skipped(name, "the site is rate-limiting requests; run check again later"))
            return report
        add(await _hosting_item(client, toolkit, failure))
        if isinstance(failure, NotFound):  # no API at this base_url: the hosting item says where it is
            for name in ("authentication", "space", "search"):
                add(_skipped(name, "the REST API is not at this base_url (see hosting)"))
            return report
        if failure is not None or user is None:
            add(CheckItem(name="authentication", ok=False, detail=str(failure or "no user returned")))
            add(_skipped("space", "authentication failed"))
            add(_skipped("search", "authentication failed"))
            return report
        add(_auth_item(user))
        spaces = list(dict.fromkeys([*([toolkit.space] if toolkit.space else []), *toolkit.allowed_spaces]))
        visible = []
        for key in spaces:
            item = await _space_item(client, key)
            add(item)
            if item.ok:
                visible.append(key)
        if not spaces:
            add(_skipped("space", "no space configured: tools will need a `space` argument"))
        if spaces and not visible:  # searching every space instead would pass and say nothing about the toolkit's
            add(_skipped("search", "none of the configured spaces is visible"))
        else:
            add(await _search_item(client, visible))
    return report


def format_report(report: CheckReport) -> str:
    """Human-readable lines: one per check, then the verdict."""
    lines = [f"Toolkit '{report.toolkit}' → {report.site_url} (hosting: {report.hosting})"]
    for item in report.items:
        mark = "skip" if item.skipped else ("ok" if item.ok else "FAIL")
        lines.append(f"  [{mark:>4}] {item.name}: {item.detail}")
    lines.append("All checks passed." if report.ok else "Some checks failed; see the messages above.")
    return "\n".join(lines)


def _tools_item(toolkit: Toolkit) -> CheckItem:
    """The enabled tools, validated as `serve` does (unknown names in `tools` fail there at start)."""
    from confluence_mcp.server import all_tool_specs, enabled_specs

    try:
        specs = enabled_specs(toolkit, all_tool_specs())
    except ConfigError as exc:
        return CheckItem(name="tools", ok=False, detail=str(exc))
    mode = " (read-only)" if toolkit.settings.read_only else ""
    return CheckItem(name="tools", ok=True, detail=f"{len(specs)} tools enabled{mode}")


def _skipped(name: str, why: str) -> CheckItem:
    return CheckItem(name=name, ok=True, skipped=True, detail=f"not checked: {why}")


async def _current_user(client: ConfluenceClient) -> tuple[dict[str, Any] | None, ConfluenceError | None]:
    try:
        user = await client.get_json("user/current")
    except ConfluenceError as exc:
        return None, exc
    if not isinstance(user, dict):
        return None, ConfluenceError("GET /user/current returned no user object.")
    if user.get("type") == "anonymous" or user.get("accountType") == "anonymous":
        return None, ConfluenceError(
            "Confluence treats the requests as anonymous: no credentials were accepted. Check the username, "
            "the token and the auth method (Basic = username + API token, Bearer = personal access token).")
    return user, None


def _auth_item(user: dict[str, Any]) -> CheckItem:
    name = user.get("displayName") or user.get("publicName") or user.get("username") or "?"
    account = user.get("email") or user.get("username") or user.get("accountId") or ""
    suffix = f" ({account})" if account and account != name else ""
    return CheckItem(name="authentication", ok=True, detail=f"authenticated as {name}{suffix}")


async def _hosting_item(client: ConfluenceClient, toolkit: Toolkit, failure: ConfluenceError | None) -> CheckItem:
    """Does the site answer the paths of the configured hosting option? Probe the other layout to say which."""
    if isinstance(failure, (AuthenticationFailed, PermissionDenied)):
        # Refused credentials say nothing about the layout; the authentication item reports the real problem.
        return _skipped("hosting", "authentication failed")
    v2_answers = await _answers(client, client.urls.api_base("v2") + "/spaces", {"limit": 1})
    other: Hosting = "server" if toolkit.hosting == "cloud" else "cloud"
    other_site = normalise_site_url(_origin_with_context(client, other), other)
    v1_missing = isinstance(failure, NotFound)
    if toolkit.hosting == "cloud":
        if not v1_missing and v2_answers:
            return CheckItem(name="hosting", ok=True,
                             detail="the site answers Cloud paths (/wiki/rest/api, /wiki/api/v2)")
        if await _answers(client, SiteUrls(other_site).api_base("v1") + "/user/current"):
            return CheckItem(name="hosting", ok=False, detail=(
                f"hosting is 'cloud' but the site answers Server/Data Center paths at {other_site}/rest/api: "
                f"set hosting = \"server\" and base_url = {other_site}"))
        if v1_missing:
            return CheckItem(name="hosting", ok=False, detail=(
                f"{client.site_url}/rest/api is not found: check base_url (Cloud sites live under /wiki)"))
        return CheckItem(name="hosting", ok=True, detail=(
            "the v1 API answers at /wiki/rest/api (the v2 API did not answer; v1 is enough for every tool)"))
    if v2_answers and not v1_missing:
        return CheckItem(name="hosting", ok=False, detail=(
            "hosting is 'server' but the site also answers the Cloud v2 API: set hosting = \"cloud\" "
            "(and base_url ending in /wiki)"))
    if v1_missing:
        if await _answers(client, SiteUrls(other_site).api_base("v1") + "/user/current"):
            return CheckItem(name="hosting", ok=False, detail=(
                f"nothing at {client.site_url}/rest/api, but a Cloud layout answers at {other_site}: "
                f"set hosting = \"cloud\" and base_url = {other_site}"))
        return CheckItem(name="hosting", ok=False, detail=(
            f"{client.site_url}/rest/api is not found: check base_url, including the context path "
            "(e.g. /confluence) on Server/Data Center"))
    return CheckItem(name="hosting", ok=True, detail="the site answers Server/Data Center paths (/rest/api)")


def _origin_with_context(client: ConfluenceClient, other: str) -> str:
    """Where the other layout would live: Cloud adds /wiki to the origin; Server drops a trailing /wiki."""
    if other == "cloud":
        return client.urls.origin
    site = client.site_url
    return site[: -len("/wiki")] if site.lower().endswith("/wiki") else site


async def _answers(client: ConfluenceClient, url: str, params: dict[str, Any] | None = None) -> bool:
    """True when the URL answers as an existing endpoint; False when missing, unreachable or refused (a 401/403 is
    not evidence: sites refuse unknown paths too when the credentials are wrong)."""
    status = await client.probe(url, params=params)
    return status is not None and status not in (401, 403, 404)


async def _space_item(client: ConfluenceClient, key: str) -> CheckItem:
    try:
        space = await client.get_space(key, expand="homepage")
    except ConfluenceError as exc:
        return CheckItem(name=f"space {key}", ok=False, detail=str(exc))
    home = (space.get("homepage") or {}).get("id")
    extra = f", home page {home}" if home else ""
    return CheckItem(name=f"space {key}", ok=True, detail=f"'{space.get('name', key)}' is visible{extra}")


async def _search_item(client: ConfluenceClient, spaces: list[str]) -> CheckItem:
    query = cql.scoped(None, spaces) if spaces else cql.clause("type", "=", "page")
    try:
        page = await client.search(query, limit=1, excerpt="none")
    except ConfluenceError as exc:
        return CheckItem(name="search", ok=False, detail=str(exc))
    total = f"{page.total} pages match" if page.total is not None else f"{len(page.results)} result(s)"
    return CheckItem(name="search", ok=True, detail=f"CQL search works ({query!r}: {total})")
