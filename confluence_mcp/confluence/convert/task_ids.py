"""Task ids: unique in a page, and kept by the tasks a write did not change.

Confluence keeps a task's state (the tasks report, reminders) under its `ac:task-id`, unique in the page; the Cloud
editor adds an `ac:task-uuid`. Markdown shows neither, and rendering numbers tasks in page order. So an edited task
list keeps the stored task (ids and bytes) of every task whose text is unchanged, wherever it moved, its status taken
from the edit (`task_merge.merge_task_list`); then the page's ids are made unique, a stored task keeping its id over
a new task rendered with the same number (`unique_task_ids`). Tasks nest (a task list beside its parent task in the
parent's list, or in the parent's body): each task is told by its own id and text, its nested tasks left out.
"""

from __future__ import annotations

import re
from collections import Counter

__all__ = ["unique_task_ids", "with_status"]

_TASK_ID = re.compile(r"(<ac:task-id>)\s*(\d+)\s*(</ac:task-id>)")
# A task's start and end tags and its id, in page order: enough to tell which task each id belongs to when they nest.
_TOKENS = re.compile(r"<ac:task(?:\s[^>]*)?>|</ac:task>|<ac:task-id>\s*\d+\s*</ac:task-id>")
_STATUS = re.compile(r"<ac:task-status>[^<]*</ac:task-status>")
_CDATA = re.compile(r"<!\[CDATA\[.*?\]\]>", re.DOTALL)
# Left out of a task's key with its nested tasks: the tags of a task list nested in its body (gained or lost in an
# edit), and the whitespace between its parts.
_NOT_OWN = re.compile(r"<ac:task-list(?:\s[^>]*)?>|</ac:task-list>|<ac:task-status>[^<]*</ac:task-status>"
                      r"|(?<=>)\s+|\s+(?=<)")


def with_status(stored: str, new: str) -> str:
    """The stored task (or its start) with the status of the new one (ticked or not in the edit)."""
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
    keys, owners = _tasks(masked)
    kept = _kept_tasks(keys, Counter(_tasks(stored)[0]))
    used = stored_ids | set(kept.values())
    fresh = max([*found, *stored_ids]) + 1
    pieces, position = [], 0
    for match, owner in zip(_TASK_ID.finditer(masked), owners, strict=True):  # outside CDATA: `masked` = `storage`
        number = int(match.group(2))
        if owner is None or owner not in kept:
            if number in used:
                number, fresh = fresh, fresh + 1
            used.add(number)
        pieces += [storage[position : match.start()], f"{match.group(1)}{number}{match.group(3)}"]
        position = match.end()
    return "".join(pieces) + storage[position:]


def _without_cdata(storage: str) -> str:
    """`storage` with each CDATA section (a code block's text) blanked out, every other character where it was."""
    return _CDATA.sub(lambda match: " " * len(match.group(0)), storage)


def _tasks(storage: str) -> tuple[list[tuple[int | None, str]], list[int | None]]:
    """Each task's key (in the order tasks start), and for each task id the task it belongs to (the innermost one
    around it; None outside any task)."""
    keys: list[tuple[int | None, str]] = []
    owners: list[int | None] = []
    ids: dict[int, int] = {}
    # Per open task: its index, where it starts, and the spans of the tasks nested in it (not its own text).
    stack: list[tuple[int, int, list[tuple[int, int]]]] = []
    for token in _TOKENS.finditer(storage):
        text = token.group(0)
        if text.startswith("<ac:task-id>"):
            owners.append(stack[-1][0] if stack else None)
            if stack and stack[-1][0] not in ids:
                ids[stack[-1][0]] = int(_TASK_ID.match(text).group(2))  # type: ignore[union-attr]
        elif text == "</ac:task>":
            if not stack:
                continue
            index, start, nested = stack.pop()
            own, position = [], start
            for nested_start, nested_end in nested:
                own.append(storage[position:nested_start])
                position = nested_end
            own.append(storage[position : token.end()])
            keys[index] = (ids.get(index), _NOT_OWN.sub("", _TASK_ID.sub("", "".join(own))))
            if stack:
                stack[-1][2].append((start, token.end()))
        elif not text.endswith("/>"):
            stack.append((len(keys), token.start(), []))
            keys.append((None, ""))
    return keys, owners


def _kept_tasks(keys: list[tuple[int | None, str]], stored_tasks: Counter[tuple[int | None, str]]) -> dict[int, int]:
    """Which tasks (by index) are stored ones keeping their id, wherever they are in the page: each stored task
    claimed once (tasks the page stores with one id keep it, as stored; a copy of one gets a new id)."""
    kept: dict[int, int] = {}
    left = Counter(stored_tasks)
    for index, key in enumerate(keys):
        if key[0] is not None and left[key] > 0:
            left[key] -= 1
            kept[index] = key[0]
    return kept
