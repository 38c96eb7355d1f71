"""The transport core under `ConfluenceClient`: one pooled httpx.AsyncClient, auth, bounded concurrency,
tenacity retries (rule in `retry.py`) and error translation (`errors_map.py`)."""

from __future__ import annotations

import base64
import logging
import time
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from confluence_mcp import __version__ as package_version
from confluence_mcp.config import Toolkit
from confluence_mcp.config_problems import CLOUD_ID
from confluence_mcp.confluence.errors_map import AuthDescription, connection_error, http_error
from confluence_mcp.confluence.response_cap import MAX_RESPONSE_BYTES, response_cap
from confluence_mcp.confluence.retry import (
    RETRY_STATUSES,
    RetryableStatus,
    RetryPolicy,
    parse_retry_after,
    should_retry,
)
from confluence_mcp.confluence.urls import SiteUrls, normalise_site_url, redirect_allowed
from confluence_mcp.errors import BadRequest, ConfluenceConnectionError, ConfluenceError, PolicyError

__all__ = ["HttpCore", "auth_header", "response_json"]

log = logging.getLogger("confluence_mcp.client")
_MAX_REDIRECTS = 5
_LOOKUP_BACKOFF_SECONDS = 30.0  # a failed cloud-id lookup is not repeated for this long


def auth_header(toolkit: Toolkit) -> dict[str, str]:
    """`Authorization` for the credential: Basic `username:api_token` or Bearer PAT; empty when no secret."""
    cred = toolkit.credential
    secret = cred.secret()
    if not secret:
        return {}
    if cred.auth_kind == "bearer":
        return {"Authorization": f"Bearer {secret}"}
    raw = f"{cred.username or ''}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode("ascii")}


def response_json(response: httpx.Response) -> Any:
    """The JSON of a successful response ({} when empty); ConfluenceError when the site sent something else."""
    if response.status_code == 204 or not response.content:
        return {}
    try:
        return response.json()
    except ValueError:
        raise ConfluenceError(f"Confluence answered {response.request.method} {response.request.url.path} with "
                              f"non-JSON content ({response.headers.get('content-type', 'unknown type')}); "
                              "check base_url points at the Confluence site.") from None


class _NoCloudId(ConfluenceError):
    """The site answered, but named no cloud id: asking again soon would not help."""


class HttpCore:
    """Sends requests to one site with retries; raises `confluence_mcp.errors` types for failures."""

    def __init__(self, toolkit: Toolkit, *, transport: httpx.AsyncBaseTransport | None = None,
                 max_concurrency: int = 8, max_response_bytes: int = MAX_RESPONSE_BYTES) -> None:
        cred = toolkit.credential
        self.toolkit = toolkit
        self.hosting = toolkit.hosting
        self.urls = SiteUrls(normalise_site_url(cred.base_url or "", toolkit.hosting))
        kit = toolkit.settings
        self.policy = RetryPolicy(kit.retries, kit.retry_min_seconds, kit.retry_max_seconds)
        self.auth = AuthDescription(cred.auth_kind, cred.username, bool(cred.secret()), toolkit.hosting,
                                    self.urls.site_url, scoped=cred.scoped_token)
        headers = {"Accept": "application/json", "User-Agent": f"confluence-mcp/{package_version}"}
        headers.update(cred.custom_headers)
        headers.update(auth_header(toolkit))
        self.http = httpx.AsyncClient(
            headers=headers,
            timeout=httpx.Timeout(cred.timeout_seconds, connect=cred.connect_timeout_seconds),
            verify=cred.verify_ssl,
            transport=transport,
            limits=httpx.Limits(max_connections=max_concurrency, max_keepalive_connections=max_concurrency),
            follow_redirects=False,  # redirects are followed by hand so credentials never leave the site
            event_hooks={"response": [response_cap(max_response_bytes)]},
        )
        self._slots = anyio.Semaphore(max_concurrency)
        self._gateway_lock = anyio.Lock()
        self._gateway_failure: tuple[float, str] | None = None  # when, and what the site answered

    async def aclose(self) -> None:
        await self.http.aclose()

    async def send(self, method: str, url: str, *, params: dict[str, Any] | None = None, json: Any = None,
                   files: Any = None, data: Any = None, headers: dict[str, str] | None = None,
                   follow_redirects: bool = False) -> httpx.Response:
        """One logical request with retries; a typed error for transport failures and statuses >= 400."""
        method = method.upper()
        if params:  # None values dropped: httpx would send them as empty strings
            params = {key: value for key, value in params.items() if value is not None}
        if self.toolkit.credential.scoped_token:
            url = await self._through_gateway(url)
        if params and "?" in url:
            # httpx replaces a URL's query when given params; merge so links carrying a query keep it (only then:
            # the merge costs about a tenth of a sandbox read).
            url = str(httpx.URL(url).copy_merge_params(params))
            params = None
        attempts = 0

        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            retry_after = None
            if isinstance(error, RetryableStatus):
                retry_after = parse_retry_after(error.response.headers.get("retry-after"))
            return self.policy.wait_seconds(state.attempt_number, retry_after)

        def announce(state: RetryCallState) -> None:
            # before_sleep, not wait: tenacity computes the wait before its stop check, so logging there would
            # announce a retry after the last attempt too.
            error = state.outcome.exception() if state.outcome else None
            log.info("retrying %s %s in %.2fs (attempt %d failed: %s)", method, httpx.URL(url).path,
                     state.upcoming_sleep, state.attempt_number, error)

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.policy.attempts),
            wait=wait,
            before_sleep=announce,
            retry=retry_if_exception(lambda error: should_retry(error, method)),
            sleep=anyio.sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    attempts += 1
                    response = await self._send_once(method, url, params=params, json=json, files=files,
                                                     data=data, headers=headers)
                    if response.status_code in RETRY_STATUSES:
                        raise RetryableStatus(response)
        except RetryableStatus as exc:
            raise http_error(exc.response, auth=self.auth, attempts=attempts) from None
        except httpx.HTTPError as exc:
            path = httpx.URL(url).path
            raise connection_error(exc, method=method, path=path, site_url=self.urls.site_url,
                                   hosting=self.hosting, attempts=attempts) from None
        if follow_redirects and response.is_redirect:
            return await self._follow(response)
        if response.status_code >= 400:
            raise http_error(response, auth=self.auth, attempts=attempts)
        return response

    async def _through_gateway(self, url: str) -> str:
        """`url` on Atlassian's API gateway; the site's cloud id is looked up on first use unless configured. A
        lookup the site answered without a cloud id is not repeated for a while (concurrent requests would each
        wait for it); one that failed on the way (timeout, 429, 5xx) is tried again by the next request."""
        if self.urls.gateway is None:
            async with self._gateway_lock:
                if self.urls.gateway is None:
                    failed = self._gateway_failure
                    if failed is not None and time.monotonic() - failed[0] < _LOOKUP_BACKOFF_SECONDS:
                        raise ConfluenceError(failed[1])
                    cred = self.toolkit.credential
                    try:
                        cloud_id = cred.cloud_id or await self._cloud_id()
                    except _NoCloudId as exc:
                        self._gateway_failure = (time.monotonic(), str(exc))
                        raise ConfluenceError(str(exc)) from None
                    self.urls.gateway = f"{cred.gateway_url.rstrip('/')}/ex/confluence/{cloud_id}"
                    log.info("scoped token: requests go through %s", self.urls.gateway)
        return self.urls.routed(url)

    async def _cloud_id(self) -> str:
        """The site's cloud id, from its public `/_edge/tenant_info` (asked without credentials)."""
        url = f"{self.urls.origin}/_edge/tenant_info"
        fix = "check base_url is your Cloud site (https://<site>.atlassian.net), or set cloud_id (CONFLUENCE_CLOUD_ID)"
        try:
            response = await self._send_bare(url)
        except httpx.HTTPError as exc:
            raise ConfluenceConnectionError(f"Could not reach {url} for the site's cloud id ({exc}): {fix}.") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise ConfluenceError(f"{url} answered HTTP {response.status_code} when asked for the site's cloud id: "
                                  "try again shortly, or set cloud_id (CONFLUENCE_CLOUD_ID) to skip this lookup.")
        try:
            cloud_id = response.json().get("cloudId") if response.status_code == 200 else None
        except (ValueError, AttributeError):
            cloud_id = None
        if not isinstance(cloud_id, str) or not CLOUD_ID.fullmatch(cloud_id):
            raise _NoCloudId(f"{url} answered HTTP {response.status_code} without a cloud id: {fix}.")
        return cloud_id

    async def _send_once(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            request = self.http.build_request(method, url, **kwargs)
        except httpx.InvalidURL as exc:  # e.g. longer than httpx's 64 KB: an argument, not a bug of ours
            raise BadRequest(f"The {method} request to {urlsplit(url).path[:200]} was not sent: its URL is too long "
                             f"or malformed ({exc}). Shorten the query, title or other text argument.") from None
        async with self._slots:
            return await self.http.send(request)

    async def _send_bare(self, url: str) -> httpx.Response:
        """A GET without auth or custom headers (`send` does not merge the client's default headers; cookies stay
        bound to their domain): for other hosts and public endpoints."""
        async with self._slots:
            return await self.http.send(httpx.Request("GET", url, extensions={"timeout": self.http.timeout.as_dict()}))

    async def _follow(self, response: httpx.Response) -> httpx.Response:
        """Follow GET redirects (attachment downloads): same-origin ones with credentials, others without."""
        for _ in range(_MAX_REDIRECTS):
            target = str(response.request.url.join(response.headers["location"]))
            link = self.urls.origin_relative(target)  # on the site, or on its API gateway
            if link is not None:
                response = await self.send("GET", self.urls.absolute(link))
                if not response.is_redirect:
                    return response
                continue
            if not await redirect_allowed(target, self.urls.site_url):
                raise PolicyError(f"Not following the redirect from {response.request.url.path} to {target}: only "
                                  "http(s) hosts outside the server's own network are fetched for a public site.")
            response = await self._send_bare(target)  # another host (e.g. a media CDN with a signed URL)
            if response.is_redirect:
                continue
            if response.status_code >= 400:
                raise http_error(response, auth=self.auth)
            return response
        raise http_error(response, auth=self.auth)
