"""De-identification with typed placeholders, applied to every text before it is stored.

Two backends (``data.deid.backend``):

- ``regex`` (default): compiled patterns for Reddit usernames and @handles, e-mail addresses,
  URLs and bare web domains, phone numbers, street addresses, and names introduced by a cue
  ("my name is Sarah", "my sister Emily", "call me Jo"). It is the hot path of the streaming
  prep (see config/README.md for measured speed).
- ``scrubadub``: the maintained scrubadub library's detectors (email, URL, phone, twitter,
  credentials, ...) first, then the regex patterns for what scrubadub has no detector for
  (Reddit usernames, addresses, cue names). About 40x slower.

Placeholders: ``[USER] [EMAIL] [PHONE] [URL] [ADDRESS] [NAME]``.
"""

from __future__ import annotations

import re
from collections import Counter

PLACEHOLDERS = ("USER", "EMAIL", "PHONE", "URL", "ADDRESS", "NAME")

_TLDS = r"(?:com|org|net|edu|gov|io|co|uk|us|ca|de|fr|me|info|ly|gg|app|xyz)"
_STREET = (
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|"
    r"Terrace|Circle|Parkway|Highway|Hwy)"
)
_RELATIONS = (
    r"(?:wife|husband|boyfriend|girlfriend|partner|fiance|fiancee|son|daughter|sister|brother|"
    r"mom|mum|mother|dad|father|friend|best friend|roommate|therapist|doctor|boss|ex|cousin|"
    r"aunt|uncle|grandma|grandpa|coworker|teacher|neighbor|neighbour)"
)
_NAME = r"[A-Z][a-z]+(?:[ -][A-Z][a-z]+)?"

# Order matters: e-mails before handles, URLs before usernames (reddit.com/u/...).
PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("EMAIL", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")),
    (
        "URL",
        re.compile(
            r"(?:https?://|www\.)[^\s<>()\[\]]+"
            rf"|\b[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.{_TLDS}(?:/[^\s<>()\[\]]*)?(?![\w.])",
            re.IGNORECASE,
        ),
    ),
    ("USER", re.compile(r"(?<![\w/])/?u/[\w-]{2,20}|(?<![\w@])@[A-Za-z_][\w]{2,14}\b")),
    (
        "PHONE",
        re.compile(
            r"(?<![\w+])(?:\+?\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)\s?|\d{2,4}[\s.-])"
            r"\d{3,4}[\s.-]?\d{3,4}(?!\w)"
            r"|(?<!\w)\d{10,12}(?!\w)"
        ),
    ),
    ("ADDRESS", re.compile(rf"\b\d{{1,5}}\s+(?:[A-Z][a-z]+\s+){{1,3}}{_STREET}\b\.?")),
]

# Names after a cue: only the name group is replaced, the cue is kept for fluency.
NAME_CUES = re.compile(
    r"(?:\b(?:[Mm]y name is|[Mm]y name's|[Nn]ame's|I'm called|I am called|[Cc]all me|"
    rf"[Mm]y {_RELATIONS}(?: named| called)?,?)\s+)({_NAME})\b"
    rf"|(?:^|\n)\s*(?:-|–|—|~|Love,|Thanks,|Cheers,|Best,)\s*({_NAME})\s*$"
)
NON_NAMES = frozenset(
    "I The A An And But So Not Just Really Very Is Was Has Had Who Which That This It He She "
    "They We You My Our Your His Her Their Me Him Them Always Never Still Too Also Even "
    "Recently Lately Today Tomorrow Yesterday".split()
)


def _replace_names(text: str, counts: Counter) -> str:
    def repl(match: re.Match) -> str:
        group = 1 if match.group(1) else 2
        name = match.group(group)
        if name.split()[0] in NON_NAMES:
            return match.group(0)
        counts["NAME"] += 1
        start, end = (i - match.start() for i in match.span(group))
        return match.group(0)[:start] + "[NAME]" + match.group(0)[end:]

    return NAME_CUES.sub(repl, text)


class RegexDeidentifier:
    """Fast compiled-regex de-identification; counts replacements per placeholder type."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def __call__(self, text: str) -> str:
        """Return ``text`` with PII replaced by typed placeholders."""
        counts = self.counts
        for label, pattern in PATTERNS:
            text, n = pattern.subn(f"[{label}]", text)
            if n:
                counts[label] += n
        return _replace_names(text, counts)


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

    def __call__(self, text: str) -> str:
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
