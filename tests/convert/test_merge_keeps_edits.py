"""A markdown write keeps the stored bytes of unchanged blocks only: edits the canonical comparison would equate
(whitespace in code, a space before a link, text after an empty paragraph) are written."""

from __future__ import annotations

import pytest

from confluence_mcp.confluence.convert import keep_unchanged_blocks, markdown_to_storage, storage_to_markdown
from confluence_mcp.confluence.convert.canonical import canonicalize

STORED = markdown_to_storage("Intro\n\n```yaml\na:\n  b: 1\n```\n\nSee [docs](https://x.org) now.\n")


@pytest.mark.parametrize("edit", [
    ("  b: 1", "b: 1"),  # indentation is meaning in YAML
    ("a:\n", "a:   \n"),  # trailing spaces on a code line
    ("See [docs]", "See[docs]"),  # a space before a link
], ids=["code-indent", "code-trailing-spaces", "space-before-link"])
def test_edits_the_canonical_form_equates_are_written(edit: tuple[str, str]) -> None:
    markdown = storage_to_markdown(STORED)
    assert edit[0] in markdown
    new = markdown_to_storage(markdown.replace(*edit))
    merged = keep_unchanged_blocks(STORED, new)
    assert merged != STORED
    assert storage_to_markdown(merged) == markdown.replace(*edit).strip()


def test_unchanged_markdown_keeps_the_stored_bytes() -> None:
    assert keep_unchanged_blocks(STORED, markdown_to_storage(storage_to_markdown(STORED))) == STORED


def test_text_after_an_empty_paragraph_counts() -> None:
    stored = "<p>Intro</p><table><tbody><tr><th>Key</th></tr><tr><td><p />Secret</td></tr></tbody></table>"
    assert canonicalize(stored) != canonicalize(stored.replace("Secret", ""))
    edited = markdown_to_storage(storage_to_markdown(stored).replace("Secret", "Public"))
    assert "Public" in keep_unchanged_blocks(stored, edited)


@pytest.mark.parametrize("stored", [
    "<p>Run <code>make  all</code> now</p>",  # inline code reads collapsed: unchanged markdown changes nothing
    "<p>Run <code>make </code>now</p>",
    "<p>Hi <ac:link><ri:user ri:account-id=\"557058:abc\"/></ac:link> and <ac:emoticon ac:name=\"tick\"/> ok</p>",
], ids=["inline-code-spaces", "inline-code-edge", "mention-emoticon"])
def test_unchanged_inline_elements_keep_the_stored_bytes(stored: str) -> None:
    assert keep_unchanged_blocks(stored, markdown_to_storage(storage_to_markdown(stored))) == stored


@pytest.mark.parametrize("stored, edit", [
    ('<p>Ping <ac:link><ri:user ri:account-id="557058:abc"/></ac:link> please</p>', ("Ping [", "Ping[")),
    ('<p>Logo <ac:image><ri:attachment ri:filename="a.png"/></ac:image> here</p>', ("Logo ![", "Logo![")),
    ('<p>Done <ac:emoticon ac:name="tick"/> ok</p>', ("Done [", "Done[")),
], ids=["mention", "image", "emoticon"])
def test_spacing_around_elements_without_text_counts(stored: str, edit: tuple[str, str]) -> None:
    markdown = storage_to_markdown(stored)
    assert edit[0] in markdown
    new = markdown_to_storage(markdown.replace(*edit))
    assert keep_unchanged_blocks(stored, new) == new != stored


def test_cloud_block_images_read_as_markdown_and_write_back_unchanged() -> None:
    stored = ('<p>Intro</p><ac:image ac:align="center" ac:layout="center" ac:original-width="800">'
              '<ri:attachment ri:filename="team.png" ri:version-at-save="1"/></ac:image><p>After</p>')
    markdown = storage_to_markdown(stored)
    assert '![](team.png "align=center layout=center original-width=800")' in markdown.splitlines()
    assert keep_unchanged_blocks(stored, markdown_to_storage(markdown)) == stored
    wider = markdown_to_storage(markdown.replace("layout=center", "layout=wide"))
    assert keep_unchanged_blocks(stored, wider) != stored and 'ac:layout="wide"' in wider


def test_image_titles_carry_only_display_attributes() -> None:
    styled = '<p>a <ac:image ac:style="border: 1px"><ri:attachment ri:filename="a.png"/></ac:image></p>'
    assert "confluence-storage:" in storage_to_markdown(styled)  # free CSS stays in the validated placeholder
    written = markdown_to_storage('x ![](a.png "style=url(javascript:alert(1)) width=3")')
    assert "javascript" in written and "ac:style" not in written  # not a display title: a plain tooltip


@pytest.mark.parametrize(("stored", "edit", "merged"), [
    ("<h1>Notes</h1><p>first</p><p>last</p>\n", ("first", "1st"), "<h1>Notes</h1><p>1st</p><p>last</p>\n"),
    ("<p>first</p><p>last</p><p><br/></p>\n\n", ("first", "1st"), "<p>1st</p><p>last</p><p><br/></p>\n\n"),
    ("\n<p>first</p><p>last</p>\n", ("last", "final"), "\n<p>first</p><p>final</p>\n"),
    ("<p>first</p><p>last</p>\n", ("last", "final"), "<p>first</p><p>final</p>\n"),
    ("\n<p>first</p>\n", ("first", "1st"), "\n<p>1st</p>\n"),
    ("<p><br/></p><p>first</p><p>last</p>\n", ("first", "1st"), "<p><br/></p><p>1st</p><p>last</p>\n"),
    ("<p /><h1>T</h1><p>x</p>", ("# T", "# U"), "<p /><h1>U</h1><p>x</p>"),
], ids=["server-newline", "after-empty-lines", "leading-newline", "last-block-edited", "only-block-edited",
        "empty-line-on-top", "cloud-empty-line-on-top"])
def test_the_bytes_around_the_blocks_stay(stored: str, edit: tuple[str, str], merged: str) -> None:
    # Server returns storage ending in a newline: no edit drops it, not even one of the block beside it.
    markdown = storage_to_markdown(stored)
    assert keep_unchanged_blocks(stored, markdown_to_storage(markdown)) == stored
    assert keep_unchanged_blocks(stored, markdown_to_storage(markdown.replace(*edit))) == merged
