"""The README's tool table is generated from the registry and must not go stale."""

from confluence_mcp.docs import README, update_readme


def test_readme_tool_table_is_current() -> None:
    current = README.read_text(encoding="utf-8")
    assert update_readme(current) == current, "run: python -m confluence_mcp.docs"
