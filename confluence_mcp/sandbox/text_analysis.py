"""Text analysis shared by indexing, querying and excerpts: tokenise, drop stopwords, stem.

Tokens are runs of letters/digits (punctuation and `_` split words), lower-cased. Stopwords and single letters keep
their position (so phrases still line up) but are not indexed. The stemmer is deliberately light and, above all,
consistent: the same rules run on documents and queries, so "leave", "leaves" and "leaving" meet at "leav", and
"policies"/"policy" at "policy".
"""

from __future__ import annotations

import re

__all__ = ["STOPWORDS", "TOKEN", "analyze", "stem", "term_of", "terms_of"]

TOKEN = re.compile(r"[^\W_]+")

_STOPWORD_TEXT = """
    a an and are as at be but by for if in into is it no not of on or such that the their then there these
    they this to was will with i me my we our you your he she him her his its them what which who whom do does
    did am been being have has had having from up down out off over under again further than too very can
    just should now were so s t
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())

_VOWELS = frozenset("aeiouy")
_KEEP_S_ENDINGS = ("ss", "us", "is")


def _has_vowel(text: str) -> bool:
    return any(char in _VOWELS for char in text)


def _strip_plural(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("sses"):
        return word[:-2]
    if word.endswith("s") and not word.endswith(_KEEP_S_ENDINGS):
        return word[:-1]
    return word


def _strip_derivation(word: str) -> str:
    for suffix, min_stem in (("ation", 4), ("ing", 3), ("ed", 3), ("ly", 4)):
        if word.endswith(suffix):
            root = word[: -len(suffix)]
            if len(root) >= min_stem and _has_vowel(root):
                return root
    return word


def stem(word: str) -> str:
    """A light English stemmer: plurals, -ation, -ing, -ed, -ly, a final -e, then a doubled final consonant
    (so install/installation and configure/configuration meet)."""
    if len(word) < 3 or not word.isalpha():
        return word
    root = _strip_derivation(_strip_plural(word))
    if root.endswith("e") and len(root) > 2:
        root = root[:-1]
    if len(root) > 2 and root[-1] == root[-2] and root[-1] not in _VOWELS:
        root = root[:-1]
    return root


class _TermCache(dict[str, str]):
    """token → term, computed on first sight; `cache[token]` and `map(cache.__getitem__, ...)` stay at C speed."""

    def __missing__(self, token: str) -> str:
        term = "" if token in STOPWORDS or (len(token) == 1 and token.isalpha()) else stem(token)
        if len(self) < 500_000:  # bounded: a pathological corpus must not grow it forever
            self[token] = term
        return term


_TERMS = _TermCache()


def term_of(token: str) -> str:
    """The index term for one lower-cased token, or "" for a stopword/single letter."""
    return _TERMS[token]


def terms_of(tokens: list[str]) -> list[str]:
    """`term_of` for many tokens at once (the indexer's hot path)."""
    return list(map(_TERMS.__getitem__, tokens))


def analyze(text: str) -> list[str]:
    """The index terms of `text` by position ("" where a stopword sits)."""
    return terms_of(TOKEN.findall(text.lower()))

