"""An edited task list keeps the stored task (its `ac:task-id`, the Cloud `ac:task-uuid`, the editor's wrappers) of
every task whose text is unchanged, ticked or not; only new tasks get new ids, and ids stay unique in the page with
the stored tasks keeping theirs."""

from __future__ import annotations

from confluence_mcp.confluence.convert import (
    keep_unchanged_blocks,
    markdown_to_storage,
    replace_section,
    storage_to_markdown,
    unique_task_ids,
)

from .task_fixtures import CLOUD, SERVER, TASK_ID


def write_back(stored: str, edit: tuple[str, str]) -> str:
    markdown = storage_to_markdown(stored)
    assert edit[0] in markdown
    return unique_task_ids(keep_unchanged_blocks(stored, markdown_to_storage(markdown.replace(*edit))), stored)


def task(number: int, body: str, status: str = "incomplete") -> str:
    return f"<ac:task><ac:task-id>{number}</ac:task-id><ac:task-status>{status}</ac:task-status>" \
           f"<ac:task-body>{body}</ac:task-body></ac:task>"


def test_a_task_added_on_top_leaves_the_stored_ids_alone() -> None:
    merged = write_back(SERVER, ("- [ ] write", "- [ ] plan\n- [ ] write"))
    # The new task's rendered id 1 is the first stored task's: it gets the next free one, and the second list,
    # kept as stored, keeps its 3.
    assert merged == SERVER.replace("<ac:task-list><ac:task><ac:task-id>1<",
                                    f"<ac:task-list>{task(4, 'plan')}<ac:task><ac:task-id>1<", 1)


def test_ticking_a_cloud_task_keeps_its_id_uuid_and_wrappers() -> None:
    merged = write_back(CLOUD, ("- [ ] Send", "- [x] Send"))
    assert merged == CLOUD.replace("<ac:task-status>incomplete</ac:task-status>",
                                   "<ac:task-status>complete</ac:task-status>", 1)


def test_an_edited_task_is_new_and_the_others_keep_their_ids() -> None:
    merged = write_back(CLOUD, ("Book the room", "Book the big room\n- [ ] Order lunch"))
    stored_first = CLOUD[CLOUD.index("<ac:task>") : CLOUD.index("</ac:task>") + len("</ac:task>")]
    assert stored_first in merged and CLOUD.split("<ac:task>")[0] in merged  # list id and the first task as stored
    assert "1d9a4a6f" not in merged  # the edited task's uuid went with its old text
    ids = TASK_ID.findall(merged)
    assert ids[0] == "1" and len(set(ids)) == len(ids) == 3


def test_a_stored_task_keeps_its_id_over_an_earlier_new_one() -> None:
    stored = f"<h1>A</h1><p>none yet</p><h1>B</h1><ac:task-list>{task(1, 'kept')}</ac:task-list>"
    # A section write numbers its tasks from 1: the stored task later in the page keeps 1
    merged = unique_task_ids(replace_section(stored, "A", markdown_to_storage("- [ ] new"), keep_unchanged_blocks),
                             stored)
    assert merged == f"<h1>A</h1><ac:task-list>{task(2, 'new')}</ac:task-list><h1>B</h1>" \
                     f"<ac:task-list>{task(1, 'kept')}</ac:task-list>"


def test_tasks_with_the_same_text_are_matched_in_order_and_no_new_task_takes_a_stored_id() -> None:
    stored = f"<ac:task-list>{task(1, 'old')}{task(7, 'check')}{task(9, 'check', 'complete')}</ac:task-list>"
    # "old" is gone; "first", new, is rendered with its id 1, which it must not inherit
    written = markdown_to_storage("- [ ] first\n- [x] check\n- [x] check")
    merged = unique_task_ids(keep_unchanged_blocks(stored, written), stored)
    assert merged == f"<ac:task-list>{task(10, 'first')}{task(7, 'check', 'complete')}" \
                     f"{task(9, 'check', 'complete')}</ac:task-list>"


def test_stored_tasks_sharing_an_id_keep_it_so_unchanged_markdown_is_a_no_op() -> None:
    # A page can hold two tasks with one id (pasted, or written by another tool): a write that leaves them alone
    # leaves them alone, and a copy of one of them added by the edit still gets a fresh id.
    stored = f"<ac:task-list>{task(1, 'a')}{task(1, 'b')}</ac:task-list><p>x</p>"
    assert write_back(stored, ("x", "x")) == stored
    assert write_back(stored, ("x", "y")) == stored.replace("<p>x</p>", "<p>y</p>")
    copied = write_back(stored, ("- [ ] b", "- [ ] b\n- [ ] b"))
    assert TASK_ID.findall(copied)[:2] == ["1", "1"] and TASK_ID.findall(copied)[2] != "1"


def test_task_ids_quoted_in_a_code_block_are_code() -> None:
    # Storage quoted in a code macro (CDATA) is text: neither renumbered nor taken for a task the page holds.
    code = ('<ac:structured-macro ac:name="code" ac:schema-version="1"><ac:plain-text-body><![CDATA['
            f"{task(1, 'x')}\n{task(1, 'y')}]]></ac:plain-text-body></ac:structured-macro>")
    stored = f"<ac:task-list>{task(1, 'real')}</ac:task-list><p>x</p>"
    written = keep_unchanged_blocks(stored, f"<ac:task-list>{task(1, 'real')}</ac:task-list><p>y</p>{code}")
    assert unique_task_ids(written, stored) == written
    assert unique_task_ids(code, f"<p>x</p>{code}") == code
    # A new task beside quoted ids it does not share keeps its number; one that shares a stored id gets a free one.
    assert TASK_ID.findall(unique_task_ids(f"{code}<ac:task-list>{task(1, 'new')}</ac:task-list>", stored)) == \
        ["1", "1", "2"]
