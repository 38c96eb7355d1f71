"""An edited task list merged with the stored one: every task whose own text is unchanged keeps its stored task (its
`ac:task-id`, the Cloud `ac:task-uuid`, the editor's wrappers, as stored bytes), its status taken from the edit,
wherever it moved: into another place in its list, or into or out of a nested list (a task list in a task's body,
markdown's indented `- [ ]`). Tasks are matched by their own text (nested lists left out), each new task taking the
first stored task with that text not taken yet, in page order; the others are new, their ids made unique in the
page afterwards (`task_ids.unique_task_ids`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from .element_parts import ElementParts, element_parts, same_tag
from .task_ids import with_status
from .visible import block_key
from .xhtml import parse_top_level

__all__ = ["merge_task_list"]


@dataclass
class _Task:
    """A task's storage as `prefix` + its nested task lists + `suffix`, and its own text as a key."""

    key: str
    prefix: str
    lists: list[str]
    suffix: str


def merge_task_list(old: str, new: str, keep: Callable[[str, str], str]) -> str:
    """`new` (an edited task list) with the stored task kept for each task whose own text is unchanged."""
    old_parts, new_parts = element_parts(old), element_parts(new)
    if old_parts is None or new_parts is None or not _only_tasks(old_parts) or not _only_tasks(new_parts):
        return new
    pool: dict[str, list[_Task]] = {}
    _collect(old_parts, pool)
    return _merge_list(old_parts, new_parts, pool)


def _only_tasks(parts: ElementParts) -> bool:
    return all(task.tag == "ac:task" for task in parts.elements)


def _collect(parts: ElementParts, pool: dict[str, list[_Task]]) -> None:
    """The stored tasks by own text, in page order (a parent before its nested tasks)."""
    for storage in parts.children:
        task = _split(storage)
        pool.setdefault(task.key, []).append(task)
        for nested in task.lists:
            nested_parts = element_parts(nested)
            if nested_parts is not None and _only_tasks(nested_parts):
                _collect(nested_parts, pool)


def _merge_list(old: ElementParts | None, new: ElementParts, pool: dict[str, list[_Task]]) -> str:
    """The new list's tasks, each the stored one it matches (or itself), inside the stored list's start tag (its
    Cloud list id) and gaps when they say the same."""
    tasks = [_merge_task(storage, pool) for storage in new.children]
    if old is None:
        return new.join(tasks)
    return old.join(tasks, None if same_tag(old, new) else new.open)


def _merge_task(storage: str, pool: dict[str, list[_Task]]) -> str:
    new = _split(storage)
    candidates = pool.get(new.key)
    stored = candidates.pop(0) if candidates else None
    # A moved or ticked task is its stored self with the edit's status; its nested lists are merged in turn, their
    # start tags and gaps from the stored task's lists at the same place.
    base = new if stored is None else _Task(new.key, with_status(stored.prefix, new.prefix), stored.lists,
                                            stored.suffix)
    lists = []
    for index, nested in enumerate(new.lists):
        new_parts = element_parts(nested)
        if new_parts is None or not _only_tasks(new_parts):
            lists.append(nested)
            continue
        old_parts = element_parts(base.lists[index]) if index < len(base.lists) and base is not new else None
        lists.append(_merge_list(old_parts if old_parts and _only_tasks(old_parts) else None, new_parts, pool))
    return base.prefix + "".join(lists) + base.suffix


def _split(storage: str) -> _Task:
    """The task cut around the task lists that end its body. A task whose body has anything but whitespace after a
    nested list is one piece, its key its whole text (markdown writes no such task)."""
    parts = element_parts(storage)
    body = next((index for index, child in enumerate(parts.elements) if child.tag == "ac:task-body"), None) \
        if parts is not None else None
    if parts is None or body is None:
        return _Task(storage, storage, [], "")
    body_at = len(parts.open) + sum(len(gap) + len(child) for gap, child in
                                    zip(parts.gaps[: body + 1], parts.children[:body], strict=False))
    body_parts = element_parts(parts.children[body], children=False)
    assert body_parts is not None  # an element with children is not self-closed
    inner_at = body_at + len(body_parts.open)
    root, nodes, inner = parse_top_level(body_parts.gaps[0])
    first = next((index for index, node in enumerate(nodes) if node.element.tag == "ac:task-list"), len(nodes))
    trailing = nodes[first:]
    if any(node.element.tag != "ac:task-list" or (node.element.tail or "").strip() for node in trailing):
        return _Task(block_key(parts.elements[body]), storage[:inner_at + len(body_parts.gaps[0])], [],
                     storage[inner_at + len(body_parts.gaps[0]) :])
    own = Element("ac:task-body")  # the body without its nested lists: the task's own text
    own.text = root.text
    own.extend(node.element for node in nodes[:first])
    start = len(inner[: trailing[0].start].decode("utf-8")) if trailing else len(body_parts.gaps[0])
    end = len(inner[: trailing[-1].end].decode("utf-8")) if trailing else start
    lists = [inner[node.start : node.end].decode("utf-8") for node in trailing]
    return _Task(block_key(own), storage[: inner_at + start], lists, storage[inner_at + end :])

