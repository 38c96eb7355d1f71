"""Markdown tables as a model writes them become storage tables: `<br>`, paragraphs and list tags in cells, header-less
tables; every other tag stays text. The editors' spellings of the same cell compare equal, real differences not."""

from __future__ import annotations

import pytest

from confluence_mcp.confluence.convert import markdown_to_storage, storage_to_outline_markdown
from confluence_mcp.confluence.convert.canonical import canonicalize
from confluence_mcp.confluence.convert.links import encode_inline_storage


def table(rows: str) -> str:
    return f"<table><tbody>{rows}</tbody></table>"


def cell(markdown: str) -> str:
    """The storage of the one body cell of a table with `markdown` in it."""
    storage = markdown_to_storage(f"| Notes |\n| --- |\n| {markdown} |")
    prefix = "<table><tbody><tr><th>Notes</th></tr><tr><td>"
    assert storage.startswith(prefix) and storage.endswith("</td></tr></tbody></table>"), storage
    return storage[len(prefix) : -len("</td></tr></tbody></table>")]


@pytest.mark.parametrize(("markdown", "storage"), [
    ("one<br>two", "one<br/>two"),
    ("one<br/>two<br />three<BR>four", "one<br/>two<br/>three<br/>four"),
    ("First.<br><br>Second **bold**.", "<p>First.</p><p>Second <strong>bold</strong>.</p>"),
    ("First. <br> <br> Second.", "<p>First.</p><p>Second.</p>"),
    ("<p>First.</p><p>Second.</p>", "<p>First.</p><p>Second.</p>"),
    ("<ul><li>a</li><li>b</li></ul>", "<ul><li>a</li><li>b</li></ul>"),
    ("Steps:<ol><li>build</li><li>ship</li></ol>", "Steps:<ol><li>build</li><li>ship</li></ol>"),
    ("Steps:<ol><li>build</li></ol>Then rest.", "<p>Steps:</p><ol><li>build</li></ol><p>Then rest.</p>"),
    ('<ol start="3"><li>c</li></ol>', '<ol start="3"><li>c</li></ol>'),
    ("<ul><li>a<ul><li>a.1</li></ul></li><li>b</li></ul>", "<ul><li>a<ul><li>a.1</li></ul></li><li>b</li></ul>"),
    ("<ul><li>a<li>b</ul>", "<ul><li>a</li><li>b</li></ul>"),  # closing tags may be left out
    ("<ul><li>a", "<ul><li>a</li></ul>"),
    ("<ul><li>line<br>two</li><li>p1<br><br>p2</li></ul>", "<ul><li>line<br/>two</li><li><p>p1</p><p>p2</p></li></ul>"),
    ("**a<br>b**", "<strong>a<br/>b</strong>"),
    ("<kbd>Esc</kbd> quits", "<code>Esc</code> quits"),
    ("`a\\|b` and a \\| pipe", "<code>a|b</code> and a | pipe"),  # GFM escapes pipes in code spans too
    ("", ""),
], ids=["br", "br-spellings", "paragraphs", "paragraphs-spaced", "p-tags", "bullets", "intro-and-numbers",
        "list-then-paragraph", "ol-start", "nested", "unclosed-items", "unclosed-list", "breaks-in-items",
        "break-in-strong", "kbd", "pipes", "empty"])
def test_cell_tags_become_storage(markdown: str, storage: str) -> None:
    assert cell(markdown) == storage


@pytest.mark.parametrize(("markdown", "storage"), [
    ("\\<br> stays", "&lt;br&gt; stays"),
    ("`<br>` in code", "<code>&lt;br&gt;</code> in code"),
    ("<tt>k</tt> <b>bold</b> <span>s</span>", "&lt;tt&gt;k&lt;/tt&gt; <strong>bold</strong> s"),
    ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
    ('<img src=x onerror="alert(1)">', '&lt;img src=x onerror="alert(1)"&gt;'),
    ("a </li> b </ul>", "a &lt;/li&gt; b &lt;/ul&gt;"),  # closing tags out of a list
    ('<ul class="x"><li>a</li></ul>', '&lt;ul class="x"&gt;&lt;li&gt;a&lt;/li&gt;&lt;/ul&gt;'),
    ("*<ul><li>in emphasis</li></ul>*", "<em>&lt;ul&gt;&lt;li&gt;in emphasis&lt;/li&gt;&lt;/ul&gt;</em>"),
    ("- not a list<br>- either", "- not a list<br/>- either"),
], ids=["escaped-br", "code", "other-tags", "script", "handler", "stray-closing", "attributes", "nested-in-em",
        "dash-lines"])
def test_other_tags_in_cells_stay_text(markdown: str, storage: str) -> None:
    """(Lenient conversion: the write tools refuse these tags instead; `<b>`, `<span>` are taken as outside.)"""
    assert cell(markdown) == storage


def test_outside_tables_list_tags_stay_text() -> None:  # `<br>` and the like: test_raw_html
    assert markdown_to_storage("a<br>b <ul><li>x</li></ul>") == \
        "<p>a<br/>b &lt;ul&gt;&lt;li&gt;x&lt;/li&gt;&lt;/ul&gt;</p>"


def test_an_empty_header_row_means_no_header_row() -> None:
    assert markdown_to_storage("| | |\n|---|---|\n| a | b |\n| c | d |") == \
        table("<tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr>")
    assert markdown_to_storage("| &nbsp; | &nbsp; |\n|---|---|\n| a | b |") == \
        table("<tr><th></th><th></th></tr><tr><td>a</td><td>b</td></tr>")  # a header row of empty cells
    # A header with one empty cell is still a header row; a table that is only an empty row keeps it.
    assert markdown_to_storage("|  | Q1 |\n|---|---|\n| Revenue | 3 |") == \
        table("<tr><th></th><th>Q1</th></tr><tr><td>Revenue</td><td>3</td></tr>")
    assert markdown_to_storage("|  |\n|---|") == table("<tr><th></th></tr>")


def test_block_placeholders_stand_alone_and_inline_ones_sit_in_paragraphs() -> None:
    code = '<ac:structured-macro ac:name="code"><ac:plain-text-body><![CDATA[x = 1]]></ac:plain-text-body>' \
           "</ac:structured-macro>"
    status = '<ac:structured-macro ac:name="status"><ac:parameter ac:name="title">OK</ac:parameter>' \
             "</ac:structured-macro>"
    assert cell(f"Run:<br><br>[code]({encode_inline_storage(code)})") == f"<p>Run:</p>{code}"
    assert cell(f"[status]({encode_inline_storage(status)})<br><br>Done.") == f"<p>{status}</p><p>Done.</p>"
    assert cell(f"[code]({encode_inline_storage(code)})") == code
    script = encode_inline_storage("<p><script>x</script></p>")
    assert cell(f"a<br><br>[bad]({script})") == f"<p>a</p><p>[bad]({script})</p>"  # refused: shown as text


@pytest.mark.parametrize(("left", "right"), [
    ('<td colspan="1" rowspan="1">x</td>', "<td>x</td>"),
    ('<td><div class="content-wrapper"><p>x</p></div></td>', "<td>x</td>"),
    ("<td><br/></td>", "<td/>"),
    ("<td><p><br/></p></td>", "<td/>"),
    ("<td><p>a</p><ul><li><p>b</p></li></ul></td>", "<td>a<ul><li>b</li></ul></td>"),
    ("<td><ul><li><p>a</p><ul><li><p>b</p></li></ul></li></ul></td>",
     "<td><ul><li>a<ul><li>b</li></ul></li></ul></td>"),
    ("<td><p>a</p><p /></td>", "<td>a</td>"),
])
def test_editor_spellings_of_a_cell_are_canonically_equal(left: str, right: str) -> None:
    assert canonicalize(table(f"<tr>{left}</tr>")) == canonicalize(table(f"<tr>{right}</tr>"))


@pytest.mark.parametrize(("left", "right"), [
    ('<td colspan="2">x</td>', "<td>x</td>"),
    ("<td><p>a</p><p>b</p></td>", "<td>a<br/>b</td>"),
    ("<td><p>a</p><p>b</p></td>", "<td><p>a</p>b</td>"),
    ("<td><ul><li>a</li></ul><p>b</p></td>", "<td><ul><li>a</li></ul>b</td>"),
    ('<td><div class="panel"><p>x</p></div></td>', "<td>x</td>"),
    ("<td><br/>x</td>", "<td>x</td>"),
])
def test_real_cell_differences_stay_different(left: str, right: str) -> None:
    assert canonicalize(table(f"<tr>{left}</tr>")) != canonicalize(table(f"<tr>{right}</tr>"))


def test_list_item_wrappers_are_bookkeeping_outside_tables_too() -> None:
    # The Cloud editor wraps every item's text in <p>, the Server editor none: a one-item list reads as `- a`.
    assert canonicalize("<ul><li><p>a</p></li></ul>") == canonicalize("<ul><li>a</li></ul>")
    assert canonicalize("<ul><li><p>a</p><p>b</p></li></ul>") != canonicalize("<ul><li>a b</li></ul>")


def test_outline_keeps_a_table_with_code_and_pipes_on_its_rows() -> None:
    storage = table('<tr><th>Step</th><th>Command</th></tr><tr><td>a | b</td><td><p>Run:</p><ac:structured-macro '
                    'ac:name="code"><ac:plain-text-body><![CDATA[ls |\n  wc -l <x>]]></ac:plain-text-body>'
                    "</ac:structured-macro></td></tr>") + "<p>After.</p>"
    assert storage_to_outline_markdown(storage) == \
        "| Step | Command |\n| a \\| b | Run: ls \\| wc -l <x> |\n\nAfter."
