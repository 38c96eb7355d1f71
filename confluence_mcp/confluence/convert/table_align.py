"""Which stored row and column each row and column of an edited table continues, so `table_merge` keeps the stored
bytes of every cell whose text did not change, also when rows and columns were added or removed in the same edit.

Rows are aligned by their cells' text: rows saying the same pair first (a diff), then in each changed stretch the
rows sharing the most cell texts (wherever their columns went), then what is left in a stretch in order when both
sides have as many (rows edited in place), else by how alike their text reads. Columns follow from the paired rows:
a new column continues the stored one whose cells say the same in the most paired rows (the header row among
them), in order; columns left over pair up in order when there are as many on both sides (a header renamed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from difflib import SequenceMatcher
from itertools import pairwise
from xml.etree.ElementTree import Element

from .visible import visible_text

__all__ = ["align_columns", "align_rows", "row_texts"]

# Below this a changed row is taken for another row, not the stored one edited (difflib's ratio of their texts).
_ALIKE = 0.5
# An empty cell saying the same counts for less than text: many are empty.
_EMPTY_VOTE = 0.25

Score = Callable[[int, int], float]


def row_texts(row: Element) -> tuple[str, ...]:
    return tuple(visible_text(cell) for cell in row)


def align_rows(old: Sequence[tuple[str, ...]], new: Sequence[tuple[str, ...]]) -> list[int | None]:
    """Per new row (as its cells' texts) the stored row it continues, or None for a new row."""
    match: list[int | None] = [None] * len(new)
    counts = [Counter(text for text in row if text) for row in old], [Counter(text for text in row if text)
                                                                       for row in new]
    joined = ["\x1f".join(row) for row in old], ["\x1f".join(row) for row in new]

    def shared(i: int, j: int) -> float:
        return float(sum((counts[0][i] & counts[1][j]).values()))

    def alike(i: int, j: int) -> float:
        return SequenceMatcher(None, joined[0][i], joined[1][j], autojunk=False).ratio()

    for op, i1, i2, j1, j2 in SequenceMatcher(None, list(old), list(new), autojunk=False).get_opcodes():
        if op == "equal":
            match[j1:j2] = range(i1, i2)
            continue
        pairs = _best_pairs(range(i1, i2), range(j1, j2), shared, 1.0)
        for olds, news in _gaps(pairs, (i1, i2), (j1, j2)):
            pairs += _in_order(olds, news) if len(olds) == len(news) else _best_pairs(olds, news, alike, _ALIKE)
        for i, j in pairs:
            match[j] = i
    return match


def align_columns(old: Sequence[tuple[str, ...]], new: Sequence[tuple[str, ...]], rows: Sequence[int | None]) \
        -> list[int | None] | None:
    """Per new column the stored column it continues (None: a new column), from the paired rows `rows` (per new row
    its stored row, as `align_rows` gives); None when the rows of either side are not all as wide."""
    if not old or not new or len({len(row) for row in old}) != 1 or len({len(row) for row in new}) != 1:
        return None
    old_width, new_width = len(old[0]), len(new[0])
    votes = [[0.0] * new_width for _ in range(old_width)]
    for j, i in enumerate(rows):
        if i is None:
            continue
        for c, old_text in enumerate(old[i]):
            for d, new_text in enumerate(new[j]):
                if old_text == new_text:
                    votes[c][d] += 1.0 if old_text else _EMPTY_VOTE
    pairs = _best_pairs(range(old_width), range(new_width), lambda c, d: votes[c][d], 1.0)
    for olds, news in _gaps(pairs, (0, old_width), (0, new_width)):
        if len(olds) == len(news):
            pairs += _in_order(olds, news)
    columns: list[int | None] = [None] * new_width
    for c, d in pairs:
        columns[d] = c
    return columns


def _best_pairs(olds: range, news: range, score: Score, least: float) -> list[tuple[int, int]]:
    """Pairs in order on both sides, each scoring at least `least`, with the highest total score."""
    n, m = len(olds), len(news)
    scores = [[score(olds[a], news[b]) for b in range(m)] for a in range(n)]
    best = [[0.0] * (m + 1) for _ in range(n + 1)]
    for a in range(n - 1, -1, -1):
        for b in range(m - 1, -1, -1):
            paired = scores[a][b] + best[a + 1][b + 1] if scores[a][b] >= least else 0.0
            best[a][b] = max(best[a + 1][b], best[a][b + 1], paired)
    pairs, a, b = [], 0, 0
    while a < n and b < m:
        if scores[a][b] >= least and best[a][b] == scores[a][b] + best[a + 1][b + 1]:
            pairs.append((olds[a], news[b]))
            a, b = a + 1, b + 1
        elif best[a][b] == best[a + 1][b]:
            a += 1
        else:
            b += 1
    return pairs


def _gaps(pairs: list[tuple[int, int]], olds: tuple[int, int], news: tuple[int, int]) -> list[tuple[range, range]]:
    """The stretches of either side between consecutive pairs (and before the first, after the last)."""
    bounds = [(olds[0] - 1, news[0] - 1), *sorted(pairs), (olds[1], news[1])]
    return [(range(i + 1, next_i), range(j + 1, next_j))
            for (i, j), (next_i, next_j) in pairwise(bounds)
            if next_i > i + 1 or next_j > j + 1]


def _in_order(olds: range, news: range) -> list[tuple[int, int]]:
    return list(zip(olds, news, strict=True))
