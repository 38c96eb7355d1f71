"""Fixtures for the client tests: toolkits with tiny retry waits, and the anyio backend."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from confluence_mcp.config import CredentialSettings, Hosting, Toolkit, ToolkitSettings


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def make_toolkit(base_url: str, hosting: Hosting = "cloud", *, retries: int = 2, retry_min: float = 0.001,
                 retry_max: float = 0.02, space: str | None = None, token: str = "sandbox-token",
                 bearer: bool = False, **credential: Any) -> Toolkit:
    """A toolkit for tests: Basic sandbox credentials (or Bearer), waits of milliseconds."""
    secret = {"token": SecretStr(token)} if bearer else {"username": "sandbox@example.com",
                                                         "api_token": SecretStr(token)}
    cred = CredentialSettings(base_url=base_url, **secret, **credential)
    kit = ToolkitSettings(space=space, retries=retries, retry_min_seconds=retry_min, retry_max_seconds=retry_max)
    return Toolkit("test", kit, cred, hosting, (space,) if space else (), "")


@pytest.fixture
def toolkit_factory() -> Any:
    return make_toolkit
