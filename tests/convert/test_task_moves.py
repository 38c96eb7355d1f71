"""A task whose text is unchanged keeps its stored task (id, Cloud uuid, wrappers) wherever it moves in its list,
ticked or not, and at any depth: a nested task list (an indented `- [ ]` under a task, stored in the task's body)
reads as nested markdown, writes back unchanged byte for byte, and keeps its tasks' ids on an edit."""

from __future__ import annotations

import re
from collections.abc import Callable

from confluence_mcp.confluence.convert import (
    keep_unchanged_blocks,
    markdown_to_storage,
    storage_to_markdown,
    unique_task_ids,
)

from .task_fixtures import CLOUD, SERVER, TASK, TASK_ID


def write(stored: str, markdown: str) -> str:
    return unique_task_ids(keep_unchanged_blocks(stored, markdown_to_storage(markdown)), stored)


def task(number: int, body: str, status: str = "incomplete", uuid: str = "") -> str:
    bookkeeping = f"<ac:task-id>{number}</ac:task-id>" + (f"<ac:task-uuid>{uuid}</ac:task-uuid>" if uuid else "")
    return f"<ac:task>{bookkeeping}<ac:task-status>{status}</ac:task-status><ac:task-body>{body}</ac:task-body>" \
           "</ac:task>"


def cloud_task(number: int, body: str, status: str = "incomplete") -> str:
    return task(number, f'<span class="placeholder-inline-tasks">{body}</span>', status, f"uuid-{number}")


def test_swapped_server_tasks_keep_their_stored_tasks() -> None:
    first, second = TASK.findall(SERVER)[:2]
    markdown = storage_to_markdown(SERVER)
    swapped = markdown.replace("- [ ] write the **spec**\n- [x] review", "- [x] review\n- [ ] write the **spec**")
    assert swapped != markdown
    assert write(SERVER, swapped) == SERVER.replace(first + second, second + first)


def test_a_cloud_task_moved_and_ticked_keeps_its_id_uuid_and_wrappers() -> None:
    first, second = TASK.findall(CLOUD)
    markdown = storage_to_markdown(CLOUD)
    lines = markdown.split("\n")
    send = next(line for line in lines if "Send" in line)
    book = next(line for line in lines if "Book" in line)
    moved = markdown.replace(f"{send}\n{book}", f"{book}\n{send.replace('[ ]', '[x]')}")
    ticked = first.replace("incomplete", "complete")
    assert write(CLOUD, moved) == CLOUD.replace(first + second, second + ticked)


def test_moved_tasks_with_the_same_text_take_the_stored_ones_in_order() -> None:
    stored = f"<ac:task-list>{task(7, 'check')}{task(8, 'other')}{task(9, 'check', 'complete')}</ac:task-list>"
    merged = write(stored, "- [ ] other\n- [x] check\n- [ ] new\n- [ ] check")
    assert merged == f"<ac:task-list>{task(8, 'other')}{task(7, 'check', 'complete')}{task(3, 'new')}" \
                     f"{task(9, 'check')}</ac:task-list>"


def test_an_edited_task_in_place_still_gets_a_new_id() -> None:
    stored = f"<ac:task-list>{task(1, 'a')}{task(2, 'b')}</ac:task-list>"
    assert write(stored, "- [ ] a\n- [ ] b2") == f"<ac:task-list>{task(1, 'a')}{task(3, 'b2')}</ac:task-list>"


def nested(make: Callable[..., str], status: str = "incomplete") -> str:
    children = f"<ac:task-list>{make(2, 'child a')}{make(3, 'child b', status)}</ac:task-list>"
    parent = make(1, "parent").replace("</ac:task-body>", f"{children}</ac:task-body>")
    return f"<ac:task-list>{parent}{make(4, 'next')}</ac:task-list><p>after</p>"


NESTED_MARKDOWN = "- [ ] parent\n  - [ ] child a\n  - [ ] child b\n- [ ] next\n\nafter"


def test_nested_server_tasks_read_as_nested_markdown_and_write_back_unchanged() -> None:
    stored = nested(task)
    assert storage_to_markdown(stored) == NESTED_MARKDOWN
    assert write(stored, NESTED_MARKDOWN) == stored
    assert write(stored, NESTED_MARKDOWN.replace("after", "later")) == stored.replace("after", "later")


def test_nested_cloud_tasks_read_as_nested_markdown_and_write_back_unchanged() -> None:
    stored = nested(cloud_task)
    assert storage_to_markdown(stored) == NESTED_MARKDOWN
    assert write(stored, NESTED_MARKDOWN) == stored


def test_nested_tasks_keep_their_ids_when_ticked_moved_and_added_to() -> None:
    for make in (task, cloud_task):
        stored = nested(make)
        edited = "- [ ] parent\n  - [x] child b\n  - [ ] child c\n  - [ ] child a\n- [ ] next\n\nafter"
        children = f"<ac:task-list>{make(3, 'child b', 'complete')}{task(5, 'child c')}{make(2, 'child a')}" \
                   "</ac:task-list>"
        parent = make(1, "parent").replace("</ac:task-body>", f"{children}</ac:task-body>")
        assert write(stored, edited) == f"<ac:task-list>{parent}{make(4, 'next')}</ac:task-list><p>after</p>"


def test_a_new_task_never_takes_a_nested_tasks_id() -> None:
    stored = nested(task)
    merged = write(stored, "- [ ] first\n" + NESTED_MARKDOWN.replace("- [ ] parent", "- [ ] parent!"))
    ids = TASK_ID.findall(merged)
    assert len(ids) == len(set(ids)) == 5 and ids[2:4] == ["2", "3"] and ids[4] == "4"


def test_a_task_moved_out_of_a_nested_list_keeps_its_id() -> None:
    stored = nested(task)
    merged = write(stored, "- [ ] parent\n  - [ ] child a\n- [ ] next\n- [ ] child b\n\nafter")
    assert merged.endswith(f"{task(4, 'next')}{task(3, 'child b')}</ac:task-list><p>after</p>")


def test_a_task_list_nested_beside_its_parent_task_reads_as_nested_markdown_and_writes_back_unchanged() -> None:
    # The editors' own shape (a nested task list beside the tasks of its list): see test_task_nesting.
    stored = f"<ac:task-list>{task(1, 'parent')}<ac:task-list>{task(2, 'child')}</ac:task-list></ac:task-list>"
    markdown = storage_to_markdown(stored)
    assert markdown == "- [ ] parent\n  - [ ] child"
    assert write(stored, markdown) == stored


def test_three_levels_an_edited_parent_is_new_and_its_unchanged_tasks_keep_their_ids() -> None:
    markdown = "- [ ] a\n  - [ ] b\n    - [x] c\n  - [ ] d\n- [ ] e"
    stored = markdown_to_storage(markdown)
    assert storage_to_markdown(stored) == markdown and write(stored, markdown) == stored
    edited = write(stored, "- [ ] e\n- [ ] A!\n  - [ ] d\n  - [ ] b\n    - [x] c\n    - [ ] new")
    bodies = re.findall(r"<ac:task-id>(\d+)</ac:task-id><ac:task-status>\w+</ac:task-status><ac:task-body>([^<]*)",
                        edited)
    # New tasks keep their rendered number while it is free ("new": 6); "A!" rendered as 2, a stored id, gets 7.
    assert bodies == [("5", "e"), ("7", "A!"), ("4", "d"), ("2", "b"), ("3", "c"), ("6", "new")]
