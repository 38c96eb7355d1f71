"""Storage as the Cloud and Server editors write it reads as plain markdown, and unchanged markdown writes back
the stored bytes (no new version)."""

from __future__ import annotations

from pathlib import Path

import pytest

from confluence_mcp.confluence.convert import (
    SectionNotFound,
    keep_unchanged_blocks,
    markdown_to_storage,
    replace_section,
    storage_to_markdown,
)
from confluence_mcp.confluence.convert.canonical import canonicalize
from confluence_mcp.confluence.convert.merge import visible_text
from confluence_mcp.confluence.convert.xhtml import parse_fragment

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "storage"
EDITOR_FIXTURES = ["35_cloud_editor_tables", "36_server_wrapped_table", "37_editor_whitespace",
                   "38_cloud_editor_blocks"]


def read(name: str) -> str:
    return (FIXTURES / f"{name}.xml").read_text()


def write_back(old: str, markdown: str) -> str:
    return keep_unchanged_blocks(old, markdown_to_storage(markdown))


@pytest.mark.parametrize("name", EDITOR_FIXTURES)
def test_editor_storage_reads_without_storage_fences(name: str) -> None:
    markdown = storage_to_markdown(read(name))
    assert "confluence-storage" not in markdown


def test_cloud_table_cells_read_as_a_gfm_table() -> None:
    markdown = storage_to_markdown(read("35_cloud_editor_tables"))
    assert "| **Step** | **Owner** | **Notes** |" in markdown
    assert "| Freeze the branch |" in markdown and "Run `make freeze` first |" in markdown


@pytest.mark.parametrize("name", EDITOR_FIXTURES)
def test_unchanged_markdown_writes_back_the_stored_bytes(name: str) -> None:
    storage = read(name)
    assert write_back(storage, storage_to_markdown(storage)) == storage


def test_an_edit_changes_only_its_block_and_keeps_the_rest_verbatim() -> None:
    storage = read("37_editor_whitespace")
    markdown = storage_to_markdown(storage).replace("You are encouraged", "You are invited")
    written = write_back(storage, markdown)
    assert written.startswith("<p>Hello&nbsp;world, two&nbsp;&nbsp;spaces  here.</p><p />\n<p>Use the <a")
    assert "You are invited" in written and "You are encouraged" not in written
    # The empty paragraph after the edited block stays, and so does the trailing newline.
    assert written.endswith("You are invited</p><p />\n")


def test_an_edited_cell_keeps_the_tables_cloud_form() -> None:
    storage = read("35_cloud_editor_tables")
    written = write_back(storage, storage_to_markdown(storage).replace("*optional*", "*required*"))
    # ids, column widths and `<p>` wrappers stay, in the edited cell too; so does the newline after the last block
    assert written == storage.replace("<em>optional</em>", "<em>required</em>")


@pytest.mark.parametrize(("before", "after"), [
    ("<p>a <strong>b</strong></p>", "<p>a <strong>c</strong></p>"),
    ("<p>one</p><p>two</p>", "<p>one</p>"),
    ("<table><tbody><tr><td><p>x</p></td></tr></tbody></table>",
     "<table><tbody><tr><td><p>x</p><p>y</p></td></tr></tbody></table>"),
    ('<h2 style="color: red;">T</h2>', "<h2>T</h2>"),
])
def test_real_edits_are_never_taken_for_unchanged(before: str, after: str) -> None:
    assert canonicalize(before) != canonicalize(after)
    assert keep_unchanged_blocks(before, after) == after


@pytest.mark.parametrize(("left", "right"), [
    ("<td><p>x <em>y</em></p></td>", "<td>x <em>y</em></td>"),
    ("<p>a</p><p />", "<p>a</p>"),
    ('<h2 local-id="1">T</h2>', "<h2>T</h2>"),
    ('<table class="wrapped"><colgroup><col/></colgroup><tbody/></table>', "<table><tbody/></table>"),
    ("<p>a&nbsp;b</p>", "<p>a b</p>"),
])
def test_editor_bookkeeping_is_canonically_invisible(left: str, right: str) -> None:
    assert canonicalize(left) == canonicalize(right)


def test_code_macro_parameters_ride_on_the_fence_info_string() -> None:
    markdown = storage_to_markdown(read("38_cloud_editor_blocks"))
    assert "```bash breakoutMode=wide breakoutWidth=1200\n./deploy.sh --env prod\n```" in markdown
    assert '```title="Rollback steps" linenumbers=true\n' in markdown
    storage = markdown_to_storage('```js theme=Midnight {linenos=true} foo=bar\nx\n```')
    assert '<ac:parameter ac:name="language">js</ac:parameter><ac:parameter ac:name="theme">Midnight' in storage
    assert "linenos" not in storage and "foo" not in storage  # only the code macro's own parameters


def test_cloud_page_links_read_as_links() -> None:
    markdown = storage_to_markdown(read("38_cloud_editor_blocks"))
    assert "See [the runbook](confluence-page:TEAM/Runbook) and [the plan](confluence-attachment:plan.pdf)." in markdown
    title_as_text = ('<p><ac:link><ri:page ri:content-title="Other" ri:version-at-save="3"/>'
                     "<ac:link-body>Other</ac:link-body></ac:link></p>")
    assert storage_to_markdown(title_as_text) == "[Other](confluence-page:Other)"


LAYOUT = ('<h1>Top</h1><ac:layout><ac:layout-section ac:type="two_equal"><ac:layout-cell><h2>Status</h2>'
          "<p>old status</p><h2>Other</h2><p>keep</p></ac:layout-cell><ac:layout-cell><h2>Right</h2><p>r</p>"
          "</ac:layout-cell><ac:layout-cell/></ac:layout-section></ac:layout>")


def test_sections_inside_layout_cells_end_with_their_cell() -> None:
    assert replace_section(LAYOUT, "status", "<p>new</p>") == LAYOUT.replace("old status", "new")
    assert replace_section(LAYOUT, "Right", "<p>x</p>") == LAYOUT.replace("<p>r</p>", "<p>x</p>")
    with pytest.raises(SectionNotFound) as missing:
        replace_section(LAYOUT, "Nope", "<p/>")
    assert missing.value.available == ["Top", "Status", "Other", "Right"]


def test_cloud_task_lists_read_as_markdown_and_write_back_unchanged() -> None:
    from pathlib import Path

    from confluence_mcp.confluence.convert import keep_unchanged_blocks, markdown_to_storage, storage_to_markdown
    from confluence_mcp.confluence.convert.outline import storage_to_outline_markdown

    stored = (Path(__file__).resolve().parents[1] / "fixtures" / "storage" / "41_cloud_task_lists.xml").read_text(
        encoding="utf-8").strip()
    markdown = storage_to_markdown(stored)
    assert "- [ ] Send the **agenda** to [@" in markdown and "- [x] Book the room" in markdown
    assert "confluence-storage" not in markdown
    assert keep_unchanged_blocks(stored, markdown_to_storage(markdown)) == stored
    ticked = markdown_to_storage(markdown.replace("- [ ] Send", "- [x] Send"))
    assert keep_unchanged_blocks(stored, ticked) == stored.replace("incomplete", "complete")  # ids, uuid, wrappers
    outline = storage_to_outline_markdown(stored)
    assert "0c8f3f5e" not in outline and "incomplete" not in outline and "Book the room" in outline


def test_cloud_block_macros_with_the_default_layout_read_as_markdown() -> None:
    from confluence_mcp.confluence.convert import keep_unchanged_blocks, markdown_to_storage, storage_to_markdown

    stored = ('<ac:structured-macro ac:name="info" ac:schema-version="1" data-layout="default" ac:local-id="a1" '
              'ac:macro-id="m1"><ac:rich-text-body><p>Hi</p></ac:rich-text-body></ac:structured-macro>'
              '<ac:structured-macro ac:name="expand" ac:schema-version="1" data-layout="default" ac:macro-id="m2">'
              '<ac:parameter ac:name="title">More</ac:parameter><ac:rich-text-body><p>hidden</p></ac:rich-text-body>'
              '</ac:structured-macro>')
    markdown = storage_to_markdown(stored)
    assert markdown == "> [!NOTE]\n>\n> Hi\n\n> [!EXPAND] More\n>\n> hidden"
    assert keep_unchanged_blocks(stored, markdown_to_storage(markdown)) == stored
    wide = stored.replace('data-layout="default"', 'data-layout="wide"', 1)
    assert storage_to_markdown(wide).startswith("```confluence-storage macro=info")  # a breakout it cannot express


def test_server_empty_lines_read_as_nothing_and_survive_writes() -> None:
    from confluence_mcp.confluence.convert import keep_unchanged_blocks, markdown_to_storage, storage_to_markdown

    stored = "<p>a</p><p><br /></p><h2>H</h2><p>b</p>"
    markdown = storage_to_markdown(stored)
    assert markdown == "a\n\n## H\n\nb"
    assert keep_unchanged_blocks(stored, markdown_to_storage(markdown)) == stored
    assert keep_unchanged_blocks(stored, markdown_to_storage(markdown.replace("b", "c"))) == \
        "<p>a</p><p><br /></p><h2>H</h2><p>c</p>"
    # a line break with text beside it is a real line break
    assert storage_to_markdown("<p>x<br />y</p>") == "x  \ny"


@pytest.mark.parametrize("storage", [
    "<p>Pay<strong>&nbsp;now</strong> please</p>",
    "<p>Pay<em>now&nbsp;</em>please</p>",
    '<p>Pay<span style="text-decoration: line-through;">&nbsp;now</span></p>',
    '<p>See<a href="https://example.com/">&nbsp;the docs</a>today</p>',
    "<p>Run<code>&nbsp;make</code></p>",
    '<p>See<ac:link><ri:page ri:content-title="Runbook"/><ac:plain-text-link-body><![CDATA[ the runbook ]]>'
    "</ac:plain-text-link-body></ac:link>today</p>",
    '<p>See<ac:link><ri:page ri:content-title="Runbook"/><ac:link-body><strong>&nbsp;the runbook</strong>'
    "</ac:link-body></ac:link></p>",
    "<table><tbody><tr><th>Step</th></tr><tr><td><p>Pay<strong>&nbsp;now</strong></p></td></tr></tbody></table>",
])
def test_whitespace_at_the_edges_of_markup_separates_words(storage: str) -> None:
    # The Cloud editor puts a &nbsp; inside bold or a link's text; markdown read as `Pay**now**` glued the words,
    # and writing that unchanged markdown back replaced the stored block with the glued text (a new version).
    page = f"<p>Intro</p>{storage}<p>End</p>"
    markdown = storage_to_markdown(page)
    assert "confluence-storage" not in markdown
    assert write_back(page, markdown) == page
    edited = markdown.replace("Intro", "Introduction")
    assert write_back(page, edited) == page.replace("Intro", "Introduction")
    shown = visible_text(parse_fragment(storage))
    assert visible_text(parse_fragment(markdown_to_storage(markdown))).split("\x03")[1:-1] == shown.split("\x03")


def test_task_ids_are_bookkeeping_kept_unique() -> None:
    from confluence_mcp.confluence.convert import (
        keep_unchanged_blocks,
        markdown_to_storage,
        storage_to_markdown,
        unique_task_ids,
    )

    def tasks(*ids: int) -> str:
        return "<ac:task-list>" + "".join(f"<ac:task><ac:task-id>{n}</ac:task-id><ac:task-status>incomplete"
                                          f"</ac:task-status><ac:task-body>t{n}</ac:task-body></ac:task>"
                                          for n in ids) + "</ac:task-list>"

    stored = f"{tasks(17)}<p>x</p>{tasks(3, 9)}"
    markdown = storage_to_markdown(stored)
    assert markdown == "- [ ] t17\n\nx\n\n- [ ] t3\n- [ ] t9"
    assert keep_unchanged_blocks(stored, markdown_to_storage(markdown)) == stored
    # the second list edited: rendered ids 2, 3 and 4, while the kept first list keeps 17
    merged = unique_task_ids(keep_unchanged_blocks(stored, markdown_to_storage(markdown + "\n- [ ] new")))
    assert merged.startswith(tasks(17)) and "<ac:task-id>4</ac:task-id><ac:task-status>incomplete</ac:task-status>" \
        "<ac:task-body>new" in merged
    assert unique_task_ids(f"{tasks(1, 2)}{tasks(1)}") == f"{tasks(1, 2)}{tasks(1)}".replace(
        "<ac:task-id>1</ac:task-id><ac:task-status>incomplete</ac:task-status><ac:task-body>t1</ac:task-body></ac:task>"
        "</ac:task-list>", "<ac:task-id>3</ac:task-id><ac:task-status>incomplete</ac:task-status><ac:task-body>t1"
        "</ac:task-body></ac:task></ac:task-list>")
