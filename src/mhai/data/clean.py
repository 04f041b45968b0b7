"""Row filters applied before anything is stored: deleted, bots, empty, length, language, dupes.

The language filter is deliberately cheap (it runs on every row of a dump): the share of a
text's distinct words that are common English function words. English prose sits around
0.3-0.6; Spanish, German, French, Portuguese or Dutch text scores under 0.15 (few shared words
such as "a", "me", "so"), and non-Latin scripts score 0. Texts shorter than ``min_words`` are
not judged.
"""

from __future__ import annotations

from dataclasses import dataclass

DELETED_MARKERS = {"[deleted]": "deleted", "[removed]": "removed", "[deleted by user]": "deleted"}

# Common English function words (closed-class words that carry little topic).
_STOPWORDS = """
    a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing don't down during each few for from
    further had has have having he her here hers herself him himself his how i i'm i've i'd if
    in into is it it's its itself just me more most my myself no nor not now of off on once only
    or other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up very
    was we were what when where which while who whom why will with would you your yours yourself
    yourselves can't won't didn't doesn't isn't wasn't i'll you're it's that's there's what's
    really like even still also ever never much many every anyone someone something nothing
    everything know feel think get got want going been make made
"""
ENGLISH_STOPWORDS = frozenset(_STOPWORDS.split())

# Punctuation is mapped to spaces before splitting into words (much faster than a regex);
# ASCII text (most of it) goes through the bytes translation, the fastest path in CPython.
_PUNCT = "".join(chr(c) for c in range(128) if not chr(c).isalnum() and chr(c) not in "'\n\t ")
_PUNCT_BYTES = bytes.maketrans(_PUNCT.encode(), b" " * len(_PUNCT))
_PUNCT_TABLE = str.maketrans(_PUNCT + "\u2018\u201c\u201d\u2026", " " * (len(_PUNCT) + 4))


@dataclass(frozen=True)
class CleanConfig:
    """Thresholds of the row filters (the ``data.clean`` config section)."""

    bots: frozenset[str]
    bot_suffix: str
    min_post_words: int
    min_reply_words: int
    max_words: int
    min_english_ratio: float
    language_min_words: int

    @classmethod
    def from_config(cls, section: dict) -> CleanConfig:
        return cls(
            bots=frozenset(name.lower() for name in section["bots"]),
            bot_suffix=section["bot_suffix"].lower(),
            min_post_words=section["min_post_words"],
            min_reply_words=section["min_reply_words"],
            max_words=section["max_words"],
            min_english_ratio=section["language"]["min_english_ratio"],
            language_min_words=section["language"]["min_words"],
        )


def deleted_reason(*texts: str) -> str | None:
    """``deleted``/``removed`` if any text is a Reddit deletion marker."""
    for text in texts:
        if text.startswith("[") or text[:1].isspace():  # cheap pre-check: markers start with [
            reason = DELETED_MARKERS.get(text.strip().lower())
            if reason:
                return reason
    return None


def is_bot(author: str, cfg: CleanConfig) -> bool:
    """A configured bot account, or a name ending in the bot suffix (e.g. ``RemindMeBot``)."""
    name = author.lower()
    return name in cfg.bots or bool(cfg.bot_suffix and name.endswith(cfg.bot_suffix))


def english_ratio(words: set[str] | frozenset[str]) -> float:
    """Share of the distinct words that are English function words (0 for no words)."""
    if not words:
        return 0.0
    return len(ENGLISH_STOPWORDS.intersection(words)) / len(words)


def words_of(low: str) -> list[str]:
    """The words of a lower-cased text (punctuation split off, apostrophes kept)."""
    if low.isascii():
        return low.encode().translate(_PUNCT_BYTES).decode().split()
    return low.translate(_PUNCT_TABLE).split()


def text_reason(
    text: str, low: str, min_words: int, cfg: CleanConfig
) -> tuple[str | None, list[str], set[str]]:
    """The drop reason for a text (empty, too short/long, non-English) or None, its words
    and the set of its words. ``low`` is ``text.lower()`` (computed once by the caller)."""
    if not text or text.isspace():
        return "empty", [], set()
    words = words_of(low)
    n = len(words)
    if n == 0:
        return "empty", words, set()
    if n < min_words:
        return "too_short", words, set()
    if n > cfg.max_words:
        return "too_long", words, set()
    wordset = set(words)
    if n >= cfg.language_min_words and english_ratio(wordset) < cfg.min_english_ratio:
        return "non_english", words, wordset
    return None, words, wordset


def dedupe_key(kind: str, words: list[str]) -> int:
    """A fingerprint for exact-duplicate detection (case, spacing and punctuation ignored).

    Python's string hash: consistent within one run, which is all deduplication needs.
    """
    return hash((kind, " ".join(words)))


def word_count(text: str) -> int:
    """Number of words, as the length filters count them."""
    return len(words_of(text.lower()))
