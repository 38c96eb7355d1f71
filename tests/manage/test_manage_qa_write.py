"""QA of the write tools as an agent uses them: toolkit labels on every changed page, bulk macro refusals that can be
acted on, and read → write-back round trips of pages whose lists are separated by empty paragraphs."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest
from manage_helpers import Rest, call, refused, unique
from mcp import Client

from confluence_mcp.sandbox.runner import RunningSandbox

pytestmark = pytest.mark.anyio

_PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 24).decode()


def purge(rest: Rest, page_id: str) -> None:
    rest.http.delete(f"/content/{page_id}")
    rest.http.delete(f"/content/{page_id}", params={"status": "trashed"})


@pytest.fixture
async def bare(rest: Rest) -> AsyncIterator[str]:
    """A page someone else made: no labels at all."""
    page = rest.create(unique("QA bare"), "<p>first</p>")
    yield page["id"]
    purge(rest, page["id"])


async def test_body_and_title_updates_add_the_toolkit_labels(tools: Client, rest: Rest, bare: str) -> None:
    out = await call(tools, "update_page_by_id", page_id=bare, new_body="second")
    assert out["version"] == 2 and rest.labels(bare) == ["via-mcp"] and out["labels"] == ["via-mcp"]
    title = rest.page(bare)["title"]
    renamed = await call(tools, "update_page_by_title", page_title=title, new_title=title + " renamed")
    assert renamed["labels"] == ["via-mcp"]
    rest.http.delete(f"/content/{bare}/label", params={"name": "via-mcp"})
    bulk = await call(tools, "update_pages", page_ids=[bare], new_contents=["third"])
    assert bulk["results"][0]["labels"] == ["via-mcp"] and rest.labels(bare) == ["via-mcp"]


async def test_a_no_op_update_writes_no_labels_either(tools: Client, rest: Rest, bare: str) -> None:
    out = await call(tools, "update_page_by_id", page_id=bare, new_body="first")
    assert "No change" in (out["note"] or "") and rest.labels(bare) == [] and rest.version(bare) == 1


async def test_label_adds_and_file_embeds_add_the_toolkit_labels(tools: Client, rest: Rest, bare: str) -> None:
    added = await call(tools, "update_labels", page_ids=[bare], new_labels=["alpha"])
    assert added["results"][0]["labels"] == ["alpha", "via-mcp"] and rest.labels(bare) == ["alpha", "via-mcp"]
    await call(tools, "update_labels", page_ids=[bare], new_labels=["via-mcp"], mode="remove")
    assert rest.labels(bare) == ["alpha"]  # removing it on purpose still works
    shown = await call(tools, "add_file_to_page", page_id=bare, file_base64=_PNG, filename="qa.png")
    assert shown["version"] == 2 and shown["labels"] == ["alpha", "via-mcp"]
    assert rest.labels(bare) == ["alpha", "via-mcp"]


async def test_update_pages_can_allow_macro_removal(tools: Client, rest: Rest) -> None:
    page = rest.create(unique("QA macro"), '<p>a</p><ac:structured-macro ac:name="toc"/>')
    try:
        message = (await call(tools, "update_pages", page_ids=[page["id"]], new_contents=["plain"]))["results"][0]
        assert not message["ok"] and "allow_macro_removal=true" in message["error"] and page["id"] in message["error"]
        assert rest.version(page["id"]) == 1
        out = await call(tools, "update_pages", page_ids=[page["id"]], new_contents=["plain"],
                         allow_macro_removal=True)
        assert out["succeeded"] == 1 and rest.storage(page["id"]) == "<p>plain</p>"
    finally:
        purge(rest, page["id"])


@pytest.mark.parametrize("between", ["<p><br/></p>", "<p></p>", "<p>&nbsp;</p>"])
@pytest.mark.parametrize("kind", ["ul", "ol"])
async def test_lists_split_by_an_empty_paragraph_round_trip(tools: Client, rest: Rest, between: str,
                                                            kind: str) -> None:
    storage = f"<{kind}><li>first</li></{kind}>{between}<{kind}><li>second</li></{kind}><p>end</p>"
    page = rest.create(unique("QA lists"), storage)
    try:
        read = await call(tools, "read_page_by_id", page_id=page["id"])
        same = await call(tools, "update_page_by_id", page_id=page["id"], new_body=read["markdown"])
        assert "No change" in (same["note"] or "") and rest.version(page["id"]) == 1
        edited = read["markdown"].replace("second", "second, edited")
        await call(tools, "update_page_by_id", page_id=page["id"], new_body=edited)
        assert rest.storage(page["id"]) == storage.replace("second", "second, edited")
    finally:
        purge(rest, page["id"])


async def test_refusals_name_the_page(tools: Client) -> None:
    assert "999999991" in await refused(tools, "update_page_by_id", page_id="999999991", new_body="x")


async def test_a_lone_surrogate_is_named_not_reported_as_a_bug(tools: Client, bare: str) -> None:
    for body_format in ("markdown", "storage", "wiki"):
        text = await refused(tools, "update_page_by_id", page_id=bare, new_body="ok \ud800 no",
                             body_format=body_format)
        assert "U+D800 at character 3" in text and "Nothing was written." in text and "bug" not in text


def _edit_on_upload(sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch, page_id: str, times: int) -> None:
    """Another editor saves the page right after each of the next `times` uploads (between our read and write)."""
    assert sandbox.app is not None
    store, left = sandbox.app.store, [times]
    upload = store.add_attachment

    def add_then_edit(*args: Any, **kwargs: Any) -> Any:
        added = upload(*args, **kwargs)
        if left[0] > 0:
            left[0] -= 1
            current = store.get(page_id)
            store.update(page_id, title=current.title, version=current.version.number + 1,
                         body=f"<p>their edit {left[0]}</p>")
        return added

    monkeypatch.setattr(store, "add_attachment", add_then_edit)


async def test_file_shown_on_a_page_edited_meanwhile(tools: Client, rest: Rest, bare: str, sandbox: RunningSandbox,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _edit_on_upload(sandbox, monkeypatch, bare, 1)
    out = await call(tools, "add_file_to_page", page_id=bare, file_base64=_PNG, filename="race.png")
    # the other editor's body stays, the image is added to it
    assert rest.storage(bare).startswith("<p>their edit 0</p><p><ac:image>") and out["version"] == 3


async def test_file_attached_but_not_shown_says_so(tools: Client, rest: Rest, bare: str, sandbox: RunningSandbox,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    assert sandbox.app is not None
    store = sandbox.app.store
    update = store.update

    def edit_first(content_id: str, **kwargs: Any) -> Any:  # every save of ours meets a newer version
        if kwargs.get("message", "").startswith("Added"):
            current = store.get(content_id)
            update(content_id, title=current.title, version=current.version.number + 1,
                   body=f"<p>theirs {current.version.number}</p>")
        return update(content_id, **kwargs)

    monkeypatch.setattr(store, "update", edit_first)
    message = await refused(tools, "add_file_to_page", page_id=bare, file_base64=_PNG, filename="race.png")
    assert "race.png is attached to page " + bare in message and "add_file_to_page again" in message
    assert "expected_version" not in message and "Nothing was written" not in message
    assert [a["title"] for a in rest.http.get(f"/content/{bare}/child/attachment").json()["results"]] == ["race.png"]
