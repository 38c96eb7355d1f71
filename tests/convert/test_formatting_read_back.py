"""Inline formatting the writer produces from markdown reads back as markdown, not as placeholders: code holding
markup (`<code>*x*</code>` written as HTML) and adjacent runs of one format (`<b>a</b><b>b</b>`)."""

from __future__ import annotations

import pytest

from confluence_mcp.confluence.convert import markdown_to_storage, storage_to_markdown
from confluence_mcp.confluence.convert.canonical import canonicalize
from confluence_mcp.confluence.convert.merge import keep_unchanged_blocks
from confluence_mcp.confluence.convert.visible import renders_alike


def strict(markdown: str) -> str:
    return markdown_to_storage(markdown, strict_html=True)


@pytest.mark.parametrize("markdown", [
    "<code>*x*</code>", "a <code>a <b>b</b> c</code> d", "<code>`x`</code> and <code>[x](https://e.com)</code>",
    "# Head <code>*x*</code>", "| h |\n| --- |\n| <code>*x*</code> |", "- [ ] task <code>**x**</code>",
    "<b>a</b><b>b</b>", "<i>a</i><i>b</i> and <u>a</u><u>b</u>", "**<b>a</b><b>b</b>**", "x<sup>1</sup><sup>2</sup>",
    "| h |\n| --- |\n| <b>a</b><b>b</b> |", "<code>a</code><code>b</code>", "`a`<code>b</code>",
    "<s>a</s><s>b</s>",
])
def test_written_formatting_reads_back_as_markdown(markdown: str) -> None:
    storage = strict(markdown)
    read = storage_to_markdown(storage)
    assert "confluence-storage" not in read, read  # no placeholder
    written = strict(read)
    assert renders_alike(written, storage), (read, written)
    assert storage_to_markdown(written) == read  # a second edit cycle changes nothing
    assert keep_unchanged_blocks(storage, written) == storage  # an unchanged page keeps its stored bytes


@pytest.mark.parametrize(("storage", "markdown"), [
    ("<p><code><em>x</em></code></p>", "<code>*x*</code>"),
    ("<p><code>a*b <strong>c</strong></code></p>", "<code>a\\*b **c**</code>"),
    ("<p><strong>a</strong><strong>b</strong></p>", "**ab**"),
    ("<p><em>a</em><em>b</em> <strong>c</strong> <strong>d</strong></p>", "*ab* **c** **d**"),
    ("<p><code>a</code><code>b</code></p>", "`a`<code>b</code>"),
    ("<p><code>*x*</code></p>", "`*x*`"),  # code holding only text stays a code span
])
def test_reading(storage: str, markdown: str) -> None:
    assert storage_to_markdown(storage) == markdown


def test_adjacent_runs_render_alike_but_spaced_or_differently_styled_ones_do_not() -> None:
    assert renders_alike("<p><strong>a</strong><strong>b</strong></p>", "<p><strong>ab</strong></p>")
    assert renders_alike('<p><span style="color: red;">a</span><span style="color: red;">b</span></p>',
                         '<p><span style="color: red;">ab</span></p>')
    assert not renders_alike("<p><strong>a</strong> <strong>b</strong></p>", "<p><strong>ab</strong></p>")
    assert not renders_alike('<p><span style="color: red;">a</span><span style="color: blue;">b</span></p>',
                             '<p><span style="color: red;">ab</span></p>')
    assert not renders_alike("<p><strong>a</strong><em>b</em></p>", "<p><strong>ab</strong></p>")
    # Code runs stay apart: each is its own box on the page.
    assert canonicalize("<p><code>a</code><code>b</code></p>") != canonicalize("<p><code>ab</code></p>")


def test_an_unchanged_page_with_adjacent_runs_writes_back_its_stored_bytes() -> None:
    stored = "<p>x <strong>a</strong><strong>b</strong> y</p>\n<p>z <b>c</b><b>d</b></p>"
    read = storage_to_markdown(stored)
    assert read.startswith("x **ab** y\n\n"), read
    assert keep_unchanged_blocks(stored, strict(read)) == stored
    edited = strict(read.replace("y", "why"))
    assert keep_unchanged_blocks(stored, edited).startswith("<p>x <strong>ab</strong> why</p>")
