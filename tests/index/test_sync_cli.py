"""`confluence-mcp index` end to end: config file, sandbox over HTTP, real Postgres; progress on stderr."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from cli_config import write_config

from confluence_mcp.config import IndexSettings
from confluence_mcp.index.cli import add_arguments, run
from confluence_mcp.sandbox.runner import SandboxOptions, start_sandbox

SAMPLE = Path(__file__).parents[1] / "data" / "handbook_sample.jsonl"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="confluence-mcp index")
    add_arguments(parser)
    return parser.parse_args(argv)


def test_index_cli_builds_then_refreshes(tmp_path: Path, index_settings: IndexSettings,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert index_settings.database_url is not None
    with start_sandbox(SandboxOptions(seed=SAMPLE)) as sandbox:
        config = write_config(tmp_path / "config.toml", sandbox.base_url, index_settings)
        assert run(parse(["--config", str(config)])) == 0
        first = capsys.readouterr()
        report = json.loads(first.out)
        assert report["collection"] == "team" and report["added"] == 7
        assert "7/7" in first.err and "[#" in first.err

        assert run(parse(["--config", str(config), "--collection", "team", "--quiet"])) == 0
        second = capsys.readouterr()
        assert json.loads(second.out)["unchanged"] == 7 and second.err == ""

        assert run(parse(["--config", str(config), "--space", "BENEFITS"])) == 1  # policy: outside allowed spaces
        assert "allowed spaces" in capsys.readouterr().err

        # No default space: every allowed space, as index_data does.
        text = config.read_text(encoding="utf-8")
        config.write_text(text.replace('space = "TEAM"', 'allowed_spaces = ["TEAM", "BENEFITS"]'), encoding="utf-8")
        assert run(parse(["--config", str(config), "--collection", "both", "--quiet"])) == 0
        both = json.loads(capsys.readouterr().out)
        assert both["added"] > 7 and "TEAM" in both["selection"] and "BENEFITS" in both["selection"]
    assert run(parse(["--config", str(tmp_path / "missing.toml")])) == 2
