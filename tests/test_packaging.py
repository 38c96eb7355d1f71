"""The Dockerfile, compose file and README are right by construction: parsed and checked, not run."""

import re
import shlex
import tomllib
from pathlib import Path

import yaml

from confluence_mcp.config import _ShortcutEnvSource

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
    known = set(_ShortcutEnvSource.CREDENTIAL) | set(_ShortcutEnvSource.TOOLKIT) | set(_ShortcutEnvSource.LISTS)
    known |= {"CONFLUENCE_MCP_DATABASE_URL", "CONFLUENCE_CUSTOM_HEADERS"}
    assert set(app["environment"]) <= known
    db = app["environment"]["CONFLUENCE_MCP_DATABASE_URL"]
    pg = services["pgvector"]["environment"]
    assert db == (f"postgresql://{pg['POSTGRES_USER']}:{pg['POSTGRES_PASSWORD']}@pgvector:5432/{pg['POSTGRES_DB']}")
    assert all(p.startswith("127.0.0.1:") for p in app["ports"])


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
