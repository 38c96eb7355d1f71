"""Raw HTML in markdown outside tables: tags with a storage form become storage, `<details>` lines the expand macro,
prose such as `List<String>` stays text, and other HTML is refused when strict (the write tools) or stays text."""

from __future__ import annotations

import pytest

from confluence_mcp.confluence.convert import markdown_to_storage, storage_to_markdown
from confluence_mcp.confluence.convert.canonical import canonicalize
from confluence_mcp.confluence.convert.merge import keep_unchanged_blocks
from confluence_mcp.confluence.convert.raw_html import RawHtmlError
from confluence_mcp.confluence.convert.xhtml import escape_text

STRIKE = '<span style="text-decoration: line-through;">'


def strict(markdown: str) -> str:
    return markdown_to_storage(markdown, strict_html=True)


def expand(title: str, body: str) -> str:
    parameter = f'<ac:parameter ac:name="title">{title}</ac:parameter>' if title else ""
    return (f'<ac:structured-macro ac:name="expand" ac:schema-version="1">{parameter}'
            f"<ac:rich-text-body>{body}</ac:rich-text-body></ac:structured-macro>")


@pytest.mark.parametrize(("markdown", "storage"), [
    ("Line<br>two<br/>three<br />four<BR>five", "<p>Line<br/>two<br/>three<br/>four<br/>five</p>"),
    ("<b>b</b> <strong>s</strong> <i>i</i> <em>e</em>",
     "<p><strong>b</strong> <strong>s</strong> <em>i</em> <em>e</em></p>"),
    ("<u>u</u> <s>s</s> <del>d</del> <strike>k</strike>",
     f"<p><u>u</u> {STRIKE}s</span> {STRIKE}d</span> {STRIKE}k</span></p>"),
    ("H<sub>2</sub>O, x<sup>2</sup>, <code>a < b</code>",
     "<p>H<sub>2</sub>O, x<sup>2</sup>, <code>a &lt; b</code></p>"),
    ("<span>plain</span> text", "<p>plain text</p>"),
    ("Press <kbd>Ctrl</kbd>+<kbd>C</kbd>", "<p>Press <code>Ctrl</code>+<code>C</code></p>"),  # keys show as code
    ("<b>bold <i>and *em*</i></b>", "<p><strong>bold <em>and <em>em</em></em></strong></p>"),
    ("**<u>x</u>** [<b>link</b>](https://e.com)",
     '<p><strong><u>x</u></strong> <a href="https://e.com"><strong>link</strong></a></p>'),
    ("## Title <sup>beta</sup>", "<h2>Title <sup>beta</sup></h2>"),
    ("- one<br>two\n- <b>b</b>", "<ul><li>one<br/>two</li><li><strong>b</strong></li></ul>"),
    ("> quote <u>u</u>", "<blockquote><p>quote <u>u</u></p></blockquote>"),
    ("> [!NOTE] T\n> note <b>b</b>", '<ac:structured-macro ac:name="info" ac:schema-version="1">'
     '<ac:parameter ac:name="title">T</ac:parameter><ac:rich-text-body><p>note <strong>b</strong></p>'
     "</ac:rich-text-body></ac:structured-macro>"),
])
def test_tags_with_a_storage_form_become_storage(markdown: str, storage: str) -> None:
    assert strict(markdown) == storage
    assert markdown_to_storage(markdown) == storage


def test_keys_are_code_in_cells_and_tasks_too_and_read_back_as_code_spans() -> None:
    storage = strict("| <kbd>Esc</kbd> |\n| --- |\n| **<kbd>Ctrl</kbd>** |\n\n- [ ] <kbd>F5</kbd>")
    assert "<th><code>Esc</code></th>" in storage and "<td><strong><code>Ctrl</code></strong></td>" in storage
    assert "<ac:task-body><code>F5</code></ac:task-body>" in storage
    assert storage_to_markdown(storage) == "| `Esc` |\n| --- |\n| **`Ctrl`** |\n\n- [ ] `F5`"


def test_task_text_takes_tags() -> None:
    assert "<ac:task-body><u>task</u> <br/>x</ac:task-body>" in strict("- [ ] <u>task</u> <br>x")


@pytest.mark.parametrize("text", [
    "List<String> and Map<String, Integer>", "a < b and c > d", "Vec<u8>", "Optional<T>", "<T extends Foo>",
    "cat <input> > <output>", "replace <name> and <title>", "<version>1.0</version>", "<String>x</String>",
    "<?php echo 1; ?>", "<!DOCTYPE html>", "<B>upper</B>", "\\<b>escaped\\</b>", "<https://e.com/x> autolink",
    "1 <2 and 3> 2",
])
def test_prose_that_looks_like_tags_stays_text_as_before(text: str) -> None:
    before = markdown_to_storage(text.replace("<", "\\<") if "\\<" not in text and "https" not in text else text)
    assert strict(text) == before
    if "\\" not in text and "https" not in text:
        assert strict(text) == f"<p>{escape_text(text)}</p>"


def test_code_spans_and_fences_keep_html_literal() -> None:
    assert strict("`<b>x</b>` and `<div>`") == "<p><code>&lt;b&gt;x&lt;/b&gt;</code> and <code>&lt;div&gt;</code></p>"
    fence = strict("```html\n<details>\n<div style='x'>a</div>\n</details>\n```")
    assert "<![CDATA[<details>\n<div style='x'>a</div>\n</details>]]>" in fence
    assert strict("    <script>x</script>").count("<![CDATA[<script>x</script>]]>") == 1


# ---- <details> ------------------------------------------------------------------------------------------------

def test_details_is_the_expand_macro_the_admonition_form_writes() -> None:
    written = strict("<details><summary>More</summary>\n\nhidden text\n\n</details>")
    assert written == markdown_to_storage("> [!EXPAND] More\n>\n> hidden text")
    assert written == expand("More", "<p>hidden text</p>")


@pytest.mark.parametrize(("markdown", "storage"), [
    ("<details>\n<summary>T</summary>\n\n- a\n- b\n</details>", expand("T", "<ul><li>a</li><li>b</li></ul>")),
    ("<details>\n  <summary>T</summary>\nline\n</details>", expand("T", "<p>line</p>")),
    ("<details><summary>T</summary>Body *em*</details>", expand("T", "<p>Body <em>em</em></p>")),
    ("<details>\n\nno summary\n\n</details>", expand("", "<p>no summary</p>")),
    ("<details open>\n<summary><b>Bold</b> **title**</summary>\n\n> q\n</details>",
     expand("Bold title", "<blockquote><p>q</p></blockquote>")),
    ("<details><summary>Out</summary>\n\n<details><summary>In</summary>\n\nx\n\n</details>\n</details>\nafter",
     expand("Out", expand("In", "<p>x</p>")) + "<p>after</p>"),
    ("- item\n\n  <details><summary>In a list</summary>\n\n  body\n\n  </details>",
     "<ul><li><p>item</p>" + expand("In a list", "<p>body</p>") + "</li></ul>"),
    ("<details><summary>Code</summary>\n\n```\n</details>\n```\n\n</details>",
     expand("Code", '<ac:structured-macro ac:name="code" ac:schema-version="1"><ac:plain-text-body>'
                    "<![CDATA[</details>]]></ac:plain-text-body></ac:structured-macro>")),
])
def test_details_forms(markdown: str, storage: str) -> None:
    assert strict(markdown) == storage


@pytest.mark.parametrize(("summary", "title"), [
    ("**Bold** _it_ `code` <kbd>K</kbd> <u>u</u> H<sub>2</sub>O ~~old~~", "Bold it code K u H2O old"),
    ("[link *x*](https://e.com) ![alt](a.png) <b><i>both</i></b>", "link x alt both"),
    ("one<br>two<br/>three", "one two three"),  # a line break is a space, words do not run together
    ("List<String> &amp; \\*lit\\*", "List<String> & *lit*"),
])
def test_a_summary_keeps_its_text_as_the_title(summary: str, title: str) -> None:
    written = strict(f"<details><summary>{summary}</summary>\n\nbody\n\n</details>")
    assert written == expand(escape_text(title), "<p>body</p>")


def test_a_summary_tag_with_no_storage_form_is_refused_not_dropped() -> None:
    markdown = "<details><summary>See <img src='a.png'> <b>x</summary>\n\nbody\n\n</details>"
    with pytest.raises(RawHtmlError, match="<img"):
        strict(markdown)
    assert markdown_to_storage(markdown) == expand("See x", "<p>body</p>")  # lenient: the text stays


# ---- refused (strict) or text as before (lenient) -------------------------------------------------------------

@pytest.mark.parametrize(("markdown", "named", "advice"), [
    ('<div style="color: red">x</div>', '<div style="color: red">', 'body_format="storage"'),
    ("<script>alert(1)</script>", "<script>", 'body_format="storage"'),
    ('<iframe src="https://e.com"></iframe>', "<iframe", 'body_format="storage"'),
    ("<table><tr><td>a</td></tr></table>", "<table>", "GFM table"),
    ('<img src="a.png">', '<img src="a.png">', "![alt]"),
    ('<a href="https://e.com">e</a>', "<a href", "[text](https://...)"),
    ("<!-- note -->", "<!-- note -->", "comments"),
    ("<tt>mono</tt>", "<tt>", "`code`"),
    ('<kbd class="key">K</kbd>', '<kbd class="key">', "attributes"),
    ("<h2>Head</h2>", "<h2>", "`#`"),
    ("<p>para</p>", "<p>", "blank line"),
    ("<b>never closed", "<b>", "</b>"),
    ("stray</i>", "</i>", "closes no"),
    ("<b><i>x</b></i>", "</b>", "still open"),
    ('<b class="x">y</b>', '<b class="x">', "attributes"),
    ('<span style="color: red">x</span>', '<span style="color: red">', "attributes"),
    ("text <details>", "<details>", "`<details>` line"),
    ("<summary>T</summary>", "<summary>", "after `<details>`"),
    ("<details><summary>T</summary>\n\nnever closed", "<details>", "never closed"),
    ("x\n\n</details>", "</details>", "closes no"),
    ("> <details><summary>T</summary>\n> x\n</details>", "<details>", "line 1"),
    ("`ok` <input type='text'> </title>", "<input type='text'>", 'body_format="storage"'),
])
def test_other_html_is_refused_when_strict_and_text_otherwise(markdown: str, named: str, advice: str) -> None:
    with pytest.raises(RawHtmlError) as refused:
        strict(markdown)
    message = str(refused.value)
    assert f"`{named}" in message and advice in message and "code` span" in message, message
    lenient = markdown_to_storage(markdown)
    assert "&lt;" in lenient, lenient  # the refused tag is kept as text, as before


def nested_details(levels: int) -> str:
    return "<details><summary>S</summary>\n\n" * levels + "deep\n\n" + "</details>\n" * levels + "\nafter\n"


def test_details_nested_deeper_than_the_parser_goes_are_refused_as_too_deep() -> None:
    assert strict(nested_details(19)).count('ac:name="expand"') == 19
    with pytest.raises(RawHtmlError) as refused:
        strict(nested_details(20))
    message = str(refused.value)
    assert "nested too deep" in message and "at most 19 levels" in message and "line 39" in message, message
    assert "never closed" not in message
    with pytest.raises(RawHtmlError, match="nested too deep"):
        strict("- item\n\n" + "  <details><summary>S</summary>\n\n" * 20)
    # Lenient: the section that would nest too deep stays text instead of the parser dropping the rest of the page.
    lenient = markdown_to_storage(nested_details(21))
    assert lenient.count('ac:name="expand"') == 19 and "<p>deep</p>" in lenient and lenient.endswith("<p>after</p>")


def test_lenient_keeps_unknown_tags_exactly_as_before() -> None:
    assert markdown_to_storage('<div onclick="x">raw &amp; *em*</div>') == \
        '<p>&lt;div onclick="x"&gt;raw &amp; <em>em</em>&lt;/div&gt;</p>'
    assert markdown_to_storage("<b>open") == "<p>&lt;b&gt;open</p>"


def test_table_cells_take_tags_as_paragraphs_do() -> None:
    storage = strict("| <b>x</b> | List<String> |\n| --- | --- |\n| a<br>b | <ul><li>i</li></ul> <u>u</u> |")
    assert storage == ("<table><tbody><tr><th><strong>x</strong></th><th>List&lt;String&gt;</th></tr>"
                       "<tr><td>a<br/>b</td><td><ul><li>i</li></ul><p><u>u</u></p></td></tr></tbody></table>")
    with pytest.raises(RawHtmlError, match="<div>"):
        strict("| a |\n| --- |\n| <div>y</div> |")
    lenient = markdown_to_storage("| a |\n| --- |\n| <div>y</div> |")
    assert lenient.endswith("<td>&lt;div&gt;y&lt;/div&gt;</td></tr></tbody></table>")


def test_table_cells_take_tags_inside_emphasis_and_links_as_paragraphs_do() -> None:
    # Tags inside **, *, ~~ and link text in a cell: markup, as in a paragraph, not literal `<u>` text.
    storage = strict("| **<u>x</u>** | *H<sub>2</sub>O* |\n| --- | --- |\n| ~~<b>b</b>~~ | [<u>l</u>](https://e.com) |")
    assert storage == ("<table><tbody><tr><th><strong><u>x</u></strong></th><th><em>H<sub>2</sub>O</em></th></tr>"
                       f'<tr><td>{STRIKE}<strong>b</strong></span></td><td><a href="https://e.com"><u>l</u></a></td>'
                       "</tr></tbody></table>")
    with pytest.raises(RawHtmlError, match="<div>"):
        strict("| a |\n| --- |\n| *<div>y</div>* |")
    cell = "<table><tbody><tr><td><em><u>a</u></em> x<br/>y</td></tr></tbody></table>"
    read = storage_to_markdown(cell)
    assert "| *<u>a</u>* x<br>y |" in read, read
    assert keep_unchanged_blocks(cell, strict(read)) == cell


# ---- reading back ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("markdown", [
    "Line<br>two <b>bold</b> <i>it</i> <s>gone</s> <code>c</code> <span>s</span>",
    "H<sub>2</sub>O and x<sup>2</sup> and <u>under **bold**</u> word<u> spaced </u>word",
    "<details><summary>More</summary>\n\nhidden <u>text</u>\n\n- a\n\n</details>",
    "# Head <sup>1</sup>\n\n- <u>item</u>\n\n> <sub>q</sub>",
    "List<String> and <u>u</u> in a [<u>link</u>](https://e.com)",
])
def test_reading_back_writes_the_same_storage(markdown: str) -> None:
    storage = strict(markdown)
    read = storage_to_markdown(storage)
    assert "confluence-storage" not in read, read  # no placeholder: every piece has a markdown form
    assert canonicalize(strict(read)) == canonicalize(storage), read
    assert storage_to_markdown(strict(read)) == read
    assert keep_unchanged_blocks(storage, strict(read)) == storage  # an unchanged page is a no-op


def test_underline_sub_sup_read_as_tags_in_paragraphs_and_cells() -> None:
    assert storage_to_markdown("<p>a <u>b</u> H<sub>2</sub>O x<sup>2</sup></p>") == \
        "a <u>b</u> H<sub>2</sub>O x<sup>2</sup>"
    cell = "<table><tbody><tr><td>a <u>b</u> H<sub>2</sub>O</td></tr></tbody></table>"
    read = storage_to_markdown(cell)
    assert "| a <u>b</u> H<sub>2</sub>O |" in read and "confluence-storage" not in read
    assert keep_unchanged_blocks(cell, strict(read)) == cell
    assert storage_to_markdown('<p><u style="color: red;">b</u></p>').startswith("[u: b](confluence-storage:")
