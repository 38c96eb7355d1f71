"""The index's fast storage → markdown: structure for chunking survives, formatting and macro noise do not."""

from confluence_mcp.confluence.convert import storage_to_outline_markdown


def test_headings_lists_tables_code_and_links_survive() -> None:
    storage = (
        "<h1>Setup &amp; install</h1><p>Use <strong>pip</strong>.</p><ul><li>one</li><li>two</li></ul>"
        "<table><tbody><tr><th>Key</th><th>Value</th></tr><tr><td>a</td><td>1</td></tr></tbody></table>"
        '<ac:structured-macro ac:name="code"><ac:parameter ac:name="language">bash</ac:parameter>'
        "<ac:plain-text-body><![CDATA[pip install x\n<not a tag>]]></ac:plain-text-body></ac:structured-macro>"
        '<h2>See also</h2><p>Read <ac:link><ri:page ri:content-title="Usage Guide"/></ac:link> next.</p>'
        "<!-- hidden -->"
    )
    markdown = storage_to_outline_markdown(storage)
    assert markdown.startswith("# Setup & install\n\nUse pip.")
    assert "- one" in markdown and "- two" in markdown
    assert "| Key | Value |\n| a | 1 |" in markdown
    assert "```\npip install x\n<not a tag>\n```" in markdown
    assert "## See also" in markdown and "Usage Guide" in markdown
    assert "bash" not in markdown and "hidden" not in markdown


def test_empty_and_malformed_bodies_never_fail() -> None:
    assert storage_to_outline_markdown("") == ""
    assert "text" in storage_to_outline_markdown("<p>text <b>unclosed</p>")


def test_mentions_read_as_display_names_or_their_ids() -> None:
    storage = (
        '<p>Owner: <ac:link><ri:user ri:account-id="557058:abcd-1234"/></ac:link>, backup '
        '<ac:link ac:card-appearance="inline"><ri:user ri:userkey="8a7f808a4b1f"/></ac:link> and '
        '<ac:link><ri:user ri:username="jdoe"/></ac:link>.</p>'
        '<table><tbody><tr><td>Lead</td><td><ac:link><ri:user ri:username="jdoe"/></ac:link></td></tr></tbody></table>'
        '<ac:structured-macro ac:name="x"><ac:parameter ac:name="user"><ri:user ri:account-id="p"/></ac:parameter>'
        "</ac:structured-macro>"
    )
    names = {"557058:abcd-1234": "Ada <Lovelace> & Co", "jdoe": "Jane Doe"}
    markdown = storage_to_outline_markdown(storage, names)
    assert markdown.startswith("Owner: @Ada <Lovelace> & Co, backup @8a7f808a4b1f and @Jane Doe.")
    assert "| Lead | @Jane Doe |" in markdown and "@p" not in markdown
    assert "Owner: @557058:abcd-1234," in storage_to_outline_markdown(storage)  # no names: the ids, as reads show


def test_escaped_text_in_headings_and_cells_is_unescaped_once() -> None:
    storage = ("<h2>Use &lt;T&gt; &amp;amp; more</h2><table><tbody><tr><td>&lt;x&gt;</td><td>a &amp;lt; b</td>"
               "<td><ac:link><ri:user ri:username=\"ada\"/></ac:link></td></tr></tbody></table>")
    markdown = storage_to_outline_markdown(storage, {"ada": "Ada <Lovelace>"})
    assert markdown.startswith("## Use <T> &amp; more")
    assert "| <x> | a &lt; b | @Ada <Lovelace> |" in markdown


def test_cloud_list_items_and_inline_elements_keep_their_lines() -> None:
    # The Cloud editor wraps each item's text in <p> (with local-ids); links, comment marks and emoji are inline.
    storage = (
        '<ul local-id="u"><li local-id="l1"><p local-id="p1">one</p></li><li local-id="l2"><p local-id="p2">two '
        '<ac:link><ri:page ri:content-title="Guide"/><ac:link-body>the <em>guide</em></ac:link-body></ac:link> here'
        "</p></li></ul><p>Some <ac:inline-comment-marker ac:ref=\"c1\">marked</ac:inline-comment-marker> words "
        '<ac:emoticon ac:name="tick"/> done.</p>'
    )
    assert storage_to_outline_markdown(storage) == "- one\n\n- two the guide here\n\nSome marked words done."
