"""Finding images in storage, their text context, byte sniffing and splitting a multi-image answer."""

from __future__ import annotations

import pytest

from confluence_mcp.confluence.convert import StorageParseError, storage_to_markdown, storage_to_text
from confluence_mcp.confluence.images import context_around, scan_images, sniff_image_type
from confluence_mcp.tools.images import DescriptionCache, split_sampled

STORAGE = (
    "<h1>Intro</h1><p>Before the first image.</p>"
    '<ac:image\n ac:alt="Flow"\n ac:width="200">\n<ri:attachment\n  ri:filename="flow diagram.png"/>\n</ac:image>'
    '<p>Inline <ac:image><ri:url ri:value="https://cdn.example.org/img/a%20b.gif?x=1"/></ac:image> after.</p>'
    '<table><tbody><tr><td><ac:image><ri:attachment ri:filename="cell.png"><ri:page ri:content-title="Other page"'
    ' ri:space-key="OPS"/></ri:attachment></ac:image></td></tr></tbody></table>'
    '<p><img src="data:image/png;base64,iVBORw0KGgo=" alt="tiny"/></p>'
    "<ac:image><ri:shortcut/></ac:image>"
)


def test_scan_finds_multiline_markup_urls_other_pages_and_html_img() -> None:
    scan = scan_images(STORAGE)
    assert [(r.source, r.filename) for r in scan.refs] == [
        ("attachment", "flow diagram.png"), ("url", "a b.gif"), ("attachment", "cell.png"), ("url", "")]
    assert scan.refs[0].alt == "Flow"
    assert (scan.refs[2].page_title, scan.refs[2].space_key) == ("Other page", "OPS")
    assert scan.refs[3].name == "tiny" and scan.refs[3].url and scan.refs[3].url.startswith("data:image/png")
    assert "<ac:image" not in scan.storage.replace("<ac:image><ri:shortcut/></ac:image>", "")
    markdown = storage_to_markdown(scan.storage)
    assert all(ref.placeholder in markdown for ref in scan.refs)


def test_context_is_page_text_within_the_radius() -> None:
    scan = scan_images(STORAGE)
    text = storage_to_text(scan.storage)
    context = context_around(scan, text, scan.refs[1], 40)
    assert "[this image] after." in context and "Inline" in context
    assert "<" not in context and "ri:" not in context
    assert "[Image flow diagram.png]" in context_around(scan, text, scan.refs[1], 200)
    assert context_around(scan, text, scan.refs[0], 0) == ""


def test_placeholders_are_stable_and_malformed_storage_raises() -> None:
    assert scan_images(STORAGE).storage == scan_images(STORAGE).storage
    with pytest.raises(StorageParseError):
        scan_images("<p>unclosed <ac:image>")


def test_sniff_accepts_only_raster_images() -> None:
    assert sniff_image_type(b"\x89PNG\r\n\x1a\n....") == "image/png"
    assert sniff_image_type(b"\xff\xd8\xff\xe0") == "image/jpeg"
    assert sniff_image_type(b"GIF89a...") == "image/gif"
    assert sniff_image_type(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff_image_type(b"<svg xmlns='http://www.w3.org/2000/svg'/>") is None
    assert sniff_image_type(b"<html>login</html>") is None


def test_split_sampled_answer() -> None:
    assert split_sampled("Image 1: one.\nImage 2: two", 2) == {1: "one.", 2: "two"}
    assert split_sampled("Just a description.", 1) == {1: "Just a description."}
    assert split_sampled("Image 3: out of range", 2) == {}


def test_cache_is_bounded_lru() -> None:
    cache = DescriptionCache(capacity=2)
    cache.put(("a", "", "m"), "A")
    cache.put(("b", "", "m"), "B")
    assert cache.get(("a", "", "m")) == "A"
    cache.put(("c", "", "m"), "C")
    assert cache.get(("b", "", "m")) is None and cache.get(("a", "", "m")) == "A"
    assert cache.get(("a", "other prompt", "m")) is None
