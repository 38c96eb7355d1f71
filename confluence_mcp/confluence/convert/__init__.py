"""Confluence storage ⇄ markdown conversion.

API: `markdown_to_storage`, `storage_to_markdown`, `storage_to_view` (body.view-like HTML), `storage_to_text`
(search text), `validate_storage` (raises `StorageParseError`, "Error parsing xhtml: <reason> at [row,col]: [r,c]"),
`replace_section` (raises `SectionNotFound`), `section_storage` (one heading's section, to read it alone), and
`LinkContext` (callbacks resolving page URLs, users, files).

Markdown we read and write (what an LLM sees in `read_page_by_id` and may send back):

- Headings, paragraphs, `**strong**`, `*em*`, `~~strike~~` (strike span), `` `code` ``, lists, GFM tables,
  blockquotes, `---`, hard breaks, external links `[text](https://...)`. A Cloud smart link
  (`<a href data-card-appearance="inline|block|embed">`) reads as a plain link (`<https://...>`, one alone in its
  paragraph on a line of its own); its card is kept while the link's target and text are.
- Tables (`tables`, `table_cells`): a first row of `th` is the GFM header row; a table without one has an empty
  header row (`|  |  |`), and a header row of empty `th` reads `| &nbsp; | &nbsp; |`. In cells, as on GitHub:
  `<br>` a line break, `<br><br>` between paragraphs, lists as `<ul><li>a</li></ul>` / `<ol start="2">`; other
  tags, and an escaped `<br>`, are text. A block in a cell (code macro, panel) is a storage placeholder of its
  own, and a cell that does not round-trip is one `[cell: text](confluence-storage:...)`. A header column (`th`
  in every body row, a key/value table's keys) reads as plain cells; written back, an edited cell keeps its stored
  kind and a new row takes each column's kind from the stored body rows (`header_cells`). Tables with other `th`
  cells, merged, coloured or aligned cells, or a non-default layout stay storage fences.
- Fenced code ```` ```lang ```` ⇄ `code` macro with `language` (CDATA body, `]]>` split safely); the macro's other
  parameters follow as `name=value` / `name="a b"` words (title, linenumbers, firstline, theme, collapse,
  breakoutMode, breakoutWidth), e.g. ```` ```python title="a.py" linenumbers=true ````.
- Admonitions ⇄ macros, a bijection: `> [!NOTE]` info, `> [!TIP]` tip, `> [!IMPORTANT]` note,
  `> [!WARNING]` warning (`[!CAUTION]` and `[!INFO]` are accepted aliases when writing). Text after the marker is
  the macro `title`. `> [!EXPAND] Title` ⇄ `expand` macro.
- Page Properties (`details`, `details.py`) ⇄ `> [!DETAILS] id=x hidden=true`: its parameters ride on the marker
  line as `name=value` words (`id='a b'` quoted), as a layout's section line carries its width; the body (usually a
  key/value table) is ordinary markdown inside the quote. A `details` macro with another parameter stays a
  placeholder; other words on the marker line raise `LayoutSyntaxError` (`DetailsSyntaxError`). An edited macro of
  these blockquote forms keeps its stored tag and parameters while they say the same, and its body is merged as a
  page is (`details.merge_macro`), so an edited property changes that cell alone.
- `- [ ] todo` / `- [x] done` ⇄ `ac:task-list`. Task ids, the Cloud editor's task uuids, list ids and
  `placeholder-inline-tasks` span are bookkeeping, kept as stored while a list is unchanged, and in an edited list
  for every task whose text is unchanged, wherever it moved (matched by text in order, a tick taken from the edit);
  new tasks are numbered in page order, and a write renumbers an id the page already uses, stored tasks keeping
  theirs (`unique_task_ids`). A task list right after a task in its list (the editors' shape, which markdown's
  nested tasks are written in) or ending a task's body is an indented `- [ ]` list under the task; an edit keeps the
  stored shape.
- Pages: `[label](confluence-page:SPACE/Title)` or `[label](confluence-page:Title)` (current space; title and key
  percent-encoded), or the page's web URL when `LinkContext.page_url`/`page_from_url` map it both ways.
  `[label](#anchor)` ⇄ `ac:link ac:anchor`. Attachments `[label](confluence-attachment:file.pdf)`.
  Mentions `[@Display Name](confluence-user:<account id>)` (`confluence-userkey:` / `confluence-username:` on
  Server/DC); the display name is for reading, the id is what is written.
- Images `![alt](file.png)` ⇄ `ac:image` + `ri:attachment`; `![alt](https://...)` ⇄ `ri:url`.
- Page layouts ⇄ marker lines at the top level around each cell's markdown (`layouts.py`): `:::layout <type>` opens
  a layout and its first section, `:::section <type>` starts the next section, `:::cell` the next cell of the
  section, a bare `:::` closes the layout. Types: single, fixed-width, two_equal, two_left_sidebar,
  two_right_sidebar, three_equal, three_with_sidebars, three_left_sidebars, three_right_sidebars, four_equal,
  five_equal; the cell count must fit the type. A Cloud section's width rides after the type:
  `:::section two_equal breakout-mode=wide breakout-width=1800`. Malformed markers raise `LayoutSyntaxError`
  naming the line; text that starts with `:::` reads as `\\:::`. Written back, an edited layout keeps the stored
  bytes of its unchanged blocks, cells and section tags.

Elements markdown cannot express are carried verbatim, named so a reader knows what they are:

- Blocks: a fence whose info string is `confluence-storage` followed by what it holds, e.g.
  ```` ```confluence-storage macro=toc ````, containing the original storage XML.
- Inline: `[label](confluence-storage:<base64url of the storage>)`, label like `status: Done`, `emoticon: tick`,
  `date: 2024-01-01`, `jira: PROJ-1`. The label is descriptive only; delete the whole link to drop the element.

Round trip: every block (and every natural inline element) is converted back while reading and compared on canonical
XML (`canonical.canonicalize`: whitespace and `&nbsp;` collapsed, attribute and macro parameter order ignored, and
editor bookkeeping dropped: `ac:macro-id`, `local-id`, a mention's `ri:local-id`, `ri:version-at-save`, a smart
link's card attributes, empty `<p/>`
and `<p><br/></p>` (Server's `class="auto-cursor-target"` ones too), an empty `class=""`, table `<colgroup>`, default
table and cell attributes, `data-layout="default"` on macros, task ids and uuids, a list item's `<p>` alone or before
lists, a cell's wrappers: that `<p>`, Server's `content-wrapper` `<div>`, a lone `<br/>`);
anything that would not come back equal is emitted as a placeholder instead. Writing markdown back
(`update_page_by_id`) keeps the stored bytes of every top-level block whose rendering is canonically equal to the
stored one and shows the same text (`keep_unchanged_blocks`; reading accepts markdown only under the same test), so
unchanged markdown is a no-op and the dropped details survive, and so do the bytes before the first block and after
the last (a trailing newline) while that block is unchanged. An edited block is written as its markdown renders,
except that an edited layout or table keeps its unchanged cells (and rows) as stored, the table its ids and column
widths while the columns are as many, and an edited cell the empty lines (`<p><br/></p>`) beside its paragraphs; an
edited paragraph, heading, quote, list or code macro keeps its stored start tag, the Cloud editor's ids, while it
says the same (`block_merge`). An edited list is merged item by item (`list_merge`): items are aligned by text, as a
table's rows are, so an unchanged item keeps its bytes wherever items were added, removed or moved, an edited item
its start tags, nested lists the same way; a new item takes the list's `<p>` wrapper and whitespace. In an edited
paragraph, heading, list item or cell every inline element (link, mention, image, emoticon, date, inline macro) that
says the same as a stored one keeps its stored bytes, paired by kind, target and text unless either side has more of
that element (`inline_merge`).
Reading also accepts markdown that renders differently but that such a merge turns back into the stored bytes
(a header column's `th`, which markdown does not show), and a write takes such a block as unchanged.

Raw HTML (`raw_html`): outside tables `<br>`, `<b>`/`<strong>`, `<i>`/`<em>`, `<u>`, `<s>`/`<del>`, `<sub>`,
`<sup>`, `<code>`, `<kbd>` (as code) and a bare `<span>` become storage, and `<details>` / `<summary>Title</summary>`
/ `</details>` lines around markdown the `expand` macro; `<u>`, `<sub>`, `<sup>` read back as those tags. Prose
that parses as a tag (`List<String>`, `<name>`) stays text. Other HTML (`<div>`, `<img>`, `<script>`, comments) stays
text, or with `strict_html=True` (the write tools) raises `RawHtmlError` naming the tag and what to write instead.

Safety: markdown blocks are parsed with raw HTML disabled and only the tags above become markup (table cells read
only their `<br>`, `<p>` and list tags); link schemes other than web, mail, relative and our own stay text.
Placeholders are accepted only when they decode to well-formed storage without scripts or event-handler attributes;
otherwise they are kept as visible text (inline) or a code block.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .from_markdown import markdown_to_storage
    from .layouts import LayoutSyntaxError
    from .links import LinkContext
    from .merge import keep_unchanged_blocks
    from .outline import storage_to_outline_markdown
    from .raw_html import RawHtmlError
    from .sections import AmbiguousSection, SectionNotFound, replace_section, section_storage
    from .task_ids import unique_task_ids
    from .text import storage_to_text
    from .to_markdown import storage_to_markdown
    from .view import storage_to_view
    from .xhtml import StorageParseError, validate_storage

# Submodules load on first use (PEP 562): the markdownify/BeautifulSoup stack costs ~0.1 s of a server's start,
# and listing tools needs none of it.
_HOMES = {
    "markdown_to_storage": "from_markdown",
    "LayoutSyntaxError": "layouts",
    "LinkContext": "links",
    "keep_unchanged_blocks": "merge",
    "unique_task_ids": "task_ids",
    "storage_to_outline_markdown": "outline",
    "RawHtmlError": "raw_html",
    "AmbiguousSection": "sections",
    "SectionNotFound": "sections",
    "replace_section": "sections",
    "section_storage": "sections",
    "storage_to_text": "text",
    "storage_to_markdown": "to_markdown",
    "storage_to_view": "view",
    "StorageParseError": "xhtml",
    "validate_storage": "xhtml",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


__all__ = [
    "AmbiguousSection",
    "LayoutSyntaxError",
    "LinkContext",
    "RawHtmlError",
    "SectionNotFound",
    "StorageParseError",
    "keep_unchanged_blocks",
    "markdown_to_storage",
    "replace_section",
    "section_storage",
    "storage_to_markdown",
    "storage_to_outline_markdown",
    "storage_to_text",
    "storage_to_view",
    "unique_task_ids",
    "validate_storage",
]
