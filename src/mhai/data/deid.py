"""De-identification with typed placeholders, applied to every text before it is stored.

Two backends (``data.deid.backend``):

- ``regex`` (default): compiled patterns for Reddit usernames and @handles, e-mail addresses,
  URLs and bare web domains, phone numbers, street addresses, names introduced by a cue
  ("my name is Sarah", "my sister Emily", "call me Jo", a sign-off line) and common first
  names from a list. It is the hot path of the streaming prep (see config/README.md for
  measured speed): each pattern runs only when a cheap gate says it could match, and
  :meth:`RegexDeidentifier.may_change` tells for a whole batch of texts which ones no call
  would change (most of them), so the prep skips those calls.
- ``scrubadub``: the maintained scrubadub library's detectors (email, URL, phone, twitter,
  credentials, ...) first, then the regex patterns for what scrubadub has no detector for
  (Reddit usernames, addresses, names). 10-40x slower (measured in
  ``benchmarks/bench_data_prep.py``).

Placeholders: ``[USER] [EMAIL] [PHONE] [URL] [ADDRESS] [NAME]``.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from mhai.data.clean import words_of

PLACEHOLDERS = ("USER", "EMAIL", "PHONE", "URL", "ADDRESS", "NAME")

_TLDS = ("com", "org", "net", "edu", "gov", "io", "co", "uk", "us", "ca", "me", "info", "ly", "app")
_STREET_TEXT = (
    "Street St Avenue Ave Road Rd Boulevard Blvd Lane Ln Drive Dr Court Ct Way Place Pl "
    "Terrace Circle Parkway Highway Hwy"
)
_STREETS = _STREET_TEXT.split()
# Gates (sets of lower-case words): the address pattern needs a street word, name cues a cue word.
_STREET_WORDS = frozenset(street.lower() for street in _STREETS)
_RELATION_TEXT = (
    "wife husband boyfriend girlfriend partner fiance fiancee son daughter sister brother mom "
    "mum mother dad father friend roommate therapist doctor boss ex cousin aunt uncle grandma "
    "grandpa coworker teacher neighbor neighbour"
)
_RELATIONS = [*_RELATION_TEXT.split(), "best friend", "close friend"]
_MY_CUE_WORDS = frozenset(["name", "name's", *(w for r in _RELATIONS for w in r.split())])
_OTHER_CUE_WORDS = frozenset(["call", "called", "name", "name's"])
_NAME = r"(?:(?:Dr|Mr|Mrs|Ms)\.? )?[A-Z][a-z]+(?:[ -][A-Z][a-z]+)?"

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")
URL_SCHEME = re.compile(r"(?:https?://|www\.)[^\s<>()\[\]]+", re.IGNORECASE)
URL_DOMAIN = re.compile(
    rf"\b[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:{'|'.join(_TLDS)})\b(?!\.\w)(?:/[^\s<>()\[\]]*)?",
    re.IGNORECASE,
)
DOT_TLD = re.compile(rf"\.(?:{'|'.join(_TLDS)})\b")
USER = re.compile(r"/?\bu/[\w-]{2,24}")
HANDLE = re.compile(r"(?<![\w@])@[A-Za-z_]\w{1,29}\b")
# A run of digits and phone separators; the callback keeps runs with 7 to 15 digits.
PHONE = re.compile(r"[+(]?\d[\d \t().-]{5,}\d")
ADDRESS = re.compile(rf"\b\d{{1,5}} (?:[A-Z][a-z]+ ){{1,3}}(?:{'|'.join(_STREETS)})\b")
# Name cues are searched in the lower-cased text: after each "my " ...
MY_CUE = re.compile(rf"(?:name is|name's|(?:{'|'.join(_RELATIONS)})(?: named| called)?,?) ")
# ... or after another cue (checked only when the text contains "call" or "name") ...
OTHER_CUE = re.compile(r"(?:call me|i'm called|i am called|name's|name is) ")
# ... and the name itself is matched in the original text right after the cue.
NAME_AT = re.compile(_NAME)
SIGNOFF = re.compile(rf"(?:-|–|—|~|Love,|Thanks,|Cheers,|Best,)\s*({_NAME})")
# Common first names from many cultures, replaced wherever they appear capitalized (with a
# following capitalized surname). Names that are also everyday English words (Will, May, Hope,
# Grace, Faith, Joy, Mark, Bill, Rose, Dawn, Summer, Amber, Jack, Art, ...) are left out on
# purpose: the cue patterns above still catch them after "my name is" and similar.
_FIRST_NAME_TEXT = """
    aaron abdul abigail adam adrian ahmed aisha alan alex alexander alexandra alice alicia ali
    amanda amelia amir amy ana andre andrea andrew angela anna anne anthony antonio arjun ashley
    austin ava barbara ben benjamin beth brandon brian brittany caleb camila carl carlos carmen
    caroline catherine charles charlotte chen chloe chris christian christina christopher claire
    daniel david deborah denise diana diego dmitri donna dylan edward elena eli elijah elizabeth
    ella emily emma eric erin ethan eva fatima felix fernando fiona francesca gabriel george
    hannah hassan heather helen henry hiroshi hugo ian irene isaac isabel isabella ivan jacob
    james jamal jane jasmine jason javier jennifer jenny jessica joanna joe john jonah jonathan
    jordan jorge jose joseph joshua juan julia julian justin karen kate katherine kayla kenji
    kevin kim kwame kyle laura lauren leah leo liam linda lisa lucas lucia luis luke madison
    maria mariana marcus martin mary matthew megan mei melissa mia michael michelle miguel
    mohammed muhammad natalie nathan nicole noah nora olivia omar oliver oscar pablo patricia
    paul pedro peter priya rachel rahul raj ravi rebecca richard robert ryan samantha samuel
    sara sarah sean sebastian sofia sophia sophie stefan stephanie steven susan tanya thomas
    tiffany timothy tom tomasz tyler valentina vanessa victor victoria william yusuf zoe zara
"""
FIRST_NAMES = frozenset(_FIRST_NAME_TEXT.split())
CAPITAL_NAMES = frozenset(name.capitalize() for name in FIRST_NAMES)
_CAPITALIZED = re.compile(r"[A-Z][a-z]+")
_NAME_SPAN = re.compile(r"\b[A-Z][a-z]+(?: [A-Z][a-z]+(?=[\s,.!?;:]|$))?\b")


def gazetteer(text: str) -> list[re.Match]:
    """The first names (capitalized, whole words) in ``text``, each with an optional
    capitalized surname, as one pattern of all names would find them scanning left to right
    (``\\b(?:Aaron|Abdul|...)(?: Surname)?\\b``). Such a match can only start a capitalized
    word that is a name, and there it is the match of :data:`_NAME_SPAN`, so only those words
    are tried: much faster than the alternation of ~200 names at every position."""
    found, end = [], 0
    for word in _CAPITALIZED.finditer(text):
        if word.start() >= end and word.group() in CAPITAL_NAMES:
            match = _NAME_SPAN.match(text, word.start())
            if match:
                found.append(match)
                end = match.end()
    return found


_CUE_OR_NAME = _OTHER_CUE_WORDS | FIRST_NAMES  # gates of a name search (so is "my" + a cue)
_NAME_GATES = _MY_CUE_WORDS | _CUE_OR_NAME | {"my"}
# Every word a gate looks for: the ``words`` a caller passes need only hold these.
GATE_WORDS = _STREET_WORDS | _NAME_GATES
_NON_NAME_TEXT = (
    "I The A An And But So Not Just Really Very Is Was Has Had Who Which That This It He She "
    "They We You My Our Your His Her Their Me Him Them Always Never Still Too Also Even "
    "Recently Lately Today Tomorrow Yesterday"
)
NON_NAMES = frozenset(_NON_NAME_TEXT.split())


_NON_DIGITS = bytes(c for c in range(256) if not 48 <= c <= 57)


def _digit_count(text: str) -> int:
    """Number of ASCII digits in a text (bytes.translate deletes the rest: fast)."""
    if text.isascii():
        return len(text.encode().translate(None, _NON_DIGITS))
    return sum(map(text.count, DIGITS))


# Digits -> "0" and letters -> "a" (the rest kept): one pass shows which gates below can open.
_SHAPES = bytes.maketrans(
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", b"0" * 10 + b"a" * 52
)


def _quiet(text: str, low: str) -> bool:
    """True when an ASCII text opens none of the e-mail, handle, URL, user, address and phone
    gates: no ``@``, ``/`` or digit, no ``www.`` and no dot before a letter."""
    shape = text.encode().translate(_SHAPES)
    return not (b"@" in shape or b"/" in shape or b"0" in shape or b".a" in shape or "www." in low)


# Bit flags of bytes for a batch of texts: 1 a gate character (``@``, ``/``, digit, line
# break), 2 a dot, 4 a letter, 8 a ``w`` (so ``www.`` and a dot before a letter can be found).
_FLAGS = np.zeros(256, np.uint8)
_FLAGS[list(b"@/0123456789\n")] = 1
_FLAGS[ord(".")] = 2
_FLAGS[list(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")] = 4
_FLAGS[list(b"wW")] = 12
_FLAG_BYTES = _FLAGS.tobytes()  # a bytes.translate table: faster than indexing _FLAGS


def _loud_rows(texts: list[str]) -> np.ndarray:
    """Per text: True if it is not ASCII, fails :func:`_quiet` or holds a line break."""
    texts = [text if text.isascii() else "@" for text in texts]
    flags = np.frombuffer("\0".join([*texts, ""]).encode().translate(_FLAG_BYTES), np.uint8)
    loud = (flags & 1).astype(bool)
    dot = flags[:-1] == 2
    loud[:-1] |= dot & (flags[1:] >= 4)
    www = dot[3:] & (flags[:-4] >= 12) & (flags[1:-3] >= 12) & (flags[2:-2] >= 12)
    loud[3:-1] |= www
    ends = np.cumsum([len(text) + 1 for text in texts])  # the "\0" after each text
    rows = np.zeros(len(texts), bool)
    rows[np.searchsorted(ends, np.flatnonzero(loud), side="right")] = True
    return rows


YEAR_RANGE = re.compile(r"(?:19|20)\d\d\s*-\s*(?:19|20)\d\d")
DIGITS = "0123456789"


def _phone(match: re.Match) -> str:
    run = match.group(0)
    digits = sum(c.isdigit() for c in run)
    if digits < 7 or digits > 15 or YEAR_RANGE.fullmatch(run.strip()):
        return run
    return "[PHONE]"


class RegexDeidentifier:
    """Fast compiled-regex de-identification; counts replacements per placeholder type.

    Each pattern runs only when a cheap substring gate says it could match (``@`` for
    e-mails, seven digits for phones, ...): Python's regex engine is slow on patterns that can
    start anywhere, and most texts hold no PII, so the gates keep the common case cheap.
    """

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def _sub(self, label: str, pattern: re.Pattern, text: str) -> tuple[str, int]:
        text, n = pattern.subn(f"[{label}]", text)
        self.counts[label] += n
        return text, n

    def __call__(
        self, text: str, low: str | None = None, words: set[str] | frozenset[str] | None = None
    ) -> str:
        """Return ``text`` with PII replaced by typed placeholders.

        ``low`` (``text.lower()``) and ``words`` (the set of ``clean.words_of(low)``, or any
        part of it that holds its words in :data:`GATE_WORDS`) may be passed when the caller
        already has them; they only serve as gates.
        """
        if low is None:
            low = text.lower()
        if words is None:
            words = set(words_of(low))
        if text.isascii() and _quiet(text, low):
            return self._names(text, low, words)
        n = 0
        if "@" in text:
            text, n1 = self._sub("EMAIL", EMAIL, text)
            text, n2 = self._sub("USER", HANDLE, text)
            n += n1 + n2
        if "://" in low or "www." in low:
            text, n1 = self._sub("URL", URL_SCHEME, text)
            n += n1
        if DOT_TLD.search(low):
            text, n1 = self._sub("URL", URL_DOMAIN, text)
            n += n1
        if "u/" in text:
            text, n1 = self._sub("USER", USER, text)
            n += n1
        digits = _digit_count(text)
        if digits:
            if not _STREET_WORDS.isdisjoint(words):
                text, n1 = self._sub("ADDRESS", ADDRESS, text)
                n += n1
            if digits >= 7:
                before = text.count("[PHONE]")
                text = PHONE.sub(_phone, text)
                n1 = text.count("[PHONE]") - before
                self.counts["PHONE"] += n1
                n += n1
        if n:
            low = text.lower()
        return self._names(text, low, words)

    def may_change(self, texts: list[str], words: list[set[str] | frozenset[str]]) -> list[bool]:
        """Per text, whether a call could change it; False means the text is returned as it is
        (and nothing counted), so a caller may skip the call. ``words``: as for a call."""
        return [
            loud
            or (
                bool(gates)
                and (
                    not _CUE_OR_NAME.isdisjoint(gates)
                    or ("my" in gates and not _MY_CUE_WORDS.isdisjoint(gates))
                )
            )
            for loud, gates in zip(_loud_rows(texts).tolist(), words, strict=True)
        ]

    def _names(self, text: str, low: str, words: set[str] | frozenset[str]) -> str:
        if len(low) != len(text):  # rare case folding that changes length: search case-blind
            low = text
        spans = []
        cues = []
        gates = _NAME_GATES.intersection(words)
        if not gates:
            return text if "\n" not in text else self._signoff(text, spans)
        if "my" in gates and not _MY_CUE_WORDS.isdisjoint(gates):
            i = low.find("my ")
            while i >= 0:
                cue = MY_CUE.match(low, i + 3)
                if cue:
                    cues.append(cue.end())
                i = low.find("my ", i + 3)
        if not _OTHER_CUE_WORDS.isdisjoint(gates):
            cues += [m.end() for m in OTHER_CUE.finditer(low)]
        for end in cues:
            name = NAME_AT.match(text, end)
            if name and name.group(0).split()[0] not in NON_NAMES:
                spans.append(name.span())
        if not FIRST_NAMES.isdisjoint(gates):
            spans += [
                m.span()
                for m in gazetteer(text)
                if m.group(0).split()[-1] not in NON_NAMES or " " not in m.group(0)
            ]
        return self._signoff(text, spans)

    def _signoff(self, text: str, spans: list[tuple[int, int]]) -> str:
        """Add a sign-off name on the last line ("- Sarah") and replace all name spans."""
        tail = text.rstrip()
        cut = tail.rfind("\n")
        if cut >= 0:
            line = tail[cut + 1 :]
            offset = cut + 1 + len(line) - len(line.lstrip())
            sign = SIGNOFF.fullmatch(line.lstrip())
            if sign and sign.group(1).split()[0] not in NON_NAMES:
                spans.append((sign.start(1) + offset, sign.end(1) + offset))
        if not spans:
            return text
        merged: list[tuple[int, int]] = []
        for start, end in sorted(set(spans)):
            if merged and start < merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        self.counts["NAME"] += len(merged)
        for start, end in reversed(merged):
            text = text[:start] + "[NAME]" + text[end:]
        return text


class ScrubadubDeidentifier(RegexDeidentifier):
    """scrubadub's detectors first, then the regex patterns for what it does not cover."""

    FILTH = {
        "email": "EMAIL",
        "url": "URL",
        "phone": "PHONE",
        "twitter": "USER",
        "name": "NAME",
        "address": "ADDRESS",
        "credential": "USER",
    }

    def __init__(self) -> None:
        super().__init__()
        import scrubadub

        self.scrubber = scrubadub.Scrubber(locale="en_US")

    def may_change(self, texts: list[str], words: list[set[str] | frozenset[str]]) -> list[bool]:
        """Every text: scrubadub's detectors have no gates."""
        return [True] * len(texts)

    def __call__(
        self, text: str, low: str | None = None, words: frozenset[str] | None = None
    ) -> str:
        """``low`` and ``words`` describe the text before scrubadub: not used as gates."""
        parts, last = [], 0
        for filth in sorted(self.scrubber.iter_filth(text), key=lambda f: f.beg):
            if filth.beg < last:
                continue
            label = self.FILTH.get(filth.type, filth.type.upper())
            self.counts[label] += 1
            parts += [text[last : filth.beg], f"[{label}]"]
            last = filth.end
        parts.append(text[last:])
        return super().__call__("".join(parts))


def make_deidentifier(backend: str) -> RegexDeidentifier:
    """The de-identifier for ``data.deid.backend`` (``regex`` or ``scrubadub``)."""
    if backend == "regex":
        return RegexDeidentifier()
    if backend == "scrubadub":
        return ScrubadubDeidentifier()
    raise ValueError(f"data.deid.backend: unknown backend {backend!r} (regex or scrubadub)")
