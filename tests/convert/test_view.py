"""Storage → view HTML (what the sandbox serves as body.view)."""

from __future__ import annotations

from pathlib import Path

from confluence_mcp.confluence.convert import LinkContext, storage_to_view
from confluence_mcp.confluence.convert.xhtml import parse_fragment

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "storage"
LINKS = LinkContext(space_key="DEMO", page_url=lambda title, space: f"http://127.0.0.1:9/{space}/{title}",
                    user_name=lambda user: "Ada Lovelace" if user.startswith("557058") else None,
                    attachment_url=lambda name: f"http://127.0.0.1:9/download/{name}")


def view(name: str) -> str:
    return storage_to_view((FIXTURES / f"{name}.xml").read_text(), links=LINKS)


def test_every_fixture_renders_to_well_formed_html_without_storage_elements() -> None:
    for path in FIXTURES.glob("*.xml"):
        html = storage_to_view(path.read_text(), links=LINKS)
        tags = {element.tag for element in parse_fragment(html).iter() if isinstance(element.tag, str)}
        assert not [tag for tag in tags if tag.startswith(("ac:", "ri:"))], path.name


def test_code_macro_renders_as_pre() -> None:
    html = view("09_code_macro")
    assert html.startswith('<pre class="code" data-language="python"><code>def f():')
    assert "&quot;" not in html and "]]&gt;" in html


def test_admonitions_render_as_titled_divs() -> None:
    html = view("11_admonitions")
    assert '<div class="confluence-information-macro confluence-information-macro-warning">' in html
    assert '<p class="title"><strong>Warning title</strong></p>' in html


def test_expand_renders_as_details() -> None:
    assert view("12_expand").startswith('<details class="expand"><summary>More details</summary><p>Hidden text</p>')


def test_toc_lists_the_page_headings() -> None:
    html = view("13_toc")
    assert '<div class="toc-macro"><ul><li><a href="#First">First</a><ul><li><a href="#Sub">Sub</a></li></ul>' in html
    assert '<h1 id="First">First</h1>' in html


def test_status_renders_as_lozenge() -> None:
    assert '<span class="status-macro aui-lozenge aui-lozenge-green">DONE</span>' in view("23_status_macro")


def test_links_images_and_mentions_resolve_through_the_link_context() -> None:
    assert '<a href="http://127.0.0.1:9/DEMO/Onboarding Guide">the guide</a>' in view("15_page_links")
    assert '<a href="http://127.0.0.1:9/DEMO/Same Space Page">Same Space Page</a>' in view("15_page_links")
    assert '<a href="http://127.0.0.1:9/download/data.csv">the data</a>' in view("17_attachment_links")
    assert '>@Ada Lovelace</a>' in view("18_mentions")
    assert 'src="http://127.0.0.1:9/download/diagram.png" alt="diagram"' in view("19_images")
    assert 'src="https://example.com/x.png"' in view("19_images")


def test_unknown_macros_show_a_visible_placeholder() -> None:
    html = view("24_unknown_macros")
    assert '<div class="unknown-macro" data-macro-name="drawio">' in html
    assert '<span class="unknown-macro-name">[macro: drawio]</span>' in html
    assert "panel body" in html


def test_task_lists_render_with_checkboxes() -> None:
    html = view("20_task_list")
    assert '<ul class="inline-task-list"><li class="">☐ write the <strong>spec</strong></li>' in html
    assert '<li class="checked">☑ review</li>' in html


def test_tasks_nested_beside_their_parent_render_inside_its_item() -> None:
    html = view("42_server_nested_tasks")
    assert '<li class="">☐ Top level task 1<ul class="inline-task-list"><li class="checked">☑ Sub task 1' \
           '<ul class="inline-task-list"><li class="">☐ Sub sub task</li></ul></li>' in html
