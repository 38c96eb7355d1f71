"""`serve --sandbox` keeps its index apart from the user's own, and a restarted sandbox (another port) ends with
current URLs (real server processes over stdio, real embedded Postgres)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import anyio
import pytest
from _mcp_fixtures import REPO, call, stdio_params
from mcp import Client


def test_sandbox_settings_use_their_own_data_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from confluence_mcp.cli import sandbox_settings

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    settings = sandbox_settings("http://127.0.0.1:1", {})
    assert settings.index.database_url is None
    assert settings.index.data_dir == tmp_path / "confluence-mcp" / "sandbox"
    chosen = sandbox_settings("http://127.0.0.1:1", {"CONFLUENCE_MCP_DATA_DIR": str(tmp_path / "mine")})
    assert chosen.index.data_dir == tmp_path / "mine" / "sandbox"
    # A database the user named is theirs to share: used as is.
    external = sandbox_settings("http://127.0.0.1:1", {"CONFLUENCE_MCP_DATABASE_URL": "postgresql://h/db"})
    assert external.index.database_url is not None
    assert external.index.database_url.get_secret_value() == "postgresql://h/db"
    assert external.index.data_dir is None


async def _index_and_search(env: dict[str, str]) -> tuple[str, str, list[str]]:
    """(the sandbox's origin, the first search hit's origin, collection names) of one `serve --sandbox` run."""
    async with Client(stdio_params(env, "serve", "--sandbox")) as client:
        page = await call(client, "search_by_title", {"query": "Demo Home"})
        report = await call(client, "index_data", {"collection": "demo", "space": "DEMO"})
        assert report["added"] + report["updated"] > 0, report
        hits = await call(client, "search_index", {"query": "demo", "collection": "demo"})
        names = [c["name"] for c in (await call(client, "list_collections", {}))["collections"]]
    origin = urlsplit(page["results"][0]["url"])
    hit = urlsplit(hits["results"][0]["url"])
    return origin.netloc, hit.netloc, names


@pytest.mark.anyio
async def test_restarted_sandbox_indexes_apart_with_current_urls(tmp_path: Path) -> None:
    env = {"PYTHONPATH": str(REPO), "CONFLUENCE_MCP_LOG_LEVEL": "WARNING", "XDG_DATA_HOME": str(tmp_path),
           "HOME": str(tmp_path)}
    with anyio.fail_after(180):
        first, first_hit, names = await _index_and_search(env)
        second, second_hit, names_again = await _index_and_search(env)
    assert first == first_hit and second == second_hit and first != second
    assert names == names_again == ["demo"]
    data = tmp_path / "confluence-mcp"
    assert (data / "sandbox" / "pg").is_dir() and not (data / "pg").exists()
