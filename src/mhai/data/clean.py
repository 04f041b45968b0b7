"""Row filters applied before anything is stored: deleted, bots, empty, length, language, dupes.

The language filter is deliberately cheap (it runs on every row of a dump): the share of a
text's distinct words that are common English function words. English prose sits around
0.3-0.6; Spanish, German, French, Portuguese or Dutch text scores under 0.15 (few shared words
such as "a", "me", "so"), and non-Latin scripts score 0. Texts shorter than ``min_words`` are
not judged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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


def dedupe_key(kind: str, joined: str) -> int:
    """A fingerprint for exact-duplicate detection of a text whose words joined by single
    spaces are ``joined`` (so case, spacing and punctuation are ignored).

    Python's string hash: consistent within one run, which is all deduplication needs.
    """
    return hash((kind, joined))


def word_count(text: str) -> int:
    """Number of words, as the length filters count them."""
    return len(words_of(text.lower()))


# -- the same checks for a batch of texts (the streaming prep's fast path) -----------------
# ASCII texts are checked with numpy over one joined buffer: after lower-casing and mapping
# punctuation to spaces (as words_of does), the word characters are [0-9a-z'] and every other
# ASCII byte separates words. A word's key is its bytes (up to 16, as two little-endian 64-bit
# numbers), so looking words up in the stopword and gate vocabularies is exact. Other texts
# go through text_reason.
_WORD_CHARS = "0123456789abcdefghijklmnopqrstuvwxyz'"
_KEY_CHARS = 16
# bytes.translate table: ASCII letters lower-cased, other word characters kept, rest -> space
_NORMAL = bytes(
    ord(chr(b).lower()) if b < 128 and chr(b).lower() in _WORD_CHARS else ord(" ")
    for b in range(256)
)
_MASKS = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [2**64 - 1], np.uint64)
_REASONS = np.array([None, "empty", "too_short", "too_long"], object)


def _key(word: str) -> tuple[int, int] | None:
    """The two 64-bit numbers of a word's bytes (None: a word the batch path never forms)."""
    if len(word) > _KEY_CHARS or any(c not in _WORD_CHARS for c in word):
        return None
    raw = word.encode().ljust(_KEY_CHARS, b"\0")
    return int.from_bytes(raw[:8], "little"), int.from_bytes(raw[8:], "little")


def _bytes_at(words: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The 8 bytes from each byte offset in ``starts`` of a buffer viewed as little-endian
    64-bit ``words`` (two aligned loads and shifts: much faster than unaligned loads)."""
    at = starts >> 3
    shift = (starts & 7).astype(np.uint64) << np.uint64(3)
    # the second shift is split in two so that a byte offset on a word bound shifts by 64
    return (words.take(at) >> shift) | (
        (words.take(at + 1) << np.uint64(1)) << (np.uint64(63) - shift)
    )


class TextChecker:
    """:func:`text_reason` for many texts at once, with what the prep needs of each text.

    ``gates`` is the vocabulary later checks look for (de-identification and crisis-lexicon
    gate words): a text's ``hits`` is the set of its words in ``gates``, which gives the same
    gate decisions as the set of all its words.
    """

    SLOT_BITS = 16

    def __init__(self, cfg: CleanConfig, gates: frozenset[str]):
        self.cfg = cfg
        self.gates = frozenset(gates)
        vocab = sorted(ENGLISH_STOPWORDS) + sorted(self.gates - ENGLISH_STOPWORDS)
        keyed = [(w, _key(w)) for w in vocab if _key(w) is not None]
        self.words = [w for w, _ in keyed]
        self.word_array = np.array(self.words, object)
        self.low = np.array([k[0] for _, k in keyed], np.uint64)
        self.high = np.array([k[1] for _, k in keyed], np.uint64)
        self.is_stop = np.array([w in ENGLISH_STOPWORDS for w in self.words])
        self.is_gate = np.array([w in self.gates for w in self.words])
        self.stop_column = np.cumsum(self.is_stop) - 1
        self.n_stops = int(self.is_stop.sum())
        # a hash table without collisions among the vocabulary (slot -> vocabulary index)
        for seed in range(1, 1000):
            mult = np.random.default_rng(seed).integers(1, 2**63, 2, dtype=np.uint64) | 1
            slots = self._slots(self.low, self.high, mult)
            if len(np.unique(slots)) == len(slots):
                break
        else:  # pragma: no cover - 1000 draws without a collision-free table
            raise RuntimeError("TextChecker: no collision-free vocabulary table")
        self.mult = mult
        self.table = np.zeros(2**self.SLOT_BITS, np.intp)
        self.table[slots] = np.arange(len(slots))

    def _slots(self, low: np.ndarray, high: np.ndarray, mult: np.ndarray) -> np.ndarray:
        return ((low * mult[0] + high * mult[1]) >> np.uint64(64 - self.SLOT_BITS)).astype(np.intp)

    def check(
        self, texts: list[str], min_words: int
    ) -> tuple[list[str | None], list[int], list[str], list[frozenset[str]]]:
        """Per text: drop reason (or None), word count, words joined by spaces (the dedupe
        text) and gate hits, exactly as :func:`text_reason` and :func:`words_of` give them."""
        original = texts
        others = [i for i, text in enumerate(texts) if not text.isascii()]
        if others:
            texts = list(texts)
            for i in others:
                texts[i] = ""
        reasons, counts, joined, hits = self._check_ascii(texts, min_words)
        for i in others:  # checked one at a time
            text = original[i]
            reason, words, wordset = text_reason(text, text.lower(), min_words, self.cfg)
            reasons[i], counts[i], joined[i] = reason, len(words), " ".join(words)
            hits[i] = self.gates.intersection(wordset or words)
        return reasons, counts, joined, hits

    def _check_ascii(self, texts: list[str], min_words: int) -> tuple[list, list, list, list]:
        cfg, n_rows = self.cfg, len(texts)
        if not n_rows:
            return [], [], [], []
        row_at = np.zeros(n_rows, np.intp)  # where each text starts in the joined buffer
        np.cumsum(np.fromiter(map(len, texts[:-1]), np.intp, n_rows - 1) + 1, out=row_at[1:])
        size = int(row_at[-1]) + len(texts[-1]) + 1
        # zero padding for the last word's key, to a whole number of 8-byte words
        buf = np.zeros((size + _KEY_CHARS + 15) // 8 * 8, np.uint8)
        buf[: size - 1] = np.frombuffer("\n".join(texts).encode().translate(_NORMAL), np.uint8)
        word = buf[:size] != ord(" ")
        word[size - 1] = False
        # word starts and ends alternate among the changes of ``word`` (it ends on False)
        edges = np.flatnonzero(word[1:] != word[:-1]) + 1
        if word[0]:
            edges = np.concatenate(([0], edges))
        starts, ends = edges[0::2], edges[1::2]
        lens = ends - starts
        # a row's words are consecutive: first[r] is the index of row r's first word
        first = np.searchsorted(starts, row_at)
        n_words = np.diff(first, append=len(starts))
        row = np.repeat(np.arange(n_rows), n_words)
        # look words up by their bytes: the 8 bytes from each word start
        words = buf.view(np.uint64)
        low = _bytes_at(words, starts) & _MASKS.take(np.minimum(lens, 8))
        high = np.zeros(len(starts), np.uint64)
        long = np.flatnonzero(lens > 8)  # few words need their second 8 bytes
        high[long] = _bytes_at(words, starts.take(long) + 8) & _MASKS.take(
            np.minimum(lens.take(long) - 8, 8)
        )
        at = self.table.take(self._slots(low, high, self.mult))
        found = np.flatnonzero(
            (self.low.take(at) == low) & (self.high.take(at) == high) & (lens <= _KEY_CHARS)
        )
        index, found_rows = at.take(found), row.take(found)
        stop = self.is_stop.take(index)
        n_stops = max(self.n_stops, 1)
        present = np.zeros(n_rows * n_stops, bool)  # (row, stopword) pairs seen
        present[found_rows[stop] * n_stops + self.stop_column.take(index[stop])] = True
        stops = present.reshape(n_rows, n_stops).sum(axis=1)
        gate = self.is_gate.take(index)
        gate_rows = found_rows[gate]
        gate_words = self.word_array[index[gate]].tolist()
        # words joined by single spaces: word bytes, the space before each later word of a
        # row and a line break between rows (where the joined buffer has one), then split
        keep = word
        later = np.ones(len(starts), bool)
        later[first[n_words > 0]] = False
        keep[starts[later] - 1] = True
        keep[row_at[1:] - 1] = True
        buf[row_at[1:] - 1] = ord("\n")
        joined = buf[:size][keep].tobytes().decode().split("\n")
        code = np.zeros(n_rows, np.intp)
        code[n_words < min_words] = 2
        code[n_words == 0] = 1
        code[n_words > cfg.max_words] = 3
        reasons = _REASONS[code].tolist()
        counts = n_words.tolist()
        # the stopword share over all words bounds the share over distinct words from below
        unsure = (code == 0) & (n_words >= cfg.language_min_words)
        unsure &= stops <= cfg.min_english_ratio * n_words + 1
        for r in np.flatnonzero(unsure).tolist():
            if int(stops[r]) / counts[r] < cfg.min_english_ratio:
                reason, _, _ = text_reason(texts[r], texts[r].lower(), min_words, cfg)
                reasons[r] = reason
        hits = [frozenset()] * n_rows
        if len(gate_rows):  # gate_rows is sorted: one run of gate words per row with any
            cuts = (np.flatnonzero(gate_rows[1:] != gate_rows[:-1]) + 1).tolist()
            for r, a, b in zip(
                gate_rows[[0, *cuts]].tolist(), [0, *cuts], [*cuts, len(gate_rows)], strict=True
            ):
                hits[r] = frozenset(gate_words[a:b])
        return reasons, counts, joined, hits
