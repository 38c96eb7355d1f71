"""Pages as today's editors save them (Cloud's ADF-era storage with `local-id`s everywhere, Data Center's cursor
paragraphs and empty classes) read as markdown or named placeholders, write back unchanged as the stored bytes, keep
every other block's bytes when one paragraph is edited, and keep an edited block's editor ids."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from confluence_mcp.confluence.convert import keep_unchanged_blocks, markdown_to_storage, storage_to_markdown
from confluence_mcp.confluence.convert.xhtml import parse_top_level

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "storage"
SHAPES = ["44_cloud_local_ids", "45_server_auto_cursor", "46_cloud_extensions"]
# The sentence each fixture's last paragraph holds: edited to check that every other block keeps its bytes.
LAST_PARAGRAPH = {"44_cloud_local_ids": "Questions go to the channel.",
                  "45_server_auto_cursor": "Contact the build team.",
                  "46_cloud_extensions": "Questions go to the channel."}
_PROVENANCE = re.compile(r"\A<!--.*?-->\n")


def read(name: str) -> str:
    return (FIXTURES / f"{name}.xml").read_text()


def body(name: str) -> str:
    """The fixture without its first line (the comment saying where the shape comes from)."""
    return _PROVENANCE.sub("", read(name))


def write_back(old: str, markdown: str) -> str:
    return keep_unchanged_blocks(old, markdown_to_storage(markdown))


def blocks(storage: str) -> list[str]:
    _, nodes, data = parse_top_level(storage)
    return [data[node.start : node.end].decode("utf-8") for node in nodes]


@pytest.mark.parametrize("name", SHAPES)
def test_unchanged_markdown_writes_back_the_stored_bytes(name: str) -> None:
    storage = read(name)
    assert write_back(storage, storage_to_markdown(storage)) == storage


@pytest.mark.parametrize("name", SHAPES)
def test_editing_one_paragraph_keeps_every_other_block_byte_for_byte(name: str) -> None:
    storage = read(name)
    sentence = LAST_PARAGRAPH[name]
    markdown = storage_to_markdown(storage)
    assert sentence in markdown
    written = write_back(storage, markdown.replace(sentence, "Edited sentence."))
    old, new = blocks(storage), blocks(written)
    assert len(old) == len(new)
    changed = [index for index, (a, b) in enumerate(zip(old, new, strict=True)) if a != b]
    assert len(changed) == 1 and sentence in old[changed[0]] and "Edited sentence." in new[changed[0]]


def test_cloud_mentions_with_a_local_id_read_as_mentions() -> None:
    # The Cloud editor writes ri:local-id on every mention; it is bookkeeping like the blocks' local-id.
    markdown = storage_to_markdown(body("44_cloud_local_ids"))
    assert "Owner: [@712020:57c87adb-4a35-43b2-961a-5121dec7a24e](confluence-user:712020:57c87adb-4a35-43b2-961a" \
           "-5121dec7a24e) with [the release process]" in markdown


def test_cloud_single_item_lists_read_as_markdown_lists() -> None:
    # The Cloud editor wraps every list item's text in <p>; a list of one item (or one nested item) is common.
    markdown = storage_to_markdown(body("44_cloud_local_ids"))
    assert "confluence-storage" not in markdown
    assert "- Only one bullet here" in markdown
    # An ordered list right after a bullet list takes the other delimiters, so markdown keeps them apart.
    assert "1) Prepare the branch\n\n   * one nested step\n\n2) Ship it" in markdown


def test_server_cursor_paragraphs_and_empty_classes_read_as_plain_markdown() -> None:
    markdown = storage_to_markdown(body("45_server_auto_cursor"))
    assert "confluence-storage" not in markdown
    assert markdown.startswith("> [!NOTE] Read me")
    assert "Automated regression report:\n\n| Area | Result |" in markdown


@pytest.mark.parametrize(("old", "new", "kept"), [
    ("Only one bullet here", "Only one item here", '<ul local-id="c8f56d1f8d70"><li local-id="1cd63f0aa4d4">'),
    ("Rollout plan", "Rollout steps", '<h2 local-id="f8019318e36e">Rollout steps</h2>'),
    ("Owner:", "Lead:", '<p local-id="88a4681b6807">Lead: '),
    ("Measure twice.", "Measure thrice.", '<blockquote local-id="3c662756c01b">'),
    ("--env prod", "--env staging", 'data-layout="default" ac:local-id="0851fca9-2d05-4746-9649-8fe80b6c36e8" '
                                    'ac:macro-id="c8d38983-94be-4615-bb89-0fdb93882cb9">'),
])
def test_an_edited_block_keeps_its_editor_ids(old: str, new: str, kept: str) -> None:
    storage = read("44_cloud_local_ids")
    markdown = storage_to_markdown(storage)
    assert old in markdown
    written = write_back(storage, markdown.replace(old, new))
    assert new in written and kept in written
