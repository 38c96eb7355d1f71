"""An edited task list merged with the stored one: every task whose own text is unchanged keeps its stored task (its
`ac:task-id`, the Cloud `ac:task-uuid`, the editor's wrappers, as stored bytes), its status taken from the edit,
wherever it moved: into another place in its list, or into or out of a nested list (markdown's indented `- [ ]`).
Tasks are matched by their own text (nested lists left out), each new task taking the first stored task with that
text not taken yet, in page order; the others are new, their ids made unique in the page afterwards
(`task_ids.unique_task_ids`).

A nested task list is stored in one of two shapes: beside its parent task, right after it in the parent's list (what
Confluence's editors write, and markdown's new nested tasks), or at the end of the parent task's body. A stored task
keeps the shape its nested lists had; the other tasks take the shape the stored lists use (beside when none nest)."""

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
    """A task's storage as `prefix` + its nested task lists + `suffix` (the lists beside it: `prefix` + `suffix` is
    the task, the lists follow it in its list), and its own text as a key."""

    key: str
    prefix: str
    lists: list[str]
    suffix: str
    beside: bool = False

    def pieces(self, lists: list[str], beside: bool) -> list[str]:
        """The task with `lists` nested, as the children it takes in its list."""
        return [self.prefix + self.suffix, *lists] if beside else [self.prefix + "".join(lists) + self.suffix]


def merge_task_list(old: str, new: str, keep: Callable[[str, str], str]) -> str:
    """`new` (an edited task list) with the stored task kept for each task whose own text is unchanged."""
    old_parts, new_parts = element_parts(old), element_parts(new)
    old_tasks = _tasks(old_parts) if old_parts is not None else None
    new_tasks = _tasks(new_parts) if new_parts is not None else None
    if old_parts is None or new_parts is None or old_tasks is None or new_tasks is None:
        return new
    merger = _Merger()
    merger.collect(old_tasks)
    merger.beside = merger.shapes != {False}  # in bodies only when every stored nested list is
    return merger.merge_list(old_parts, new_parts, new_tasks)


def _tasks(parts: ElementParts) -> list[_Task] | None:
    """The list's tasks, each with the task lists following it (nested beside it); None when the list holds
    anything else, or a nested list with no task before it to nest under."""
    tasks: list[_Task] = []
    for storage, element in zip(parts.children, parts.elements, strict=True):
        if element.tag == "ac:task":
            tasks.append(_split(storage))
        elif element.tag == "ac:task-list" and tasks and (tasks[-1].beside or not tasks[-1].lists):
            tasks[-1].lists.append(storage)
            tasks[-1].beside = True
        else:
            return None
    return tasks


def _nested(storage: str) -> tuple[ElementParts, list[_Task]] | None:
    parts = element_parts(storage)
    tasks = _tasks(parts) if parts is not None else None
    return None if parts is None or tasks is None else (parts, tasks)


class _Merger:
    def __init__(self) -> None:
        self.pool: dict[str, list[_Task]] = {}
        self.shapes: set[bool] = set()  # how the stored nested lists sit: beside their task (True) or in its body
        self.beside = True

    def collect(self, tasks: list[_Task]) -> None:
        """The stored tasks by own text, in page order (a parent before its nested tasks)."""
        for task in tasks:
            self.pool.setdefault(task.key, []).append(task)
            for storage in task.lists:
                self.shapes.add(task.beside)
                nested = _nested(storage)
                if nested is not None:
                    self.collect(nested[1])

    def merge_list(self, old: ElementParts | None, new: ElementParts, tasks: list[_Task]) -> str:
        """The new list's tasks, each the stored one it matches (or itself), inside the stored list's start tag (its
        Cloud list id) and gaps when they say the same."""
        children = [piece for task in tasks for piece in self.merge_task(task)]
        if old is None:
            return new.join(children)
        return old.join(children, None if same_tag(old, new) else new.open)

    def merge_task(self, new: _Task) -> list[str]:
        candidates = self.pool.get(new.key)
        stored = candidates.pop(0) if candidates else None
        # A moved or ticked task is its stored self with the edit's status; its nested lists are merged in turn,
        # their start tags and gaps from the stored task's lists at the same place.
        base = new if stored is None else _Task(new.key, with_status(stored.prefix, new.prefix), stored.lists,
                                                stored.suffix, stored.beside)
        lists = []
        for index, storage in enumerate(new.lists):
            nested = _nested(storage)
            if nested is None:
                lists.append(storage)
                continue
            old = _nested(base.lists[index]) if stored is not None and index < len(base.lists) else None
            lists.append(self.merge_list(old[0] if old else None, *nested))
        return base.pieces(lists, base.beside if stored is not None and stored.lists else self.beside)


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

