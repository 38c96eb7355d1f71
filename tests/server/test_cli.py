"""The `confluence-mcp` command: parser, configuration errors, check, serve --sandbox, logs on stderr only."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import anyio
import pytest
from _mcp_fixtures import REPO, call, free_port, sandbox_env, stdio_params
from mcp import Client

from confluence_mcp.cli import build_parser


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CONFLUENCE")}
    return subprocess.run([sys.executable, "-m", "confluence_mcp", *args], env={**base, **(env or {})},
                          cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False)


def test_parser_defaults() -> None:
    args = build_parser().parse_args(["serve"])
    assert (args.transport, args.host, args.port, args.sandbox) == ("stdio", "127.0.0.1", 8000, False)
    args = build_parser().parse_args(["serve", "--transport", "http", "--port", "9", "--sandbox"])
    assert (args.transport, args.port, args.sandbox) == ("http", 9, True)


@pytest.mark.parametrize("argv", [["--config", "f.toml", "--log-level", "debug", "check"],
                                  ["check", "--config", "f.toml", "--log-level", "debug"],
                                  ["--config", "f.toml", "--log-level", "debug", "serve", "--port", "9"]])
def test_common_options_work_before_or_after_the_subcommand(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert (args.config, args.log_level) == ("f.toml", "DEBUG")


def test_common_options_before_index_and_sandbox_apply(tmp_path: Any) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text('[credentials.default]\nbase_url = "ftp://x"\n')
    index = run_cli("--config", str(toml), "index", "--quiet")
    assert index.returncode == 2, index.stderr
    assert "confluence-mcp index: config: credentials.default: base_url must start with" in index.stderr
    usage = run_cli("--log-level", "debug", "index", "--help")
    assert usage.returncode == 0 and "--space" in usage.stdout
    sandbox = run_cli("--config", str(toml), "sandbox")
    assert sandbox.returncode == 2 and "sandbox reads no configuration file" in sandbox.stderr


def test_version() -> None:
    from confluence_mcp import __version__

    result = run_cli("--version")
    assert (result.returncode, result.stdout.strip()) == (0, f"confluence-mcp {__version__}")


@pytest.mark.parametrize("port", ["0", "99999", "http"])
def test_port_out_of_range_is_one_line(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["serve", "--port", port])
    assert info.value.code == 2
    assert "is not a TCP port (1..65535)" in capsys.readouterr().err


def test_bad_configuration_fails_with_one_line_per_problem() -> None:
    result = run_cli("serve", env={"CONFLUENCE_URL": "ftp://x", "CONFLUENCE_SPACE": "My Space",
                                   "CONFLUENCE_MCP_TOOLS": "search_pages,nope"})
    assert result.returncode == 2
    assert result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.startswith("confluence-mcp: config:")]
    assert any("base_url" in line for line in lines) and any("space name" in line for line in lines)


def test_incomplete_configuration_fails_instead_of_serving_the_sandbox(tmp_path: Any) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text('[credentials.prod]\nusername = "me@example.com"\napi_token = "t"\n')
    typo = {"CONFLUENCE_BASE_URL": "https://x.atlassian.net/wiki", "CONFLUENCE_USERNAME": "a@b.c",
            "CONFLUENCE_API_TOKEN": "t"}
    for args, env, expected in [
        (("--config", str(toml), "serve"), {}, "credentials.prod: base_url is missing"),
        (("serve",), {"CONFLUENCE_MCP_CONFIG": str(toml)}, "credentials.prod: base_url is missing"),
        (("serve",), typo, "environment: CONFLUENCE_BASE_URL is not a variable confluence-mcp reads "
                           "(did you mean CONFLUENCE_URL?)"),
    ]:
        result = run_cli(*args, env=env)
        assert result.returncode == 2, result.stderr
        assert any(line.startswith(f"confluence-mcp: config: {expected}") for line in result.stderr.splitlines())
        assert "sandbox" not in result.stderr


def test_variables_of_other_tools_get_the_right_hint() -> None:
    from confluence_mcp.cli import _unknown_variables

    assert _unknown_variables({"CONFLUENCE_USER": "a@b.c", "CONFLUENCE_PERSONAL_TOKEN": "t"}) == [
        "environment: CONFLUENCE_PERSONAL_TOKEN is not a variable confluence-mcp reads "
        "(did you mean CONFLUENCE_TOKEN?)",
        "environment: CONFLUENCE_USER is not a variable confluence-mcp reads (did you mean CONFLUENCE_USERNAME?)"]
    # CONFLUENCE_URL alone is a valid (anonymous) configuration: the hint still reaches stderr.
    anonymous = run_cli("check", env={"CONFLUENCE_URL": f"http://127.0.0.1:{free_port()}/wiki",
                                      "CONFLUENCE_PERSONAL_TOKEN": "t"})
    assert anonymous.returncode == 1 and "(did you mean CONFLUENCE_TOKEN?)" in anonymous.stderr


def test_a_confluence_hosts_own_variables_name_no_site() -> None:
    from confluence_mcp.cli import _site_variables

    assert _site_variables({"CONFLUENCE_HOME": "/var/atlassian/confluence", "CONFLUENCE_MCP_LIMIT": "5"}) == []
    assert _site_variables({"CONFLUENCE_URL": "https://x", "CONFLUENCE_HOME": "/h"}) == ["CONFLUENCE_URL"]


def test_unknown_tool_fails_at_start() -> None:
    result = run_cli("serve", env={"CONFLUENCE_URL": "http://127.0.0.1:9/wiki", "CONFLUENCE_USERNAME": "u",
                                   "CONFLUENCE_API_TOKEN": "t", "CONFLUENCE_MCP_TOOLS": "search_pages,nope"})
    assert result.returncode == 2 and "nope" in result.stderr and "valid names" in result.stderr


def test_bad_files_and_variables_are_one_line(tmp_path: Any) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text("[credentials.default\n")
    for args, env, expected in [
        (("check", "--config", str(toml)), {}, f"config file {toml} is not valid TOML"),
        (("check",), {"CONFLUENCE_MCP_LOG_LEVEL": "verbose"}, "CONFLUENCE_MCP_LOG_LEVEL: 'verbose' is not one of"),
    ]:
        result = run_cli(*args, env=env)
        [line] = result.stderr.splitlines()
        assert result.returncode == 2 and line.startswith(f"confluence-mcp: config: {expected}")


def test_config_file_log_level_applies_unless_overridden(tmp_path: Any) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text(f'log_level = "DEBUG"\n[credentials.default]\nbase_url = "http://127.0.0.1:{free_port()}/wiki"\n')
    loud = run_cli("check", "--config", str(toml))
    assert loud.returncode == 1 and "DEBUG httpcore" in loud.stderr
    for quiet in (run_cli("--log-level", "WARNING", "check", "--config", str(toml)),
                  run_cli("check", "--config", str(toml), env={"CONFLUENCE_MCP_LOG_LEVEL": "INFO"})):
        assert quiet.returncode == 1 and "DEBUG" not in quiet.stderr


def test_check_against_sandbox(flavor_sandbox: Any) -> None:
    ok = run_cli("check", env=sandbox_env(flavor_sandbox))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "All checks passed" in ok.stdout
    bad = run_cli("check", env=sandbox_env(flavor_sandbox, CONFLUENCE_API_TOKEN="wrong"))
    assert bad.returncode == 1 and "FAIL" in bad.stdout


@pytest.mark.anyio
async def test_serve_sandbox_needs_no_configuration() -> None:
    env = {"PYTHONPATH": str(REPO), "CONFLUENCE_MCP_LOG_LEVEL": "WARNING"}
    with anyio.fail_after(90):
        async with Client(stdio_params(env, "serve", "--sandbox")) as client:
            page = await call(client, "get_page_id_by_title", {"title": "Demo Home"})
    assert page["space"] == "DEMO"


@pytest.mark.anyio
async def test_unconfigured_serve_falls_back_to_sandbox() -> None:
    env = {"PYTHONPATH": str(REPO), "CONFLUENCE_MCP_LOG_LEVEL": "WARNING"}
    with anyio.fail_after(90):
        async with Client(stdio_params(env)) as client:
            out = await call(client, "search_by_title", {"query": "Demo"})
    assert out["results"]


def test_config_example_is_valid(tmp_path: Any) -> None:
    from confluence_mcp.config import load_settings
    from confluence_mcp.server import build_server

    pat = tmp_path / "pat"
    pat.write_text("token")
    text = (REPO / "config.example.toml").read_text().replace("~/.config/confluence-mcp/pat", str(pat))
    path = tmp_path / "config.toml"
    path.write_text(text)
    settings = load_settings(path, environ={"CONFLUENCE_API_TOKEN": "x"})
    assert [k.prefix for k in settings.resolved_toolkits()] == ["docs_", "hr_"]
    build_server(settings)
