"""Where things live on a Confluence site: the web base, the API bases, and links the server hands back.

Cloud serves everything under `/wiki` (`/wiki/rest/api`, `/wiki/api/v2`); Server/Data Center under an optional
context path (`/rest/api`). Links in responses come in two flavours: v1 links are relative to the site
(`/rest/api/...`), v2 links already carry `/wiki` and are relative to the origin. `SiteUrls` resolves both
without ever producing a double `/wiki`, and refuses anything that points at another host.

With a scoped API token, requests go to Atlassian's API gateway instead (`gateway`:
`https://api.atlassian.com/ex/confluence/<cloud id>`, followed by the same `/wiki/...` paths); links and web-UI
URLs keep naming the site.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, urlsplit

import anyio

__all__ = ["Api", "SiteUrls", "normalise_site_url", "off_site_redirect_allowed", "redirect_allowed", "segment"]

Api = Literal["v1", "v2", "site"]

# Suffixes people paste into base_url that are really API paths, not the site root.
_API_SUFFIX = re.compile(r"(/rest/api|/api/v2)/?$", re.IGNORECASE)


def normalise_site_url(base_url: str, hosting: Literal["cloud", "server"]) -> str:
    """The web base: `https://x.atlassian.net/wiki` on Cloud (added when missing), `http://host[/ctx]` on Server."""
    url = base_url.strip().rstrip("/")
    url = _API_SUFFIX.sub("", url).rstrip("/")
    if hosting == "cloud" and not url.lower().endswith("/wiki"):
        url += "/wiki"
    return url


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host names literally, in any spelling the resolver accepts (`127.1`, `0x7f000001`,
    `2130706433`); an IPv4-mapped IPv6 address as its IPv4 address. None for a name."""
    host = host.strip("[]")
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(host)
    except ValueError:
        try:
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except (OSError, ValueError):
            return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped if mapped is not None else address


def _internal(host: str) -> bool:
    host = host.lower().rstrip(".")
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    address = _address(host)
    if address is None:
        return False  # a name: `redirect_allowed` judges what it resolves to
    return not address.is_global or address.is_multicast


def off_site_redirect_allowed(target: str, site_url: str) -> bool:
    """Whether a redirect away from the site may be followed (without credentials), by the URL alone: http(s)
    only, and never into a private, loopback, link-local or otherwise non-global address unless the site itself
    lives on one (a public site must not steer the server into its own network)."""
    parts, site = urlsplit(target), urlsplit(site_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    return not _internal(parts.hostname) or _internal(site.hostname or "")


async def _resolves_internal(host: str) -> bool:
    """True when `host` is internal or any address it resolves to is. A name that does not resolve is not (the
    fetch will fail on it anyway)."""
    if _internal(host):
        return True
    try:
        infos = await anyio.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return False
    return any(_internal(str(info[4][0])) for info in infos)


async def redirect_allowed(target: str, site_url: str) -> bool:
    """`off_site_redirect_allowed`, with host names judged by what they resolve to: a name pointing into the
    network (`internal.example.com` → 10.0.0.5) is refused unless the site resolves into it too. A name could
    resolve differently again when fetched (DNS rebinding); the check narrows, not closes, that window."""
    if not off_site_redirect_allowed(target, site_url):
        return False
    if await _resolves_internal(urlsplit(site_url).hostname or ""):
        return True
    return not await _resolves_internal(urlsplit(target).hostname or "")


def segment(value: str | int) -> str:
    """One path segment, percent-encoded so ids and names can never add `/` or `..` to a path."""
    return quote(str(value), safe="")


@dataclass
class SiteUrls:
    """URL arithmetic for one site; `site_url` has no trailing slash. `gateway` is set once the cloud id is known."""

    site_url: str
    gateway: str | None = None

    @property
    def origin(self) -> str:
        parts = urlsplit(self.site_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def site_path(self) -> str:
        """The site's path below the origin: `/wiki`, `/confluence` or `""`."""
        return urlsplit(self.site_url).path.rstrip("/")

    def api_base(self, api: Api) -> str:
        if api == "v1":
            return f"{self.site_url}/rest/api"
        if api == "v2":
            return f"{self.site_url}/api/v2"
        return self.site_url

    def api_path_prefixes(self) -> tuple[str, str]:
        """Origin-relative path prefixes of the v1 and v2 APIs (what a pagination link may point to)."""
        return f"{self.site_path}/rest/api/", f"{self.site_path}/api/v2/"

    def url(self, path: str, api: Api = "v1") -> str:
        """Absolute URL of `path` (relative to the chosen API base); absolute URLs are refused."""
        if "://" in path.split("?", 1)[0] or path.startswith("//"):
            raise ValueError(f"expected a path relative to the Confluence API, got {path!r}")
        return f"{self.api_base(api)}/{path.lstrip('/')}"

    def same_origin(self, url: str) -> bool:
        parts = urlsplit(url)
        mine = urlsplit(self.site_url)
        return (parts.scheme.lower(), _netloc(parts.scheme, parts.netloc)) == (
            mine.scheme.lower(), _netloc(mine.scheme, mine.netloc))

    def origin_relative(self, link: str) -> str | None:
        """A link from a response or an attachment as an origin-relative path (`/wiki/rest/api/...`).

        Absolute links must be on this site's origin (else None). A relative link that already starts with the
        site path (v2 `next`, Cloud `/wiki/download/...`) is origin-relative; any other relative link is
        relative to the site (v1 `next`, `_links.download`, `_links.webui`), with or without a leading slash.
        """
        link = link.strip()
        if not link:
            return None
        if self.gateway and link.startswith(self.gateway + "/"):
            return link[len(self.gateway):]
        if link.startswith("//"):
            return None  # scheme-relative: another host as far as we are concerned
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", link):
            if not self.same_origin(link):
                return None
            parts = urlsplit(link)
            return parts.path + (f"?{parts.query}" if parts.query else "")
        path = "/" + link.lstrip("/")
        prefix = self.site_path
        if prefix and (path == prefix or path.startswith(prefix + "/")):
            return path
        return prefix + path

    def absolute(self, origin_relative: str) -> str:
        return self.origin + origin_relative

    def routed(self, url: str) -> str:
        """Where a request for `url` goes: through the gateway when there is one and `url` is on the site."""
        if self.gateway and (url == self.site_url or url.startswith(self.site_url + "/")):
            return self.gateway + url[len(self.origin):]
        return url

    def web_url(self, webui: str | None) -> str | None:
        """`_links.webui` (relative to the site) as an absolute URL; absolute values pass unchanged."""
        if not webui:
            return None
        if re.match(r"^https?://", webui, flags=re.IGNORECASE):
            return webui
        return f"{self.site_url}/{webui.lstrip('/')}"


def _netloc(scheme: str, netloc: str) -> str:
    """Lower-cased host with the default port made explicit, so `http://h` and `http://h:80` compare equal."""
    netloc = netloc.lower().rsplit("@", 1)[-1]
    if ":" not in netloc.rsplit("]", 1)[-1]:
        netloc += ":443" if scheme.lower() == "https" else ":80"
    return netloc
