"""Which cells of a table are header cells (`th`): a header row on top, and header columns down the body.

GFM shows the header row only. A header column (the keys of a key/value table) has no markdown form, so reading
shows its cells as plain cells and a write takes each column's kind from the stored table: the body rows' kind in
that column for a new row, the stored cell's for an edited one (`table_merge`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["body_rows", "cell_tags", "column_kinds", "has_header_row", "with_kind"]


def cell_tags(rows: Iterable[Iterable[Any]]) -> list[list[str]]:
    """The tag of each cell (`th`, `td`) of parsed rows, row by row: what the functions below take."""
    return [[str(cell.tag) for cell in row] for row in rows]


def has_header_row(tags: Sequence[Sequence[str]]) -> bool:
    """The first row is all `th`: the GFM header row."""
    return bool(tags) and bool(tags[0]) and all(tag == "th" for tag in tags[0])


def body_rows(tags: Sequence[Sequence[str]]) -> Sequence[Sequence[str]]:
    return tags[1:] if has_header_row(tags) else tags


def column_kinds(tags: Sequence[Sequence[str]]) -> list[str | None]:
    """Per column the cell kind all body rows have there, None where they differ; `td` when there is no body."""
    body = body_rows(tags)
    width = len(tags[0]) if tags else 0
    if any(len(row) != width for row in body):
        return [None] * width
    kinds = [{row[column] for row in body} for column in range(width)]
    return [kind.pop() if len(kind) == 1 else None if kind else "td" for kind in kinds]


def with_kind(cell: str, kind: str) -> str:
    """A bare `<td>...</td>` or `<th>...</th>` (as markdown writes cells) as the other kind; other cells unchanged."""
    for tag in ("td", "th"):
        if cell.startswith(f"<{tag}>") and cell.endswith(f"</{tag}>"):
            return f"<{kind}>{cell[4:-5]}</{kind}>"
    return cell
