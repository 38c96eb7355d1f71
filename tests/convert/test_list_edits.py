"""Adding, removing or moving list items keeps every other item's stored bytes (Cloud's `<p>` and `local-id`s,
Server's whitespace, a mention's `ri:local-id`, a link's `ri:version-at-save`), also in nested lists; an edited item
keeps its stored start tags, and a new item is written in the list's style."""

from __future__ import annotations

import random

import pytest

from confluence_mcp.confluence.convert import keep_unchanged_blocks, markdown_to_storage, storage_to_markdown
from confluence_mcp.confluence.convert.canonical import canonicalize
from confluence_mcp.confluence.convert.element_parts import element_parts

MENTION = '<ac:link><ri:user ri:account-id="557058:abc" ri:local-id="m-1" /></ac:link>'
PAGE_LINK = '<ac:link><ri:page ri:content-title="Plan" ri:version-at-save="6" /><ac:link-body>the plan</ac:link-body>' \
    '</ac:link>'
CLOUD_ITEMS = [
    f'<li local-id="li-a"><p local-id="p-a">Alpha with {MENTION}</p></li>',
    '<li local-id="li-b"><p local-id="p-b">Beta</p><ul local-id="ul-n"><li local-id="li-n1"><p local-id="p-n1">nested '
    'one</p></li><li local-id="li-n2"><p local-id="p-n2">nested two</p></li></ul></li>',
    f'<li local-id="li-c"><p local-id="p-c">Gamma via {PAGE_LINK}</p></li>',
    '<li local-id="li-d"><p local-id="p-d">Delta</p></li>',
]
CLOUD = '<ul local-id="ul-top">' + "".join(CLOUD_ITEMS) + "</ul>"
SERVER_ITEMS = [
    "<li>one</li>",
    "<li>two\n<ul>\n<li>two.a</li>\n<li>two.b</li>\n</ul>\n</li>",
    f"<li>three via {PAGE_LINK}</li>",
    "<li>four</li>",
]
SERVER = '<ol start="3">\n' + "\n".join(SERVER_ITEMS) + "\n</ol>"


def write(stored: str, markdown: str) -> str:
    merged = keep_unchanged_blocks(stored, markdown_to_storage(markdown))
    assert canonicalize(merged) == canonicalize(markdown_to_storage(markdown))  # says what the edit says
    return merged


def items(storage: str) -> list[str]:
    parts = element_parts(storage)
    assert parts is not None
    return parts.children


CLOUD_EDITS = {
    "add-start": ("- Alpha", "- New\n\n- Alpha"),
    "add-middle": ("- Gamma", "- New\n\n- Gamma"),
    "add-end": ("- Delta", "- Delta\n\n- New"),
}


@pytest.mark.parametrize("edit", CLOUD_EDITS.values(), ids=CLOUD_EDITS.keys())
def test_a_cloud_item_added_keeps_every_stored_item_and_gets_a_paragraph(edit: tuple[str, str]) -> None:
    markdown = storage_to_markdown(CLOUD)
    assert edit[0] in markdown
    merged = write(CLOUD, markdown.replace(*edit))
    assert merged.startswith('<ul local-id="ul-top">')
    assert [item for item in items(merged) if "New" not in item] == CLOUD_ITEMS
    assert "<li><p>New</p></li>" in merged


def test_a_cloud_item_removed_or_moved_keeps_the_others() -> None:
    markdown = storage_to_markdown(CLOUD)
    removed = markdown.replace("- Gamma via [the plan](confluence-page:Plan)\n\n", "")
    assert removed != markdown
    assert write(CLOUD, removed) == CLOUD.replace(CLOUD_ITEMS[2], "")
    delta = "\n\n- Delta"
    moved = delta[2:] + "\n\n" + markdown.replace(delta, "")
    assert write(CLOUD, moved) == '<ul local-id="ul-top">' + "".join([CLOUD_ITEMS[3], *CLOUD_ITEMS[:3]]) + "</ul>"


def test_a_cloud_item_edited_next_to_an_added_one_keeps_its_tags() -> None:
    markdown = storage_to_markdown(CLOUD)
    merged = write(CLOUD, markdown.replace("- Delta", "- Delta!\n\n- Epsilon"))
    assert items(merged) == [*CLOUD_ITEMS[:3], '<li local-id="li-d"><p local-id="p-d">Delta!</p></li>',
                             "<li><p>Epsilon</p></li>"]
    merged = write(CLOUD, markdown.replace("- Beta", "- Beta!").replace("- Alpha", "- Zero\n\n- Alpha"))
    beta = CLOUD_ITEMS[1].replace(">Beta<", ">Beta!<")
    assert items(merged) == ["<li><p>Zero</p></li>", CLOUD_ITEMS[0], beta, *CLOUD_ITEMS[2:]]


def test_a_cloud_nested_item_added_keeps_the_nested_items() -> None:
    markdown = storage_to_markdown(CLOUD)
    nested = next(line for line in markdown.split("\n") if "nested two" in line)
    merged = write(CLOUD, markdown.replace(nested, nested + "\n\n" + nested.replace("nested two", "nested three")))
    assert items(merged)[1] == CLOUD_ITEMS[1].replace("</ul>", "<li><p>nested three</p></li></ul>")
    assert items(merged)[::2] == CLOUD_ITEMS[::2]


def test_a_tight_item_added_to_a_one_item_cloud_list_gets_a_paragraph() -> None:
    stored = '<ul local-id="u"><li local-id="l"><p local-id="p">Only</p></li></ul>'
    assert storage_to_markdown(stored) == "- Only"
    assert write(stored, "- Only\n- Second") == \
        '<ul local-id="u"><li local-id="l"><p local-id="p">Only</p></li><li><p>Second</p></li></ul>'


def test_a_list_nested_anew_under_a_cloud_item_is_in_the_list_style() -> None:
    markdown = storage_to_markdown(CLOUD)
    nested = next(line for line in markdown.split("\n") if "nested one" in line)
    merged = write(CLOUD, markdown.replace("- Delta", "- Delta\n\n" + nested.replace("nested one", "under delta")))
    assert items(merged)[:3] == CLOUD_ITEMS[:3]
    assert items(merged)[3] == CLOUD_ITEMS[3].replace("</p></li>", "</p><ul><li><p>under delta</p></li></ul></li>")


SERVER_EDITS = {  # an item's text, its new lines (`{marker}` the list's), the item added
    "add-start": ("one", "zero\n{marker} one", "zero"),
    "add-middle": ("four", "new\n{marker} four", "new"),
    "add-end": ("four", "four\n{marker} five", "five"),
}


@pytest.mark.parametrize("edit", SERVER_EDITS.values(), ids=SERVER_EDITS.keys())
def test_a_server_item_added_keeps_every_stored_item_and_the_whitespace(edit: tuple[str, str, str]) -> None:
    markdown = storage_to_markdown(SERVER)
    marker = markdown.split(" ", 1)[0][-1]  # `3.` or `3)`
    line = next(line for line in markdown.split("\n") if line.endswith(" " + edit[0]))
    merged = write(SERVER, markdown.replace(line, line.replace(edit[0], edit[1].format(marker="1" + marker))))
    assert merged.startswith('<ol start="3">\n<li>') and merged.endswith("</li>\n</ol>")
    assert [item for item in items(merged) if item not in SERVER_ITEMS] == [f"<li>{edit[2]}</li>"]
    assert "</li><li>" not in merged  # a new item sits on a line of its own, as Server's are


def test_server_items_removed_moved_or_edited_keep_the_others() -> None:
    markdown = storage_to_markdown(SERVER)
    line = {text: next(line for line in markdown.split("\n") if line.endswith(text)) for text in ("one", "four")}
    assert write(SERVER, markdown.replace("\n" + line["four"], "")) == SERVER.replace("\n" + SERVER_ITEMS[3], "")
    moved = markdown.replace(line["four"], "").rstrip("\n").replace(line["one"], line["one"] + "\n" + line["four"])
    merged = write(SERVER, moved.replace(" four", " four", 1))
    assert items(merged) == [SERVER_ITEMS[0], SERVER_ITEMS[3], *SERVER_ITEMS[1:3]]
    merged = write(SERVER, markdown.replace(line["one"], line["one"] + "!\n" + line["one"].replace("one", "new")))
    assert items(merged) == ["<li>one!</li>", "<li>new</li>", *SERVER_ITEMS[1:]]


def test_a_server_nested_item_added_keeps_the_item_and_its_whitespace() -> None:
    markdown = storage_to_markdown(SERVER)
    nested = next(line for line in markdown.split("\n") if line.endswith("two.b"))
    merged = write(SERVER, markdown.replace(nested, nested + "\n" + nested.replace("two.b", "two.c")))
    assert items(merged) == [SERVER_ITEMS[0], SERVER_ITEMS[1].replace("</li>\n</ul>", "</li>\n<li>two.c</li>\n</ul>"),
                             *SERVER_ITEMS[2:]]
    merged = write(SERVER, markdown.replace(" two\n", " two!\n").replace(nested, nested + "\n" + nested.replace(
        "two.b", "two.c")))
    assert items(merged)[1] == SERVER_ITEMS[1].replace("two\n", "two!\n").replace(
        "</li>\n</ul>", "</li>\n<li>two.c</li>\n</ul>")


WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu"]


def _cloud_item(text: str, nested: list[str], number: int) -> str:
    inner = "".join(f'<li local-id="n{number}-{index}"><p local-id="q{number}-{index}">{word}</p></li>'
                    for index, word in enumerate(nested))
    lists = f'<ul local-id="u{number}">{inner}</ul>' if nested else ""
    return f'<li local-id="l{number}"><p local-id="p{number}">{text}</p>{lists}</li>'


def _server_item(text: str, nested: list[str], number: int) -> str:
    inner = "".join(f"<li>{word}</li>\n" for word in nested)
    return f"<li>{text}" + (f"\n<ul>\n{inner}</ul>\n" if nested else "") + "</li>"


def test_random_list_edits_keep_the_unchanged_items() -> None:
    """Items added, removed, moved, edited, nested items added: every unchanged item keeps its bytes, and so do the
    nested items of an edited item; an edited item with nested items keeps its start tags."""
    rng = random.Random(20260811)
    for _ in range(200):
        cloud = rng.random() < 0.5
        words = rng.sample(WORDS, rng.randint(2, 7))
        nested = {word: [f"{word}.{n}" for n in range(rng.choice([0, 0, 1, 2]))] for word in words}
        render = _cloud_item if cloud else _server_item
        stored_items = [render(word, nested[word], number) for number, word in enumerate(words)]
        stored = ("<ul>" if cloud else "<ul>\n") + ("" if cloud else "\n").join(stored_items) + \
            ("</ul>" if cloud else "\n</ul>")
        new, edited, added = list(words), set(), {word: list(items) for word, items in nested.items()}
        for _ in range(rng.randint(1, 3)):
            roll, unedited = rng.random(), [word for word in new if word in nested and word not in edited]
            if roll < 0.25:
                new.insert(rng.randint(0, len(new)), f"new{rng.randint(0, 99)}")
            elif roll < 0.4 and len(new) > 1:
                new.remove(rng.choice(new))
            elif roll < 0.6:
                new.insert(rng.randint(0, len(new) - 1), new.pop(rng.randrange(len(new))))
            elif roll < 0.8 and unedited:
                word = rng.choice(unedited)
                new[new.index(word)] = word + "!"
                added[word + "!"] = added[word]
                edited.add(word)
            elif unedited:
                word = rng.choice(unedited)
                added[word] = [*added[word], f"{word}.new"]
                edited.add(word)
        plain = "<ul>" + "".join(_server_item(word, added.get(word, []), 0) for word in new) + "</ul>"
        merged = write(stored, storage_to_markdown(plain))
        for number, word in enumerate(words):
            if word in new and word not in edited:
                assert render(word, nested[word], number) in merged, (stored, new)
            if word in edited and (word in new or word + "!" in new):
                for index, item in enumerate(nested[word]):
                    nested_item = f'<li local-id="n{number}-{index}"><p local-id="q{number}-{index}">{item}</p></li>' \
                        if cloud else f"<li>{item}</li>\n"
                    assert nested_item in merged, (stored, new)
                if cloud and nested[word]:
                    assert f'<li local-id="l{number}"><p local-id="p{number}">{word}' in merged, (stored, new)
