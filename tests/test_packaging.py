"""The Dockerfile, compose file and README are right by construction: parsed and checked, not run."""

import re
import shlex
import tomllib
from pathlib import Path

import yaml

from confluence_mcp.config import ENV_VARIABLES, load_settings

ROOT = Path(__file__).resolve().parents[1]


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_builds_the_package_and_runs_unprivileged() -> None:
    steps = dockerfile_instructions()
    base = next(rest for word, rest in steps if word == "FROM")
    major, minor = map(int, re.search(r"python:(\d+)\.(\d+)", base).groups())  # type: ignore[union-attr]
    assert (major, minor) >= (3, 11)
    for word, rest in steps:
        if word == "COPY":
            *sources, _dest = shlex.split(rest)
            for source in sources:
                assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"
    assert any(word == "USER" and rest not in {"root", "0"} for word, rest in steps)
    entry = next(rest for word, rest in steps if word == "ENTRYPOINT")
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert eval(entry)[0] in scripts  # JSON-array form
    cmd = eval(next(rest for word, rest in steps if word == "CMD"))
    port = cmd[cmd.index("--port") + 1]
    assert ("EXPOSE", port) in steps
    assert cmd[:3] == ["serve", "--transport", "http"]


def test_compose_wires_pgvector_and_known_variables() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"pgvector", "confluence-mcp"}
    assert "pgvector" in services["pgvector"]["image"]
    app = services["confluence-mcp"]
    assert app["build"] == "." and (ROOT / "Dockerfile").is_file()
    assert app["depends_on"]["pgvector"]["condition"] == "service_healthy"
    env = app["environment"]
    assert set(env) <= ENV_VARIABLES
    db = env["CONFLUENCE_MCP_DATABASE_URL"]
    pg = services["pgvector"]["environment"]
    assert db == (f"postgresql://{pg['POSTGRES_USER']}:{pg['POSTGRES_PASSWORD']}@pgvector:5432/{pg['POSTGRES_DB']}")
    assert all(p.startswith("127.0.0.1:") for p in app["ports"])


def test_compose_passes_every_variable_without_forcing_a_value() -> None:
    app = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["confluence-mcp"]
    env = app["environment"]
    # The image sets the data dir; compose sets the database and the config file's path.
    own = {"CONFLUENCE_MCP_DATA_DIR", "CONFLUENCE_MCP_DATABASE_URL", "CONFLUENCE_MCP_CONFIG"}
    assert set(env) == ENV_VARIABLES - {"CONFLUENCE_MCP_DATA_DIR"}
    # An unset variable reaches the container empty, which configuration reads as unset: no default is forced.
    assert {key: value for key, value in env.items() if key not in own} == {
        key: f"${{{key}:-}}" for key in ENV_VARIABLES - own}


def test_compose_mounts_the_config_file_read_only_when_named() -> None:
    app = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["confluence-mcp"]
    [mount] = [v for v in app["volumes"] if isinstance(v, dict) and v["target"] == "/config/config.toml"]
    assert mount["type"] == "bind" and mount["read_only"] is True
    # The fallback source must exist on every OS (Docker Desktop for Windows cannot bind /dev/null); it is not
    # read, since CONFLUENCE_MCP_CONFIG stays empty then.
    assert mount["source"] == "${CONFLUENCE_MCP_CONFIG_FILE:-./config.example.toml}"
    assert (ROOT / "config.example.toml").is_file()
    assert app["environment"]["CONFLUENCE_MCP_CONFIG"] == "${CONFLUENCE_MCP_CONFIG_FILE:+/config/config.toml}"
    assert load_settings(environ={"CONFLUENCE_MCP_CONFIG": ""}).credentials == {}  # empty: no file
    check = app["healthcheck"]["test"]
    assert check[0] == "CMD" and "127.0.0.1:8000/healthz" in " ".join(check)


def test_readme_documents_every_variable() -> None:
    readme = (ROOT / "README.md").read_text()
    assert [key for key in sorted(ENV_VARIABLES) if f"`{key}`" not in readme] == []


def test_readme_opens_with_the_two_commands() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    blocks = [i for i, line in enumerate(lines) if line.startswith("```")]
    first = lines[blocks[0] + 1 : blocks[1]]
    commands = [line for line in first if line.strip() and not line.startswith("#")]
    assert len(commands) == 2
    assert "confluence-mcp serve" in commands[0] or "confluence_mcp serve" in commands[0]
    assert "pytest" in commands[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pytest" in ci


def test_no_merge_conflict_markers_left_in_the_sources() -> None:
    marker = re.compile(r"^(<{7}|={7}|>{7})( |$)", re.MULTILINE)
    tracked = [*ROOT.joinpath("confluence_mcp").rglob("*.py"), *ROOT.joinpath("confluence_mcp").rglob("*.md"),
               *ROOT.glob("*.md")]
    left = [str(path.relative_to(ROOT)) for path in tracked if marker.search(path.read_text())]
    assert not left, f"merge conflict markers in {left}"
