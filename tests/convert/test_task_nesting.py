"""Nested tasks in the shape Confluence's editors store them: the nested `<ac:task-list>` beside its parent task, right
after it in the parent's list (Server with newlines between the elements, Cloud with uuids, list ids and the
`placeholder-inline-tasks` span). They read as indented `- [ ]` items at any depth, write back byte for byte when
unchanged, keep their ids and their shape when edited; markdown's new nested tasks are written in that shape."""

from __future__ import annotations

import re

import pytest

from confluence_mcp.confluence.convert import (
    keep_unchanged_blocks,
    markdown_to_storage,
    storage_to_markdown,
    unique_task_ids,
)

from .task_fixtures import CLOUD_NESTED as CLOUD
from .task_fixtures import SERVER_NESTED as SERVER
from .task_fixtures import TASK_ID

MARKDOWN = {
    "server": "Plan:\n\n- [ ] Top level task 1\n  - [x] Sub task 1\n    - [ ] Sub sub task\n  - [ ] Sub task 2\n"
              "- [ ] Top level task 2\n\nDone.",
    "cloud": "Plan:\n\n- [ ] Top level task 1\n  - [x] Sub task 1\n    - [ ] Sub sub **task**\n  - [ ] Sub task 2\n"
             "- [ ] Top level task 2\n\nDone.",
}
STORED = {"server": SERVER, "cloud": CLOUD}


def write(stored: str, markdown: str) -> str:
    return unique_task_ids(keep_unchanged_blocks(stored, markdown_to_storage(markdown)), stored)


def task(number: int, body: str, status: str = "incomplete") -> str:
    return f"<ac:task><ac:task-id>{number}</ac:task-id><ac:task-status>{status}</ac:task-status>" \
           f"<ac:task-body>{body}</ac:task-body></ac:task>"


def stored_task(stored: str, text: str) -> str:
    """The stored task whose body holds `text`, as its bytes."""
    return next(match.group(0) for match in re.finditer(r"<ac:task>(?:(?!<ac:task>).)*?</ac:task>", stored, re.DOTALL)
                if text in match.group(0))


def task_list(storage: str) -> str:
    """The page's (one, outermost) task list as its bytes."""
    return storage[storage.index("<ac:task-list") : storage.rindex("</ac:task-list>") + len("</ac:task-list>")]


@pytest.mark.parametrize("flavor", ["server", "cloud"])
def test_nested_tasks_beside_their_parent_read_as_indented_markdown(flavor: str) -> None:
    assert storage_to_markdown(STORED[flavor]) == MARKDOWN[flavor]


@pytest.mark.parametrize("flavor", ["server", "cloud"])
def test_unchanged_nested_tasks_write_back_byte_for_byte(flavor: str) -> None:
    stored = STORED[flavor]
    assert write(stored, storage_to_markdown(stored)) == stored
    # An edit elsewhere leaves the task list's bytes alone.
    assert task_list(stored) in write(stored, MARKDOWN[flavor].replace("Done.", "Done!"))


@pytest.mark.parametrize("flavor", ["server", "cloud"])
def test_a_ticked_nested_task_keeps_every_stored_task_and_the_shape(flavor: str) -> None:
    stored = STORED[flavor]
    merged = write(stored, MARKDOWN[flavor].replace("- [ ] Sub task 2", "- [x] Sub task 2"))
    sub = stored_task(stored, "Sub task 2")
    assert task_list(merged) == task_list(stored).replace(sub, sub.replace("incomplete", "complete"))


@pytest.mark.parametrize("flavor", ["server", "cloud"])
def test_moved_and_added_nested_tasks_keep_their_ids_in_the_stored_shape(flavor: str) -> None:
    stored = STORED[flavor]
    markdown = MARKDOWN[flavor]
    # "Sub task 2" moves up to the top level under a new task; a new task nests under "Top level task 2".
    edited = markdown.replace("  - [ ] Sub task 2\n", "").replace(
        "- [ ] Top level task 2", "- [ ] Top level task 2\n  - [ ] Sub task 3\n- [ ] New\n  - [ ] Sub task 2")
    merged = write(stored, edited)
    assert storage_to_markdown(merged) == edited
    for text in ("Top level task 1", "Sub task 1", "Sub sub", "Top level task 2", "Sub task 2"):
        assert stored_task(stored, text) in merged  # each stored task's bytes, ids and uuids
    ids = TASK_ID.findall(merged)
    assert len(ids) == len(set(ids)) == 7
    # The editors' shape: every nested list beside its parent task, no list inside a task's body.
    assert "<ac:task-body><ac:task-list" not in merged and not re.search(r"</ac:task-list>\s*</ac:task-body>", merged)


def test_markdown_nested_tasks_are_written_beside_their_parent() -> None:
    storage = markdown_to_storage("- [ ] a\n  - [x] b\n    - [ ] c\n  - [ ] d\n- [ ] e")
    assert storage == f"<ac:task-list>{task(1, 'a')}<ac:task-list>{task(2, 'b', 'complete')}<ac:task-list>" \
                      f"{task(3, 'c')}</ac:task-list>{task(4, 'd')}</ac:task-list>{task(5, 'e')}</ac:task-list>"


def test_a_task_with_a_plain_list_keeps_it_in_its_body() -> None:
    storage = markdown_to_storage("- [ ] a\n  - plain")
    assert storage == f"<ac:task-list>{task(1, 'a<ul><li>plain</li></ul>')}</ac:task-list>"


def test_a_new_nested_task_under_a_body_nested_list_goes_in_the_body() -> None:
    # A page whose nested tasks sit in their parent's body keeps that shape for the tasks an edit nests.
    children = f"<ac:task-list>{task(2, 'child')}</ac:task-list>"
    stored = f"<ac:task-list>{task(1, 'parent').replace('</ac:task-body>', children + '</ac:task-body>')}" \
             f"{task(3, 'other')}</ac:task-list>"
    assert write(stored, storage_to_markdown(stored)) == stored
    merged = write(stored, "- [ ] parent\n  - [ ] child\n- [ ] other\n  - [ ] new")
    nested_new = f"<ac:task-list>{task(4, 'new')}</ac:task-list>"
    assert merged == stored.replace(task(3, "other"),
                                    task(3, "other").replace("</ac:task-body>", nested_new + "</ac:task-body>"))


def test_a_task_list_that_starts_with_a_nested_list_reads_as_storage_and_writes_back_unchanged() -> None:
    # No task for the nested list to sit under: markdown cannot show it, so it stays a storage fence.
    stored = f"<ac:task-list><ac:task-list>{task(1, 'child')}</ac:task-list>{task(2, 'next')}</ac:task-list>"
    markdown = storage_to_markdown(stored)
    assert markdown.startswith("```confluence-storage")
    assert write(stored, markdown) == stored


def test_a_copied_nested_task_gets_a_fresh_id_unique_in_the_page() -> None:
    merged = write(SERVER, MARKDOWN["server"] + "\n\n- [ ] Sub task 1\n  - [ ] Sub task 1")
    ids = TASK_ID.findall(merged)
    assert len(ids) == len(set(ids)) == 7 and ids[:5] == ["1", "2", "3", "4", "5"]
