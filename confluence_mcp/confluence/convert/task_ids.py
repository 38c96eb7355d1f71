"""Task ids: unique in a page, and kept by the tasks a write did not change.

Confluence keeps a task's state (the tasks report, reminders) under its `ac:task-id`, unique in the page; the Cloud
editor adds an `ac:task-uuid`. Markdown shows neither, and rendering numbers tasks in page order. So an edited task
list keeps the stored task (ids and bytes) of every task whose text is unchanged, matched in order by text, its
status taken from the edit (`merge_task_list`); then the page's ids are made unique, a stored task keeping its id
over a new task rendered with the same number (`unique_task_ids`).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable
from difflib import SequenceMatcher
from xml.etree.ElementTree import Element

from .element_parts import ElementParts, element_parts, same_tag
from .visible import block_key

__all__ = ["merge_task_list", "unique_task_ids"]

_TASK_ID = re.compile(r"(<ac:task-id>)\s*(\d+)\s*(</ac:task-id>)")
_TASK = re.compile(r"<ac:task>.*?</ac:task>", re.DOTALL)
_STATUS = re.compile(r"<ac:task-status>[^<]*</ac:task-status>")
_CDATA = re.compile(r"<!\[CDATA\[.*?\]\]>", re.DOTALL)


def merge_task_list(old: str, new: str, keep: Callable[[str, str], str]) -> str:
    """`new` (an edited task list) with the stored task kept for each task whose text is unchanged."""
    old_parts, new_parts = element_parts(old), element_parts(new)
    if old_parts is None or new_parts is None or not _only_tasks(old_parts) or not _only_tasks(new_parts):
        return new
    old_texts = [_text_key(task) for task in old_parts.elements]
    new_texts = [_text_key(task) for task in new_parts.elements]
    tasks: list[str] = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, old_texts, new_texts, autojunk=False).get_opcodes():
        if op != "equal":
            tasks += new_parts.children[j1:j2]  # new or edited tasks: their ids are made unique in the page
            continue
        for offset in range(i2 - i1):
            tasks.append(_with_status(old_parts.children[i1 + offset], new_parts.children[j1 + offset]))
    return old_parts.join(tasks, None if same_tag(old_parts, new_parts) else new_parts.open)


def _only_tasks(parts: ElementParts) -> bool:
    return all(task.tag == "ac:task" for task in parts.elements)


def _text_key(task: Element) -> str:
    body = next((child for child in task if child.tag == "ac:task-body"), None)
    return "" if body is None else block_key(body)


def _with_status(stored: str, new: str) -> str:
    """The stored task with the status of the new one (ticked or not in the edit)."""
    stored_status, new_status = _STATUS.search(stored), _STATUS.search(new)
    if stored_status is None or new_status is None:
        return new
    if " ".join(stored_status.group(0).split()) == " ".join(new_status.group(0).split()):
        return stored
    return stored[: stored_status.start()] + new_status.group(0) + stored[stored_status.end() :]


def unique_task_ids(storage: str, stored: str = "") -> str:
    """`storage` with every task id used once. A task that `stored` (the page before the write) holds with the same
    id keeps it; any other task (a new one, numbered in page order, or a section write's, numbered from 1) whose id
    is taken, or was a stored task's, gets the next free one, so the tasks report never mixes two tasks up. Storage
    quoted in a code block (CDATA) is text, left alone."""
    masked, stored = _without_cdata(storage), _without_cdata(stored)
    found = [int(match.group(2)) for match in _TASK_ID.finditer(masked)]
    stored_ids = {int(match.group(2)) for match in _TASK_ID.finditer(stored)}
    if len(set(found)) == len(found) and not stored_ids & set(found):
        return storage
    tasks = list(_TASK.finditer(masked))
    starts = [task.start() for task in tasks]
    kept = _kept_tasks(tasks, Counter(_task_key(match.group(0)) for match in _TASK.finditer(stored)))
    used = stored_ids | {number for number in kept.values()}
    fresh = max([*found, *stored_ids]) + 1

    def renumber(match: re.Match[str]) -> str:
        nonlocal fresh
        index = bisect_right(starts, match.start()) - 1
        if index >= 0 and index in kept and match.end() <= tasks[index].end():
            return match.group(0)
        number = int(match.group(2))
        if number in used:
            number, fresh = fresh, fresh + 1
        used.add(number)
        return f"{match.group(1)}{number}{match.group(3)}"

    pieces, position = [], 0
    for match in _TASK_ID.finditer(masked):  # the ids outside CDATA, where `masked` and `storage` agree
        pieces += [storage[position : match.start()], renumber(match)]
        position = match.end()
    return "".join(pieces) + storage[position:]


def _without_cdata(storage: str) -> str:
    """`storage` with each CDATA section (a code block's text) blanked out, every other character where it was."""
    return _CDATA.sub(lambda match: " " * len(match.group(0)), storage)


def _kept_tasks(tasks: list[re.Match[str]], stored_tasks: Counter[tuple[int | None, str]]) -> dict[int, int]:
    """Which tasks (by index) are stored ones keeping their id, wherever they are in the page: each stored task
    claimed once (tasks the page stores with one id keep it, as stored; a copy of one gets a new id)."""
    kept: dict[int, int] = {}
    left = Counter(stored_tasks)
    for index, task in enumerate(tasks):
        key = _task_key(task.group(0))
        if key[0] is not None and left[key] > 0:
            left[key] -= 1
            kept[index] = key[0]
    return kept


def _task_key(task: str) -> tuple[int | None, str]:
    """A task's id, and the rest of it but its status (a ticked stored task is still that task)."""
    match = _TASK_ID.search(task)
    rest = _STATUS.sub("", _TASK_ID.sub("", task))
    return (int(match.group(2)) if match else None, rest)
