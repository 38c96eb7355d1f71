"""Storage → markdown reads naturally (issue 3) and never silently drops an element."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

from confluence_mcp.confluence.convert import LinkContext, storage_to_markdown
from confluence_mcp.confluence.convert.links import decode_inline_storage

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "storage"


def fixture(name: str) -> str:
    return (FIXTURES / f"{name}.xml").read_text()


def test_code_macro_becomes_fenced_code_with_language() -> None:
    markdown = storage_to_markdown(fixture("09_code_macro"))
    assert markdown.startswith("````python\ndef f():")  # longer fence because the code contains ```
    assert 'return "]]>" if a < b' in markdown


def test_admonitions_become_labelled_blockquotes() -> None:
    markdown = storage_to_markdown(fixture("11_admonitions"))
    for label in ("> [!NOTE] Info title", "> [!IMPORTANT] Note title", "> [!WARNING] Warning title",
                  "> [!TIP] Tip title"):
        assert label in markdown
    assert "> The info body with **bold**." in markdown


def test_expand_shows_title_and_body() -> None:
    markdown = storage_to_markdown(fixture("12_expand"))
    assert markdown.startswith("> [!EXPAND] More details\n>\n> Hidden text")
    assert '> ```json\n> {"a": 1}\n> ```' in markdown


def test_page_links_use_the_page_url_when_known() -> None:
    def page_from_url(url: str) -> tuple[str, str | None] | None:
        space, _, title = url.removeprefix("http://127.0.0.1:9/").partition("/")
        return unquote(title), space

    links = LinkContext(space_key="DEMO", page_url=lambda title, space: f"http://127.0.0.1:9/{space}/{title}",
                        page_from_url=page_from_url)
    markdown = storage_to_markdown(fixture("15_page_links"), links=links)
    assert "[Same Space Page](<http://127.0.0.1:9/DEMO/Same Space Page>)" in markdown
    # An explicit key equal to the current space keeps the explicit reference form.
    assert "[the guide](confluence-page:DEMO/Onboarding%20Guide)" in markdown
    without_urls = storage_to_markdown(fixture("15_page_links"), links=LinkContext(space_key="DEMO"))
    assert "[Same Space Page](confluence-page:Same%20Space%20Page)" in without_urls


def test_mentions_show_display_names() -> None:
    links = LinkContext(user_name=lambda user: {"557058:abcd-1234": "Ada Lovelace"}.get(user))
    markdown = storage_to_markdown(fixture("18_mentions"), links=links)
    assert "[@Ada Lovelace](confluence-user:557058:abcd-1234)" in markdown
    assert "[@8a7f808a4b1f](confluence-userkey:8a7f808a4b1f)" in markdown


def test_attachments_and_images_name_the_file() -> None:
    attachments = storage_to_markdown(fixture("17_attachment_links"))
    assert "[report 2024.pdf](<confluence-attachment:report 2024.pdf>)" in attachments
    assert "[the data](confluence-attachment:data.csv)" in attachments
    assert "[attachment: spec.docx](confluence-storage:" in attachments
    images = storage_to_markdown(fixture("19_images"))
    assert "![diagram](diagram.png)" in images and "![](https://example.com/x.png)" in images
    assert '![wide](<my screenshot.png> "width=400")' in images  # display attributes ride in the title
    assert "[image: other.png](confluence-storage:" in images  # an image of another page's attachment


def test_task_lists_use_checkboxes() -> None:
    markdown = storage_to_markdown(fixture("20_task_list"))
    assert markdown.startswith("- [ ] write the **spec**\n- [x] review\n\nbetween\n\n- [ ] third")


def test_status_lozenges_read_as_text() -> None:
    markdown = storage_to_markdown(fixture("23_status_macro"))
    assert "State: [status: Done](confluence-storage:" in markdown
    assert "[status: In progress](confluence-storage:" in markdown


def test_unknown_macros_are_named_never_dropped() -> None:
    markdown = storage_to_markdown(fixture("24_unknown_macros"))
    for name in ("drawio", "include", "panel", "children"):
        assert f"```confluence-storage macro={name}\n" in markdown
    assert "panel body" in markdown


def test_tables_become_gfm_tables() -> None:
    markdown = storage_to_markdown(fixture("05_table_simple"))
    assert markdown.splitlines()[:3] == ["| Name | Value |", "| --- | --- |", "| a | **1** |"]
    assert r"b \| pipe" in markdown


def test_markdown_lookalike_text_is_escaped() -> None:
    markdown = storage_to_markdown(fixture("28_markdown_lookalike_text"))
    assert markdown.startswith(r"\# not a heading, \*not emphasis\*")


def test_inline_placeholders_carry_the_original_storage() -> None:
    markdown = storage_to_markdown('<p>Due <time datetime="2024-01-01"/></p>')
    assert markdown.startswith("Due [date: 2024-01-01](confluence-storage:")
    encoded = markdown.split("(", 1)[1].rstrip(")")
    assert decode_inline_storage(encoded) == '<time datetime="2024-01-01"/>'


def test_empty_storage_gives_empty_markdown() -> None:
    assert storage_to_markdown("") == ""
    assert storage_to_markdown("   \n ") == ""
