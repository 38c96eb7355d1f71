"""Which redirects away from the site are followed (without credentials): a public site may send the server to a
media host, never into the server's own network."""

from __future__ import annotations

import socket

import anyio
import pytest

from confluence_mcp.confluence.urls import off_site_redirect_allowed, redirect_allowed

CLOUD = "https://acme.atlassian.net/wiki"
pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.parametrize(("target", "site", "allowed"), [
    ("https://api.media.atlassian.com/file/1/binary?token=x", CLOUD, True),
    ("http://cdn.example.com/a.png", CLOUD, True),
    ("http://169.254.169.254/latest/meta-data/", CLOUD, False),  # cloud metadata endpoint
    ("http://127.0.0.1:8080/admin", CLOUD, False),
    ("http://localhost/x", CLOUD, False),
    ("http://10.1.2.3/x", CLOUD, False),
    ("http://[::1]/x", CLOUD, False),
    ("file:///etc/passwd", CLOUD, False),
    ("gopher://cdn.example.com/", CLOUD, False),
    # Spellings of internal addresses the resolver (and so httpx) accepts: each reaches loopback or metadata.
    ("http://2130706433/x", CLOUD, False),
    ("http://0x7f000001/x", CLOUD, False),
    ("http://017700000001/x", CLOUD, False),
    ("http://127.1/x", CLOUD, False),
    ("http://0/x", CLOUD, False),
    ("http://0.0.0.0/x", CLOUD, False),
    ("http://2852039166/latest/meta-data/", CLOUD, False),  # 169.254.169.254
    ("http://[::ffff:169.254.169.254]/x", CLOUD, False),
    ("http://[::ffff:7f00:1]/x", CLOUD, False),
    ("http://localhost./x", CLOUD, False),
    ("http://100.64.0.1/x", CLOUD, False),  # carrier-grade NAT, not the internet
    # a site inside the network may redirect within it (an intranet Server/DC and its file store; the sandbox)
    ("http://10.1.2.4/files/a.png", "http://10.1.2.3:8090", True),
    ("http://127.0.0.1:41234/media/1", "http://127.0.0.1:40000/wiki", True),
])
def test_off_site_redirects(target: str, site: str, allowed: bool) -> None:
    assert off_site_redirect_allowed(target, site) is allowed


async def test_a_name_that_resolves_into_the_network_is_refused_for_a_public_site() -> None:
    """A host name is judged by the addresses it resolves to (the syntactic check alone passes any name)."""
    name = socket.gethostname()
    addresses = {info[4][0] for info in socket.getaddrinfo(name, 80)}
    if not all(address.startswith(("127.", "10.", "172.", "192.168.", "::1", "fe80", "fd")) for address in addresses):
        pytest.skip(f"{name} resolves to a public address here ({addresses})")
    with anyio.fail_after(30):
        assert off_site_redirect_allowed(f"http://{name}/x", CLOUD)
        assert not await redirect_allowed(f"http://{name}/x", CLOUD)
        assert await redirect_allowed(f"http://{name}/x", f"http://{name}:8090")  # an intranet site, by name
        assert not await redirect_allowed("http://2130706433/x", CLOUD)
