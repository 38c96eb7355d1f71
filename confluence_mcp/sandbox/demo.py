"""The built-in DEMO space: a three-level page tree exercising macros, links, mentions, tables, tasks,
labels and image attachments (real PNGs generated here, so no binary files live in the repo)."""

from __future__ import annotations

import struct
import zlib
from datetime import timedelta

from confluence_mcp.sandbox.model import User, utc_now
from confluence_mcp.sandbox.store import Store

__all__ = ["ARCHIVE_SPACE", "DEMO_SPACE", "PRIVATE_SPACE", "load_demo", "make_png"]

DEMO_SPACE = "DEMO"
# Two small extra spaces so permissions can be exercised: run with hidden_spaces=("PRIVATE",) and
# read_only_spaces=("ARCHIVE",) to get 404s and 403s.
PRIVATE_SPACE = "PRIVATE"
ARCHIVE_SPACE = "ARCHIVE"


def make_png(width: int, height: int, rgb: tuple[int, int, int], stripe: tuple[int, int, int]) -> bytes:
    """A valid RGB PNG with diagonal stripes (so viewers show something recognisable)."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter type "none"
        for x in range(width):
            rows.extend(stripe if (x + y) // 8 % 2 else rgb)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(rows))) + chunk(
        b"IEND", b"")


def _macro(name: str, body: str = "", **params: str) -> str:
    parameters = "".join(f'<ac:parameter ac:name="{k}">{v}</ac:parameter>' for k, v in params.items())
    return f'<ac:structured-macro ac:name="{name}" ac:schema-version="1">{parameters}{body}</ac:structured-macro>'


def _rich(name: str, inner: str, **params: str) -> str:
    return _macro(name, f"<ac:rich-text-body>{inner}</ac:rich-text-body>", **params)


def _code(language: str, code: str) -> str:
    return _macro("code", f"<ac:plain-text-body><![CDATA[{code}]]></ac:plain-text-body>", language=language)


def _link(title: str, label: str | None = None) -> str:
    body = f"<ac:plain-text-link-body><![CDATA[{label}]]></ac:plain-text-link-body>" if label else ""
    return f'<ac:link><ri:page ri:content-title="{title}" ri:space-key="{DEMO_SPACE}"/>{body}</ac:link>'


def _image(filename: str, alt: str) -> str:
    return f'<ac:image ac:alt="{alt}" ac:width="320"><ri:attachment ri:filename="{filename}"/></ac:image>'


def _tasks(*items: tuple[str, bool]) -> str:
    tasks = "".join(f"<ac:task><ac:task-id>{i}</ac:task-id><ac:task-status>"
                    f"{'complete' if done else 'incomplete'}</ac:task-status><ac:task-body>{text}</ac:task-body>"
                    f"</ac:task>" for i, (text, done) in enumerate(items, start=1))
    return f"<ac:task-list>{tasks}</ac:task-list>"


def _table(header: list[str], *rows: list[str]) -> str:
    head = "".join(f"<th><p>{h}</p></th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td><p>{c}</p></td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tbody><tr>{head}</tr>{body}</tbody></table>"


def load_demo(store: Store) -> None:
    cloud = store.flavor == "cloud"
    alice = store.add_user(User(account_id="557058:alice-0002", username="alice", user_key="8a7f8081alice0002",
                                display_name="Alice Example", email="alice@example.com"))
    bob = store.add_user(User(account_id="557058:bob-0003", username="bob", user_key="8a7f8081bob0003",
                              display_name="Bob Builder", email="bob@example.com"))

    def mention(user: User) -> str:
        ident = f'ri:account-id="{user.account_id}"' if cloud else f'ri:userkey="{user.user_key}"'
        return f"<ac:link><ri:user {ident}/></ac:link>"

    store.create_space(DEMO_SPACE, "Demo Space", description="A small space that exercises every feature.")
    start = utc_now() - timedelta(days=30)

    def page(title: str, body: str, parent: str | None = None, labels: tuple[str, ...] = (),
             days: int = 0, author: User | None = None, kind: str = "page") -> str:
        content = store.create(space_key=DEMO_SPACE, title=title, body=body, parent_id=parent, labels=labels,
                               content_type=kind, when=start + timedelta(days=days),
                               author=(author or store.current_user).account_id, check=False)
        return content.id

    home = page("Demo Home", (
        "<p>Welcome to the <strong>Confluence sandbox</strong>. This space shows what the tools can read and write.</p>"
        + _macro("toc", maxLevel="2")
        + "<h2>Where to start</h2><ul>"
        f"<li>{_link('Getting Started')}</li><li>{_link('Architecture Overview', 'the architecture')}</li>"
        f"<li>{_link('Team Directory')}</li></ul>"
        + _rich("info", "<p>Everything here is fake data, safe to edit.</p>", title="About this space")
        + f"<h2>Status</h2><p>Project state: {_macro('status', colour='Green', title='ON TRACK')}</p>"
        + f"<p>Owner: {mention(alice)}</p>" + _image("sandbox-logo.png", "Sandbox logo")),
        labels=("demo", "home"))
    getting = page("Getting Started", (
        "<p>Install the tool, configure a site, then run your first search.</p>"
        + _rich("note", "<p>You need Python 3.11 or newer.</p>")
        + "<h2>Checklist</h2>" + _tasks(("Install the package", True), ("Configure credentials", False),
                                         ("Run a first search", False))
        + _rich("tip", "<p>Use the sandbox to try things without touching production.</p>")),
        home, ("onboarding", "guide"), days=1, author=alice)
    install = page("Installation Guide", (
        "<p>Install with pip and check the version.</p>"
        + _code("bash", "pip install confluence-mcp\nconfluence-mcp --version")
        + _rich("warning", "<p>Never commit your API token.</p>", title="Security")
        + _rich("expand", "<p>On Windows, run the commands in PowerShell.</p>", title="Windows notes")
        + _macro("jira", key="DEMO-42", serverId="0b1c2d3e-demo-jira")
        + f"<p>Back to {_link('Getting Started')}.</p>"),
        getting, ("onboarding", "install"), days=2)
    page("Troubleshooting", (
        "<h2>Connection refused</h2><p>Check the base URL; Cloud sites need the <code>/wiki</code> prefix.</p>"
        "<h2>401 Unauthorized</h2><p>Use your e-mail and an API token, not your password.</p>"
        + _code("python", 'import httpx\nprint(httpx.get("http://127.0.0.1:8090/wiki/rest/api/space"))')),
        install, ("troubleshooting",), days=3, author=bob)
    page("Configuration", (
        "<p>Settings come from the environment or a TOML file.</p>"
        + _table(["Variable", "Meaning", "Default"], ["CONFLUENCE_URL", "Site base URL", "none"],
                 ["CONFLUENCE_USERNAME", "E-mail for Basic auth", "none"],
                 ["CONFLUENCE_API_TOKEN", "API token", "none"])
        + _code("toml", '[toolkits.default]\nurl = "http://127.0.0.1:8090/wiki"\nspaces = ["DEMO"]')),
        getting, ("configuration", "guide"), days=4)
    architecture = page("Architecture Overview", (
        "<p>The server talks to Confluence over REST and keeps a semantic index in Postgres.</p>"
        + _image("architecture.png", "Architecture diagram")
        + _table(["Component", "Responsibility"], ["Client", "REST calls, retries"],
                 ["Index", "Embeddings and hybrid search"], ["Tools", "What the agent calls"])
        + f"<p>Reviewed by {mention(bob)}.</p>"),
        home, ("architecture", "design"), days=5, author=bob)
    page("Components", (
        "<h2>Client</h2><p>Pooled HTTP with typed errors.</p><h2>Converter</h2>"
        "<p>Markdown to storage format and back.</p>"
        + _rich("info", "<p>See " + _link("Architecture Overview") + " for the big picture.</p>")),
        architecture, ("architecture",), days=6)
    page("Team Directory", (
        "<p>Who to ask.</p>"
        + _table(["Person", "Area"], [mention(alice), "Search and index"], [mention(bob), "Writes and attachments"])
        + '<p>External docs: <a href="https://example.com/docs">example.com/docs</a></p>'),
        home, ("team",), days=7)
    page("Release Notes", (
        f"<h2>0.2.0 {_macro('status', colour='Blue', title='BETA')}</h2><ul><li>Semantic search</li>"
        "<li>Attachments</li></ul>"
        f"<h2>0.1.0 {_macro('status', colour='Grey', title='RELEASED')}</h2><p>First release.</p>"),
        home, ("release-notes",), days=8)
    page("Welcome to the sandbox", "<p>A blog post, so <code>type = blogpost</code> has something to find.</p>",
         labels=("announcement",), days=9, kind="blogpost")

    store.add_attachment(home, "sandbox-logo.png", make_png(96, 48, (0, 82, 204), (255, 255, 255)),
                         media_type="image/png", comment="Sandbox logo", check=False)
    store.add_attachment(architecture, "architecture.png", make_png(160, 90, (54, 179, 126), (23, 43, 77)),
                         media_type="image/png", comment="Architecture diagram", check=False)
    store.create_space(PRIVATE_SPACE, "Private Space", description="Hide it to test 404s.")
    store.create(space_key=PRIVATE_SPACE, title="Salary Bands", body="<p>Confidential compensation data.</p>",
                 labels=("confidential",), when=start, check=False)
    store.create_space(ARCHIVE_SPACE, "Archive", description="Make it read-only to test 403s.")
    store.create(space_key=ARCHIVE_SPACE, title="Old Roadmap", body="<p>The 2020 roadmap, kept for history.</p>",
                 labels=("archived",), when=start, check=False)

    store.add_attachment(install, "install-notes.txt", b"1. pip install confluence-mcp\n2. configure\n",
                         media_type="text/plain", comment="Plain-text notes", check=False)
