"""A config file for `confluence-mcp index` runs in tests: the sandbox's credential, one toolkit, the test index."""

from __future__ import annotations

from pathlib import Path

from confluence_mcp.config import IndexSettings


def write_config(path: Path, base_url: str, index: IndexSettings, toolkit: str = 'space = "TEAM"') -> Path:
    """`toolkit` is the body of `[toolkits.default]` (TOML lines)."""
    assert index.database_url is not None
    path.write_text(
        f'[credentials.default]\nbase_url = "{base_url}"\nusername = "sandbox@example.com"\n'
        f'api_token = "sandbox-token"\n\n[toolkits.default]\n{toolkit}\n\n'
        f'[index]\ndatabase_url = "{index.database_url.get_secret_value()}"\n', encoding="utf-8")
    return path
