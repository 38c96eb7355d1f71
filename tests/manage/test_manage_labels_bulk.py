"""Label modes without new page versions, and bulk tools that report every item."""

from __future__ import annotations

import json

import pytest
from manage_helpers import Rest, call, refused, unique
from mcp import Client

pytestmark = pytest.mark.anyio


async def test_label_modes_never_create_versions(tools: Client, rest: Rest) -> None:
    page = await call(tools, "create_page", title=unique("Labels"), body="text", labels=["alpha"])
    before = rest.page(page["id"])
    added = await call(tools, "update_labels", page_ids=[page["id"]], new_labels=["Beta", "gamma"], mode="add")
    assert added["succeeded"] == 1 and rest.labels(page["id"]) == ["alpha", "beta", "gamma", "via-mcp"]
    assert sorted(added["results"][0]["labels"]) == ["alpha", "beta", "gamma", "via-mcp"]  # what the page has now
    removed = await call(tools, "update_labels", page_ids=[page["id"]], new_labels=["alpha"], mode="remove")
    assert rest.labels(page["id"]) == sorted(removed["results"][0]["labels"]) == ["beta", "gamma", "via-mcp"]
    await call(tools, "update_labels", page_ids=[page["id"]], new_labels=["delta"], mode="replace")
    assert rest.labels(page["id"]) == ["delta", "via-mcp"]  # the toolkit's label stays
    after = rest.page(page["id"])
    assert after["version"]["number"] == before["version"]["number"] == 1
    assert after["body"]["storage"]["value"] == before["body"]["storage"]["value"]
    # label changes through update_page_by_id: also no new version
    out = await call(tools, "update_page_by_id", page_id=page["id"], new_labels=["epsilon"])
    assert out["version"] == 1 and out["labels"] == ["epsilon", "via-mcp"]
    assert rest.version(page["id"]) == 1


@pytest.mark.parametrize("label", ["two words", "<b>", 'x"y', "a:b", "", "ac:structured-macro"])
async def test_labels_that_could_inject_are_refused(tools: Client, rest: Rest, label: str) -> None:
    page = await call(tools, "create_page", title=unique("BadLabel"), body="x")
    message = await refused(tools, "update_labels", page_ids=[page["id"]], new_labels=[label], mode="add")
    assert "not allowed" in message or "No labels" in message or "Label" in message
    assert rest.labels(page["id"]) == ["via-mcp"]


async def test_create_pages_reports_each_item(tools: Client, rest: Rest) -> None:
    taken = await call(tools, "create_page", title=unique("Taken"), body="x")
    good_a, good_b = unique("Bulk A"), unique("Bulk B")
    out = await call(tools, "create_pages", pages=[
        {"title": good_a, "body": "a", "labels": ["bulk"]},
        {"title": taken["title"], "body": "dup"},
        {"title": unique("Orphan"), "body": "x", "parent_id": "999999997"},
        {"title": good_b, "body": "b", "parent_id": taken["id"]},
    ], body_format="markdown")
    assert out["succeeded"] == 2 and out["failed"] == 2
    refs = [item["ref"] for item in out["results"]]
    assert refs[0] == good_a and refs[1] == taken["title"] and refs[3] == good_b
    first, dup, orphan, last = out["results"]
    assert first["ok"] and first["id"] and first["url"] and rest.labels(first["id"]) == ["bulk", "via-mcp"]
    assert not dup["ok"] and taken["id"] in dup["error"]
    assert last["ok"] and rest.page(last["id"])["ancestors"][-1]["id"] == taken["id"]
    assert not orphan["ok"] and "999999997" in orphan["error"] and "id" not in orphan


async def test_create_pages_accepts_elitea_pages_info(tools: Client, rest: Rest) -> None:
    one, two = unique("Info 1"), unique("Info 2")
    out = await call(tools, "create_pages", pages_info=json.dumps([{one: "first body"}, {two: "second"}]))
    assert [r["ok"] for r in out["results"]] == [True, True]
    assert "first body" in rest.storage(out["results"][0]["id"])
    bad = await refused(tools, "create_pages", pages_info="[{not json")
    assert "pages_info is not valid JSON" in bad


async def test_update_pages_partial_failure(tools: Client, rest: Rest) -> None:
    a = await call(tools, "create_page", title=unique("UA"), body="a")
    b = await call(tools, "create_page", title=unique("UB"), body="b")
    out = await call(tools, "update_pages", page_ids=[a["id"], "999999998", b["id"]], new_contents=["same for all"])
    assert [r["ok"] for r in out["results"]] == [True, False, True]
    assert "999999998" in out["results"][1]["error"]
    assert rest.storage(a["id"]) == rest.storage(b["id"]) == "<p>same for all</p>"
    mismatch = await refused(tools, "update_pages", page_ids=[a["id"], b["id"]], new_contents=["1", "2", "3"])
    assert "3 entries for 2 page ids" in mismatch
    twice = await refused(tools, "update_pages", page_ids=[a["id"], b["id"], f" {a['id']}"],
                          new_contents=["1", "2", "3"])
    assert f"lists {a['id']} more than once" in twice and rest.storage(a["id"]) == "<p>same for all</p>"
    labels_only = await call(tools, "update_pages", page_ids=[a["id"], b["id"]], new_labels=["done"])
    assert labels_only["succeeded"] == 2 and rest.version(a["id"]) == 2
    assert rest.labels(b["id"]) == ["done", "via-mcp"]
