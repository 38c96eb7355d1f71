"""Which stored row and column each row and column of an edited table continues, so `table_merge` keeps the stored
bytes of every cell whose text did not change, also when rows and columns were added or removed in the same edit.

Rows are aligned by their cells' text: rows saying the same pair first (a diff), then in each changed stretch the
rows sharing the most cell texts (wherever their columns went), then what is left in a stretch in order when both
sides have as many (rows edited in place), else by how alike their text reads. Columns follow from the paired rows:
a new column continues the stored one whose cells say the same in the most paired rows (the header row among
them), wherever it moved; columns left over pair up in order when there are as many on both sides (a header
renamed). A row moved elsewhere (and maybe edited) pairs with the stored row left over sharing most with it.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from difflib import SequenceMatcher
from itertools import pairwise
from xml.etree.ElementTree import Element

from .visible import visible_text

__all__ = ["align_columns", "align_rows", "pair_most_shared", "row_texts"]

# Below this a changed row is taken for another row, not the stored one edited (difflib's ratio of their texts).
_ALIKE = 0.5
# An empty cell saying the same counts for less than text (many are empty), but still pairs rows of empty cells.
_EMPTY_VOTE = 0.25
# Stretches of changed rows larger than this (stored × new rows) are not weighed pair by pair (that is quadratic):
# they pair by texts only one row holds (`_anchors`); a merge is only about which stored bytes stay.
_MOST_PAIRS = 250_000
_MOST_ALIKE = 2_500  # the same for comparing texts, which costs more

Score = Callable[[int, int], float]


def row_texts(row: Element) -> tuple[str, ...]:
    return tuple(visible_text(cell) for cell in row)


def align_rows(old: Sequence[tuple[str, ...]], new: Sequence[tuple[str, ...]]) -> list[int | None]:
    """Per new row (as its cells' texts) the stored row it continues, or None for a new row."""
    match: list[int | None] = [None] * len(new)
    joined = ["\x1f".join(row) for row in old], ["\x1f".join(row) for row in new]

    def alike(i: int, j: int) -> float:
        matcher = SequenceMatcher(None, joined[0][i], joined[1][j], autojunk=False)
        return matcher.ratio() if matcher.real_quick_ratio() >= _ALIKE and matcher.quick_ratio() >= _ALIKE else 0.0

    for op, i1, i2, j1, j2 in SequenceMatcher(None, list(old), list(new), autojunk=False).get_opcodes():
        if op == "equal":
            match[j1:j2] = range(i1, i2)
            continue
        for i, j in _stretch_pairs(old, new, range(i1, i2), range(j1, j2), alike):
            match[j] = i
    _pair_moved(old, new, match)
    return match


def _stretch_pairs(old: Sequence[tuple[str, ...]], new: Sequence[tuple[str, ...]], olds: range, news: range,
                   alike: Score) -> list[tuple[int, int]]:
    """The pairs of a changed stretch: rows sharing the most cell texts, in order; too many rows to weigh every pair:
    rows sharing a text no other row of the stretch holds, in order, and the stretches between them the same way."""
    big = len(olds) * len(news) > _MOST_PAIRS
    pairs = _anchors(old, new, olds, news) if big else \
        _best_pairs(olds, news, _shared_texts(old, new, olds, news), _EMPTY_VOTE, _MOST_PAIRS)
    for gap_olds, gap_news in _gaps(pairs, (olds.start, olds.stop), (news.start, news.stop)):
        if len(gap_olds) == len(gap_news):
            pairs += _in_order(gap_olds, gap_news)
        elif big and pairs:  # smaller now: each stretch between anchors on its own
            pairs += _stretch_pairs(old, new, gap_olds, gap_news, alike)
        else:
            pairs += _best_pairs(gap_olds, gap_news, alike, _ALIKE, _MOST_ALIKE)
    return pairs


def _anchors(old: Sequence[tuple[str, ...]], new: Sequence[tuple[str, ...]], olds: range, news: range) \
        -> list[tuple[int, int]]:
    """Rows holding a text that no other row holds on either side, the longest run of them in order on both
    (as patience diff anchors lines)."""
    def unique(rows: Sequence[tuple[str, ...]], indices: range) -> dict[str, int]:
        counts = Counter(text for index in indices for text in set(rows[index]) if text)
        return {text: index for index in indices for text in rows[index] if text and counts[text] == 1}

    stored, written = unique(old, olds), unique(new, news)
    # By new row, a row's several anchors highest stored row first, so that a run takes at most one of them.
    candidates = sorted({(written[text], stored[text]) for text in stored.keys() & written.keys()},
                        key=lambda pair: (pair[0], -pair[1]))
    tails: list[int] = []  # per run length, the candidate ending the run with the lowest stored row
    tail_rows: list[int] = []  # and that stored row
    before: list[int | None] = []
    for index, (_, i) in enumerate(candidates):
        length = bisect_left(tail_rows, i)
        before.append(tails[length - 1] if length else None)
        tails[length : length + 1], tail_rows[length : length + 1] = [index], [i]
    run: list[tuple[int, int]] = []
    at = tails[-1] if tails else None
    while at is not None:
        run.append((candidates[at][1], candidates[at][0]))
        at = before[at]
    return run[::-1]


def _shared_texts(old: Sequence[tuple[str, ...]], new: Sequence[tuple[str, ...]], olds: Sequence[int],
                  news: Sequence[int]) -> dict[tuple[int, int], float]:
    """How many cell texts a stored and a new row share (empty ones for less), wherever their columns are; pairs
    sharing none left out (found through the texts, not by comparing every pair of rows)."""
    rows_with: dict[str, list[tuple[int, int]]] = {}
    for i in olds:
        for text, count in Counter(old[i]).items():
            rows_with.setdefault(text, []).append((i, count))
    shared: dict[tuple[int, int], float] = {}
    for j in news:
        for text, count in Counter(new[j]).items():
            for i, stored_count in rows_with.get(text, []):
                vote = min(count, stored_count) * (1.0 if text else _EMPTY_VOTE)
                shared[i, j] = shared.get((i, j), 0.0) + vote
    return shared


def _pair_moved(old: Sequence[tuple[str, ...]], new: Sequence[tuple[str, ...]], match: list[int | None]) -> None:
    """A row moved elsewhere in the table (its columns too, or edited) pairs with the stored row left over that
    shares the most cell texts with it."""
    paired = set(match)
    olds = [i for i in range(len(old)) if i not in paired]
    news = [j for j, i in enumerate(match) if i is None]
    if not olds or not news or len(olds) * len(news) > _MOST_PAIRS:
        return
    pair_most_shared(_shared_texts(old, new, olds, news), match, set())


def pair_most_shared(shared: Mapping[tuple[int, int], float], match: list[int | None], taken: set[int]) -> None:
    """Pair (stored i, new j) by how much they share, most first, then the nearest; each side paired once."""
    for (i, j), _ in sorted(shared.items(), key=lambda item: (-item[1], abs(item[0][0] - item[0][1]))):
        if i not in taken and match[j] is None:
            match[j] = i
            taken.add(i)


def align_columns(old: Sequence[tuple[str, ...]], new: Sequence[tuple[str, ...]], rows: Sequence[int | None]) \
        -> list[int | None] | None:
    """Per new column the stored column it continues (None: a new column), from the paired rows `rows` (per new row
    its stored row, as `align_rows` gives); None when the rows of either side are not all as wide. Columns are few
    and may move: each pairs with the one whose cells agree most, nearest first on a tie."""
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
    columns: list[int | None] = [None] * new_width
    taken: set[int] = set()
    for c, d in sorted(((c, d) for c in range(old_width) for d in range(new_width) if votes[c][d] >= _EMPTY_VOTE),
                       key=lambda pair: (-votes[pair[0]][pair[1]], abs(pair[0] - pair[1]), pair[0])):
        if c not in taken and columns[d] is None:
            columns[d] = c
            taken.add(c)
    left = [c for c in range(old_width) if c not in taken], [d for d in range(new_width) if columns[d] is None]
    if len(left[0]) == len(left[1]):  # as many left on both sides (a header renamed, a column rewritten): in order
        for c, d in zip(*left, strict=True):
            columns[d] = c
    return columns


def _best_pairs(olds: range, news: range, score: Score | dict[tuple[int, int], float], least: float, most: int) \
        -> list[tuple[int, int]]:
    """Pairs in order on both sides, each scoring at least `least` (`score` a function, or a table where a pair
    missing scores 0), with the highest total score; none when there are more than `most` pairs to weigh."""
    n, m = len(olds), len(news)
    if n * m > most:
        return []
    if isinstance(score, dict):
        scores = [[score.get((olds[a], news[b]), 0.0) for b in range(m)] for a in range(n)]
    else:
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
