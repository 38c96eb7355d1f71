"""Inside an edited block (paragraph, heading, list item, cell) every inline element whose markdown is unchanged keeps
its stored bytes (`ri:version-at-save`, a mention's `ri:local-id`, a rich `ac:link-body`, an emoticon's emoji
attributes, a smart link's card), while edited and new ones are written as their markdown renders; Cloud smart links
(`<a data-card-appearance>`) read as markdown links."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from confluence_mcp.confluence.convert import keep_unchanged_blocks, markdown_to_storage, storage_to_markdown

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "storage"

CLOUD_MENTION = ('<ac:link><ri:user ri:account-id="712020:57c87adb-4a35-43b2-961a-5121dec7a24e" '
                 'ri:local-id="35ab3d94-3f41-4f59-b1a8-cb34054c81b7" /></ac:link>')
CLOUD_PAGE_LINK = ('<ac:link><ri:page ri:content-title="Release process" ri:version-at-save="6" />'
                   '<ac:link-body>the release process</ac:link-body></ac:link>')
SERVER_PAGE_LINK = ('<ac:link><ri:page ri:space-key="DOC" ri:content-title="Install guide" ri:version-at-save="3" />'
                    '<ac:plain-text-link-body><![CDATA[the guide]]></ac:plain-text-link-body></ac:link>')
SERVER_MENTION = '<ac:link><ri:user ri:userkey="8a7f808a6b0c4d2e016b0c4e3c1a0001" /></ac:link>'
IMAGE = '<ac:image ac:width="200"><ri:attachment ri:filename="logo.png" ri:version-at-save="2" /></ac:image>'
EMOJI = ('<ac:emoticon ac:name="blue-star" ac:emoji-shortname=":rocket:" ac:emoji-id="1f680" '
         'ac:emoji-fallback="🚀" />')
SMART_INLINE = ('<a href="https://example.atlassian.net/browse/PROJ-12" data-card-appearance="inline">'
                'https://example.atlassian.net/browse/PROJ-12</a>')
SMART_EMBED = ('<a href="https://www.youtube.com/watch?v=dQw4w9WgXcQ" data-card-appearance="embed" '
               'data-layout="center" data-width="100">https://www.youtube.com/watch?v=dQw4w9WgXcQ</a>')


def edit(stored: str, old: str, new: str) -> str:
    """The stored page written back after `old` is replaced by `new` in its markdown."""
    markdown = storage_to_markdown(stored)
    assert old in markdown, markdown
    return keep_unchanged_blocks(stored, markdown_to_storage(markdown.replace(old, new)))


def fixture(name: str) -> str:
    return (FIXTURES / f"{name}.xml").read_text()


# ---- defect 1: unchanged inline elements of an edited block keep their bytes -------------------------------------

def test_cloud_paragraph_edit_keeps_the_mention_and_rich_page_link() -> None:
    written = edit(fixture("44_cloud_local_ids"), "Owner:", "Lead:")
    assert f'<p local-id="88a4681b6807">Lead: {CLOUD_MENTION} with {CLOUD_PAGE_LINK}.</p>' in written


@pytest.mark.parametrize(("stored", "old", "new", "kept"), [
    (f"<p>See {SERVER_PAGE_LINK} and ask {SERVER_MENTION} today.</p>", "today", "tomorrow",
     [SERVER_PAGE_LINK, SERVER_MENTION]),
    (f"<h2>Install {SERVER_PAGE_LINK} now</h2>", "now", "first", [SERVER_PAGE_LINK]),
    (f"<ul><li>Ask {SERVER_MENTION} today</li><li>other</li></ul>", "today", "soon", [SERVER_MENTION]),
    (f"<table><tbody><tr><th>Who</th></tr><tr><td>Ask {SERVER_MENTION} today</td></tr></tbody></table>",
     "today", "soon", [SERVER_MENTION]),
    (f"<p>Logo {IMAGE} here and {EMOJI} <time datetime=\"2024-05-01\" /> ok</p>", "ok", "fine",
     [IMAGE, EMOJI, '<time datetime="2024-05-01" />']),
], ids=["server-paragraph", "heading", "list-item", "table-cell", "image-emoji-time"])
def test_server_shapes_keep_unchanged_inline_elements(stored: str, old: str, new: str, kept: list[str]) -> None:
    written = edit(stored, old, new)
    assert new in written
    for element in kept:
        assert element in written


def test_cloud_cell_and_list_item_keep_unchanged_inline_elements() -> None:
    stored = (f'<table data-layout="default" local-id="t1"><tbody><tr><th><p local-id="h">Who</p></th></tr>'
              f'<tr><td><p local-id="c1">Ask {CLOUD_MENTION} today</p></td></tr></tbody></table>'
              f'<ul local-id="u1"><li local-id="l1"><p local-id="p1">See {CLOUD_PAGE_LINK} now</p></li></ul>')
    written = edit(edit(stored, "today", "soon"), "now", "first")
    assert f'<p local-id="c1">Ask {CLOUD_MENTION} soon</p>' in written
    assert f'<p local-id="p1">See {CLOUD_PAGE_LINK} first</p>' in written


def test_status_macro_and_date_keep_their_bytes_in_an_edited_paragraph() -> None:
    stored = fixture("46_cloud_extensions")
    written = edit(stored, "Reviewed on", "Checked on")
    paragraph = re.search(r'<p local-id="p1">.*?</p>', stored)
    assert paragraph is not None
    # The text around them is written as rendered (`&mdash;` as the character); every element as stored.
    assert paragraph.group(0).replace("Reviewed on", "Checked on").replace("&mdash;", "\u2014") in written


def test_an_edited_link_is_written_as_its_markdown_renders() -> None:
    written = edit(fixture("44_cloud_local_ids"), "the release process", "the deploy process")
    assert CLOUD_MENTION in written  # the unchanged mention beside it stays
    assert ('<ac:link><ri:page ri:content-title="Release process"/><ac:plain-text-link-body>'
            '<![CDATA[the deploy process]]></ac:plain-text-link-body></ac:link>') in written


@pytest.mark.parametrize("edited", [
    "See [the guide](confluence-page:DOC/Install%20guide) here.",  # one of two alike links removed
    "See [the guide](confluence-page:DOC/Install%20guide) [the guide](confluence-page:DOC/Install%20guide) and "
    "again [the guide](confluence-page:DOC/Install%20guide) here.",  # one added
], ids=["removed", "added"])
def test_ambiguous_matches_are_written_as_rendered(edited: str) -> None:
    # Which stored link an edit kept is a guess: all alike links are written as rendered.
    stored = f"<p>See {SERVER_PAGE_LINK} and again {SERVER_PAGE_LINK} here.</p>"
    assert storage_to_markdown(stored) == ("See [the guide](confluence-page:DOC/Install%20guide) and again "
                                           "[the guide](confluence-page:DOC/Install%20guide) here.")
    written = keep_unchanged_blocks(stored, markdown_to_storage(edited))
    assert "the guide" in written and "ri:version-at-save" not in written


def test_alike_links_as_many_on_both_sides_keep_their_bytes_in_order() -> None:
    stored = f"<p>See {SERVER_PAGE_LINK} and again {SERVER_PAGE_LINK} here.</p>"
    assert edit(stored, "here", "there") == stored.replace("here", "there")


def test_moved_inline_elements_keep_their_bytes() -> None:
    stored = f"<p>Ask {SERVER_MENTION} about {SERVER_PAGE_LINK}.</p>"
    markdown = storage_to_markdown(stored)
    mention, link = re.findall(r"\[[^\]]*\]\([^)]*\)", markdown)
    swapped = markdown.replace(mention, "\x00").replace(link, mention).replace("\x00", link)
    written = keep_unchanged_blocks(stored, markdown_to_storage(swapped))
    assert written == f"<p>Ask {SERVER_PAGE_LINK} about {SERVER_MENTION}.</p>"


# ---- defect 2: Cloud smart links read as markdown links ------------------------------------------------------------

def test_smart_links_read_as_markdown_links() -> None:
    markdown = storage_to_markdown(fixture("46_cloud_extensions"))
    assert "[a:" not in markdown
    assert "see <https://example.atlassian.net/browse/PROJ-12>." in markdown
    assert "\n\n<https://www.youtube.com/watch?v=dQw4w9WgXcQ>\n\n" in markdown  # the embed card on its own line


@pytest.mark.parametrize("stored", [
    f'<p local-id="p2">Tracked in {SMART_INLINE} today.</p>',
    f'<p local-id="p3">{SMART_EMBED}</p>',
    f'<p>{SMART_EMBED.replace("embed", "block")}</p>',
    f'<ul local-id="u"><li local-id="l"><p local-id="p">See {SMART_INLINE}</p></li></ul>',
    f'<table data-layout="default"><tbody><tr><th><p>Link</p></th></tr><tr><td><p>{SMART_INLINE}</p></td></tr>'
    f'</tbody></table>',
    '<ac:task-list><ac:task><ac:task-id>1</ac:task-id><ac:task-status>incomplete</ac:task-status>'
    f'<ac:task-body>Fix {SMART_INLINE}</ac:task-body></ac:task></ac:task-list>',
], ids=["inline", "embed", "block", "list-item", "cell", "task"])
def test_smart_links_write_back_unchanged(stored: str) -> None:
    markdown = storage_to_markdown(stored)
    assert "confluence-storage" not in markdown
    assert keep_unchanged_blocks(stored, markdown_to_storage(markdown)) == stored


def test_an_edited_paragraph_keeps_its_smart_link() -> None:
    stored = f'<p local-id="p2">Tracked in {SMART_INLINE} today.</p><p>{SMART_EMBED}</p>'
    written = edit(stored, "today", "this week")
    assert written == stored.replace("today", "this week")


def test_an_edited_smart_link_is_written_as_a_plain_link() -> None:
    stored = f'<p local-id="p2">Tracked in {SMART_INLINE} today.</p>'
    written = edit(stored, "<https://example.atlassian.net/browse/PROJ-12>",
                   "[the ticket](https://example.atlassian.net/browse/PROJ-12)")
    assert written == ('<p local-id="p2">Tracked in <a href="https://example.atlassian.net/browse/PROJ-12">'
                       'the ticket</a> today.</p>')
