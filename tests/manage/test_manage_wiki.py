"""The wiki-markup subset converts to well-formed, escaped storage (pure function, no server needed)."""

from __future__ import annotations

import pytest

from confluence_mcp.confluence.convert import validate_storage
from confluence_mcp.confluence.convert.xhtml import parse_fragment
from confluence_mcp.tools.manage_wiki import wiki_to_storage


@pytest.mark.parametrize(("wiki", "expected"), [
    ("h3. Title", "<h3>Title</h3>"),
    ("one\ntwo\n\nthree", "<p>one<br/>two</p><p>three</p>"),
    ("*b* _i_ {{mono}}", "<p><strong>b</strong> <em>i</em> <code>mono</code></p>"),
    ("* a\n** b\n* c", "<ul><li>a<ul><li>b</li></ul></li><li>c</li></ul>"),
    ("# a\n# b\n* c", "<ol><li>a</li><li>b</li></ol><ul><li>c</li></ul>"),
    ("||h||\n|c|", "<table><tbody><tr><th>h</th></tr><tr><td>c</td></tr></tbody></table>"),
    ("[site|https://a.example/x_y_z]", '<p><a href="https://a.example/x_y_z">site</a></p>'),
    ("[Other Page]", '<p><ac:link><ri:page ri:content-title="Other Page"/></ac:link></p>'),
    ("----", "<hr/>"),
    ("{noformat}\n<raw> ]]>\n{noformat}",
     '<ac:structured-macro ac:name="noformat"><ac:plain-text-body><![CDATA[<raw> ]]]]><![CDATA[>]]>'
     "</ac:plain-text-body></ac:structured-macro>"),
])
def test_wiki_subset(wiki: str, expected: str) -> None:
    assert wiki_to_storage(wiki) == expected
    validate_storage(expected)


ALLOWED = {"p", "br", "a", "strong", "em", "code", "h1", "ac:link", "ri:page", "ac:plain-text-link-body",
           "ac:structured-macro", "ac:parameter", "ac:plain-text-body"}


@pytest.mark.parametrize("wiki", [
    '<ac:structured-macro ac:name="html"/>', "[x|javascript:alert(1)]", '[a"b|https://x.example/"onmouseover=1]',
    '{code:python"><x>}\nx\n{code}', "h1. <script>", "*<b>*", "& &amp; < >",
])
def test_wiki_never_injects_markup(wiki: str) -> None:
    storage = wiki_to_storage(wiki)
    validate_storage(storage)
    root = parse_fragment(storage)
    for element in root.iter():
        if element is root:
            continue
        assert element.tag in ALLOWED, element.tag
        if element.tag == "ac:structured-macro":
            assert element.get("ac:name") in {"code", "noformat"}
        if element.tag == "a":
            assert set(element.attrib) == {"href"} and element.get("href", "").startswith("https://")
