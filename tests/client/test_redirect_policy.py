"""Which redirects away from the site are followed (without credentials): a public site may send the server to a
media host, never into the server's own network."""

from __future__ import annotations

import pytest

from confluence_mcp.confluence.urls import off_site_redirect_allowed

CLOUD = "https://acme.atlassian.net/wiki"


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
    # a site inside the network may redirect within it (an intranet Server/DC and its file store; the sandbox)
    ("http://10.1.2.4/files/a.png", "http://10.1.2.3:8090", True),
    ("http://127.0.0.1:41234/media/1", "http://127.0.0.1:40000/wiki", True),
])
def test_off_site_redirects(target: str, site: str, allowed: bool) -> None:
    assert off_site_redirect_allowed(target, site) is allowed
