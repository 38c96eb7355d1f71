"""Randomized round trips (fixed seed) over tables in the shapes the Server and Cloud editors store: cells mixing
empty lines, paragraphs, lists and inline markup with spaces and line breaks at its edges. Unchanged markdown writes
back the stored bytes (no new version), and an edit to the header cell changes nothing else in the table; the same
with a header column. A column added or removed together with a new row leaves every other stored cell as stored."""

from __future__ import annotations

import random
import re

import pytest

from confluence_mcp.confluence.convert import keep_unchanged_blocks, markdown_to_storage, storage_to_markdown
from confluence_mcp.confluence.convert.canonical import canonicalize
from confluence_mcp.confluence.convert.element_parts import element_parts

SEED, TABLES = 20240611, 200
WORDS = ["plan", "next step", "v2", "a * b", "1. first"]
# What editors leave at the edges of bold, italic and code: spaces, `&nbsp;`, line breaks.
EDGES = ["", "", "", " ", "&nbsp;", "<br/>", "<br/> "]


class _Editor:
    """Random cells as one editor writes them: Server's `<p><br/></p>` and bare list items, or Cloud's `<p />`
    and `<p>` in every item."""

    def __init__(self, rng: random.Random, cloud: bool) -> None:
        self.rng, self.cloud = rng, cloud
        self.blank = "<p />" if cloud else "<p><br/></p>"

    def inline(self) -> str:
        pieces = []
        for _ in range(self.rng.randint(1, 3)):
            roll, word = self.rng.random(), self.rng.choice(WORDS)
            if roll < 0.5:
                pieces.append(word)
            elif roll < 0.6:
                pieces.append("<br/>")
            elif roll < 0.7:  # markup around nothing but a break and spaces, as editors leave behind
                tag = self.rng.choice(["strong", "em"])
                pieces.append(f"<{tag}>{self.rng.choice(EDGES[3:])}{self.rng.choice(EDGES)}</{tag}>")
            else:
                tag = self.rng.choice(["strong", "em", "code"])
                edges = [edge for edge in EDGES if tag != "code" or "<" not in edge]  # code holds no break
                pieces.append(f"<{tag}>{self.rng.choice(edges)}{word}{self.rng.choice(edges)}</{tag}>")
        return self.rng.choice([" ", " ", ""]).join(pieces)

    def flow(self, depth: int) -> str:
        blocks = []
        for _ in range(self.rng.randint(1, 4)):
            roll = self.rng.random()
            if roll < 0.3:
                blocks.append(self.blank)
            elif roll < 0.65 or depth > 1:
                blocks.append(f"<p>{self.inline()}</p>")
            else:
                tag = self.rng.choice(["ul", "ol"])
                items = "".join(f"<li>{self.item(depth + 1)}</li>" for _ in range(self.rng.randint(1, 2)))
                blocks.append(f"<{tag}>{items}</{tag}>")
        return "".join(blocks)

    def item(self, depth: int) -> str:
        if self.cloud or self.rng.random() < 0.3:
            return self.flow(depth)
        return self.inline() + (self.flow(depth) if self.rng.random() < 0.3 else "")  # Server: the text bare

    def table(self) -> str:
        width = self.rng.randint(1, 2)
        cell = ' colspan="1"' if not self.cloud else ""
        header = "".join(f"<th{cell}>{'<p>' if self.cloud else ''}Column {index}{'</p>' if self.cloud else ''}"
                         "</th>" for index in range(width))
        rows = "".join("<tr>" + "".join(f"<td{cell}>{self.flow(0)}</td>" for _ in range(width)) + "</tr>"
                       for _ in range(self.rng.randint(1, 2)))
        opening = '<table data-table-width="760" data-layout="default" ac:local-id="t-1">' if self.cloud else \
            '<table class="wrapped">'
        return f"{opening}<colgroup>{'<col/>' * width}</colgroup><tbody><tr>{header}</tr>{rows}</tbody></table>"


def _tables() -> list[str]:
    rng = random.Random(SEED)
    return [_Editor(rng, cloud=index % 2 == 1).table() for index in range(TABLES)]


@pytest.fixture(scope="module")
def tables() -> list[tuple[str, str]]:
    return [(storage, storage_to_markdown(storage)) for storage in _tables()]


def test_unchanged_markdown_writes_back_every_random_table_as_stored(tables: list[tuple[str, str]]) -> None:
    rewritten = [storage for storage, markdown in tables
                 if keep_unchanged_blocks(storage, markdown_to_storage(markdown)) != storage]
    assert rewritten == []


def test_an_edit_to_the_header_keeps_every_other_cell_as_stored(tables: list[tuple[str, str]]) -> None:
    changed = []
    for storage, markdown in tables:
        assert markdown.startswith("| Column 0 |")
        merged = keep_unchanged_blocks(storage, markdown_to_storage(markdown.replace("Column 0", "First", 1)))
        if merged != storage.replace("Column 0", "First"):
            changed.append(storage)
    assert changed == []


def test_random_tables_with_a_header_column_write_back_as_stored() -> None:
    # The same cells with the first of every body row a `th`: read as markdown, unchanged or with the header edited
    # they keep every stored byte but the edit.
    first_cell = re.compile(r'<tr><td( colspan="1")?>(.*?)</td>')
    for plain in _tables()[: TABLES // 2]:
        storage = first_cell.sub(lambda match: f"<tr><th{match.group(1) or ''}>{match.group(2)}</th>", plain)
        markdown = storage_to_markdown(storage)
        assert "confluence-storage table" not in markdown
        assert keep_unchanged_blocks(storage, markdown_to_storage(markdown)) == storage
        edited = keep_unchanged_blocks(storage, markdown_to_storage(markdown.replace("Column 0", "First", 1)))
        assert edited == storage.replace("Column 0", "First")


def _cells(row: str) -> list[str]:
    """A stored row's cells, as stored."""
    parts = element_parts(row)
    assert parts is not None
    return parts.children


@pytest.mark.parametrize("removed", [False, True], ids=["column-added", "column-removed"])
def test_a_column_and_a_row_changed_keep_every_other_cell_as_stored(tables: list[tuple[str, str]],
                                                                    removed: bool) -> None:
    # A column added at a random place (or one removed) and a row added at the end in the same edit: every stored
    # cell left stays byte for byte, the new ones are as markdown writes them (in a `<p>` in a row of such cells: every
    # body row here, Cloud's header row), the column widths go.
    rng, changed = random.Random(SEED), []
    for storage, markdown in tables:
        lines = markdown.splitlines()
        width = len(lines[0][2:-2].split(" | "))
        if removed and width == 1:
            continue
        position = rng.randrange(width + (0 if removed else 1))
        edited = []
        for index, line in enumerate(lines):
            cells = line[2:-2].split(" | ")
            if removed:
                del cells[position]
            else:
                cells.insert(position, "---" if index == 1 else f"added {index}")
            edited.append("| " + " | ".join(cells) + " |")
        new_width = width - 1 if removed else width + 1
        edited.append("| " + " | ".join(f"new {column}" for column in range(new_width)) + " |")
        written = markdown_to_storage("\n".join(edited))
        merged = keep_unchanged_blocks(storage, written)
        assert canonicalize(merged) == canonicalize(written)
        body = storage[storage.index("<tbody>") + len("<tbody>") : storage.index("</tbody>")]
        rows = []
        for index, row in enumerate(re.findall(r"<tr>.*?</tr>", body)):
            cells = _cells(row)
            if removed:
                del cells[position]
            else:  # markdown line 0 is the header row, line 1 the delimiter; in `<p>` as the row's other cells
                kind, text = "th" if index == 0 else "td", f"added {index + 1 if index else 0}"
                text = f"<p>{text}</p>" if index or "data-layout" in storage else text
                cells.insert(position, f"<{kind}>{text}</{kind}>")
            rows.append("<tr>" + "".join(cells) + "</tr>")
        rows.append("<tr>" + "".join(f"<td>new {column}</td>" for column in range(new_width)) + "</tr>")
        expected = storage[: storage.index("<colgroup>")] + "<tbody>" + "".join(rows) + "</tbody></table>"
        if merged != expected:
            changed.append((storage, merged, expected))
    assert changed == []
