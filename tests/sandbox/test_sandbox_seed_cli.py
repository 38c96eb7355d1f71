"""Seeding (JSONL corpus, demo, empty), the CLI and subprocess runner, and the issue's done-when check."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sandbox_helpers import REPO_ROOT, page_id, shared_dir

from confluence_mcp.sandbox.model import SandboxError
from confluence_mcp.sandbox.runner import SandboxOptions, start_sandbox
from confluence_mcp.sandbox.seed import load_corpus, seed_store
from confluence_mcp.sandbox.store import Store, default_user

HANDBOOK = shared_dir() / "corpora" / "handbook.jsonl"
SAMPLE = REPO_ROOT / "tests" / "data" / "handbook_sample.jsonl"


def write_corpus(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n", encoding="utf-8")
    return path


def test_corpus_parents_labels_duplicates_and_markdown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    corpus = write_corpus(tmp_path / "c.jsonl", [
        {"key": "a/child.md", "space": "kb", "title": "Child", "parent_key": "a/index.md", "labels": ["x"],
         "markdown": "# Child\n\nSee **bold** and `code`.\n\n```python\nprint(1)\n```\n"},
        {"key": "a/index.md", "space": "kb", "title": "Root", "parent_key": None, "labels": [],
         "markdown": "- [ ] todo\n- [x] done\n"},
        {"key": "b/other.md", "space": "kb", "title": "child", "parent_key": "missing.md", "labels": [],
         "markdown": "Duplicate title, different case."},
    ])
    store = Store("cloud", user=default_user("sandbox@example.com"))
    assert load_corpus(store, corpus) == 3
    child = store.list_content(space_key="KB", title="Child")[0]
    assert store.ancestors(child)[0].title == "Root"
    assert "ac:structured-macro" in child.body and [lb.name for lb in child.labels] == ["x"]
    assert store.list_content(space_key="KB", title="child (other.md)")  # made unique, like Confluence must
    assert store.space("KB").name == "Kb"
    assert [hit.id for hit, _ in store.search('text ~ "bold"')] == [child.id]
    again = Store("cloud", user=default_user("sandbox@example.com"))
    assert load_corpus(again, corpus) == 3 and list((tmp_path / "cache").rglob("*.json"))  # cached


def test_seed_variants(tmp_path: Path) -> None:
    empty = Store("server", user=default_user("sandbox@example.com"))
    seed_store(empty, None)
    assert not empty.spaces
    with pytest.raises(FileNotFoundError):
        seed_store(empty, tmp_path / "missing.jsonl")
    demo = Store("server", user=default_user("sandbox@example.com"))
    seed_store(demo, "demo")
    bodies = " ".join(c.body for c in demo.contents.values())
    for macro in ("code", "info", "note", "warning", "tip", "expand", "toc", "status", "jira"):
        assert f'ac:name="{macro}"' in bodies, macro
    for element in ("<ri:page", "ri:userkey=", "<table>", "<ac:task-list>",
                    "<ac:image"):
        assert element in bodies, element
    depth = max(len(demo.ancestors(c)) for c in demo.contents.values())
    assert depth >= 3
    with pytest.raises(SandboxError):
        demo.create(space_key="DEMO", title="demo home", body="<p/>")


def test_web_ui_routes(tmp_path: Path) -> None:
    with start_sandbox(SandboxOptions(flavor="server", context_path="confluence")) as sandbox, \
            httpx.Client(base_url=sandbox.base_url, auth=sandbox.auth) as http:
        assert sandbox.base_url.endswith("/confluence")
        assert "Demo Space" in http.get("/").text
        page = http.get("/display/DEMO/Installation+Guide")
        assert page.status_code == 200 and "pip install" in page.text
        pid = page_id(http, "Installation Guide")
        assert "pip install" in http.get("/pages/viewpage.action", params={"pageId": pid}).text


@pytest.mark.skipif(not (HANDBOOK.is_file() or SAMPLE.is_file()), reason="no handbook corpus available")
def test_done_when_handbook_leave_pages_via_cli_subprocess() -> None:
    """`confluence-mcp sandbox --seed handbook.jsonl` + the issue's curl for BENEFITS leave pages."""
    corpus = HANDBOOK if HANDBOOK.is_file() else SAMPLE
    options = SandboxOptions(seed=str(corpus), port=0)
    with start_sandbox(options, subprocess=True) as sandbox:
        assert sandbox.store is None and sandbox.base_url.endswith("/wiki")
        url = sandbox.base_url + "/rest/api/content/search?cql=space%3DBENEFITS%20and%20title~%22leave%22"
        response = httpx.get(url, auth=("sandbox@example.com", "sandbox-token"), timeout=30)
        assert response.status_code == 200
        found = [r["title"] for r in response.json()["results"]]
        assert found and all("leave" in title.lower() for title in found)
        if corpus == HANDBOOK:
            assert "Sourcegraph Paid Parental Leave Policy" in found
            spaces = httpx.get(sandbox.base_url + "/rest/api/space", auth=sandbox.auth).json()
            assert {"BENEFITS", "COMPANY", "DEPT", "HANDBOOK", "STRATEGY", "TEAM"} <= {
                s["key"] for s in spaces["results"]}


def test_top_level_cli_help_lists_sandbox_options() -> None:
    result = subprocess.run([sys.executable, "-m", "confluence_mcp.sandbox.cli", "--help"],
                            capture_output=True, text=True, timeout=60, check=True)
    for option in ("--flavor", "--seed", "--faults", "--user", "--token", "--port", "--host"):
        assert option in result.stdout


def test_cli_reports_bad_seed() -> None:
    result = subprocess.run([sys.executable, "-m", "confluence_mcp.sandbox.cli", "--port", "0", "--seed",
                             "/nonexistent/corpus.jsonl"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "seed corpus not found" in result.stderr


def test_cli_refuses_a_port_out_of_range_in_one_line() -> None:
    result = subprocess.run([sys.executable, "-m", "confluence_mcp.sandbox.cli", "--port", "99999"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "'99999' is not a TCP port (0..65535; 0 picks a free one)" in result.stderr


def test_subprocess_runner_passes_every_option() -> None:
    options = SandboxOptions(flavor="server", seed="demo", context_path="/confluence", user="me@example.com",
                             token="t0k", hidden_spaces=("PRIVATE",), read_only_spaces=("ARCHIVE",))
    with start_sandbox(options, subprocess=True) as sandbox:
        assert sandbox.base_url.endswith("/confluence")
        with httpx.Client(base_url=sandbox.base_url, auth=("me@example.com", "t0k"), timeout=10) as http:
            keys = {s["key"] for s in http.get("/rest/api/space").json()["results"]}
            assert keys == {"DEMO", "ARCHIVE"}
            old = page_id(http, "Old Roadmap", "ARCHIVE")
            assert http.post(f"/rest/api/content/{old}/label", json=[{"name": "x"}]).status_code == 403
        assert httpx.get(sandbox.base_url + "/rest/api/space", auth=("sandbox@example.com",
                                                                      "sandbox-token")).status_code == 401


def test_any_seeded_space_can_be_hidden_or_read_only() -> None:
    # Permissions apply to requests, not to seeding: even the demo space itself can be hidden.
    options = SandboxOptions(seed="demo", hidden_spaces=("DEMO",), read_only_spaces=("PRIVATE",))
    with start_sandbox(options) as sandbox, httpx.Client(
            base_url=sandbox.base_url, auth=("sandbox@example.com", "sandbox-token"), timeout=10) as http:
        assert http.get("/rest/api/space/DEMO").status_code == 404
        keys = {s["key"] for s in http.get("/rest/api/space").json()["results"]}
        assert "DEMO" not in keys and "PRIVATE" in keys
        private = page_id(http, http.get("/rest/api/space/PRIVATE/content/page").json()["results"][0]["title"],
                          "PRIVATE")
        assert http.post(f"/rest/api/content/{private}/label", json=[{"name": "x"}]).status_code == 403
