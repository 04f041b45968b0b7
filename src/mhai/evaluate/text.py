"""Tokenisation shared by the lexical scorers and the linguistic analysis.

Words are lower-cased runs of letters with an optional apostrophe part (``don't``, ``i'm``).
:func:`words` expands common English contractions (``don't`` -> ``do not``, ``i'm`` ->
``i am``, ``it's`` -> ``it is``) so that function-word categories count each part once.
Content words are words of three or more letters outside :data:`STOPWORDS`, reduced by a
light suffix stripper (:func:`stem`) so that ``panic``/``panicking`` and ``job``/``jobs`` match.
"""

from __future__ import annotations

import re
from functools import lru_cache

WORD_RE = re.compile(r"[a-z]+(?:'[a-z]+)?")
SENTENCE_RE = re.compile(r"[^.!?\n]+[.!?]*")

_IS_AFTER = {"it", "that", "there", "here", "what", "he", "she", "who", "where", "how", "this"}
_NOT_STEMS = {"can't": "can", "won't": "will", "shan't": "shall", "ain't": "is"}
_SUFFIX_WORDS = {"'m": "am", "'re": "are", "'ve": "have", "'ll": "will", "'d": "would"}

_STOPWORDS_TEXT = """
a about above after again against all also am an and any are as at be because been before
being below between both but by can could did do does doing down during each even ever few
for from further get got had has have having he her here hers herself him himself his how i
if in into is it its itself just like me more most much my myself no nor not now of off on
once only or other our ours ourselves out over own really same she should so some still
such than that the their theirs them themselves then there these they this those through to
too under until up very was we were what when where which while who whom why will with
would you your yours yourself yourselves cannot yeah yes okay ok thing things something
anything everything nothing someone anyone everyone one ones lot lots way make makes made
go going gone know feel feeling feels felt think want wants say said people time times day
days
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


def expand(token: str) -> list[str]:
    """Split one lower-case token at its contraction: ``don't`` -> ``["do", "not"]``."""
    if "'" not in token:
        return [token]
    if token in _NOT_STEMS:
        return [_NOT_STEMS[token], "not"]
    if token.endswith("n't"):
        return [token[:-3], "not"]
    stem_, _, suffix = token.partition("'")
    suffix = "'" + suffix
    if suffix in _SUFFIX_WORDS:
        return [stem_, _SUFFIX_WORDS[suffix]]
    if suffix == "'s":
        return [stem_, "is"] if stem_ in _IS_AFTER else [stem_]
    return [stem_]


@lru_cache(maxsize=65536)
def _words(text: str) -> tuple[str, ...]:
    out: list[str] = []
    for token in WORD_RE.findall(text.lower().replace("\u2019", "'")):
        out.extend(expand(token))
    return tuple(out)


def words(text: str | None) -> list[str]:
    """Lower-cased word tokens with contractions expanded (empty for ``None``/blank)."""
    return list(_words(text)) if text else []


def sentences(text: str | None) -> list[str]:
    """Sentences split at ``.``, ``!``, ``?`` and line breaks; blank pieces dropped."""
    if not text:
        return []
    return [s.strip() for s in SENTENCE_RE.findall(text) if re.search(r"[A-Za-z]", s)]


def stem(word: str) -> str:
    """A light suffix stripper (``-ing``, ``-ed``, ``-ly``, ``-es``, ``-s``) for matching."""
    for suffix in ("ing", "ed", "ly", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if len(word) > 3 and word[-1] == word[-2]:
        word = word[:-1]
    return word


def content_words(text: str | None) -> list[str]:
    """Stemmed content words: three or more letters, not a stopword, in text order."""
    return [stem(w) for w in words(text) if len(w) >= 3 and w not in STOPWORDS]
