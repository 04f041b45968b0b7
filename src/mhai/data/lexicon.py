"""Weak crisis labels from a small, documented lexicon of crisis language.

Each text gets one category, checked in this order (the first that matches wins):

- ``direct`` (label 1): first-person suicidal intent, plans or self-harm
  ("kill myself", "end my life", "I want to die", "suicidal", "cutting myself again").
- ``adversarial`` (label 1): obfuscated or veiled forms meant to slip past filters
  ("k1ll mys3lf", "unalive", "kms", "sewer slide", "asking for a friend ... how many pills").
- ``indirect`` (label 1): burden, hopelessness and farewell language
  ("better off without me", "a burden to everyone", "no reason to live", "saying goodbye").
- ``ambiguous`` (label 1): exhaustion phrases that can signal risk and need a second look
  ("I can't do this anymore", "what's the point", "I want it all to stop"). Labelled 1 because
  a missed crisis costs far more than a false alarm; pass 2 of the guardrail sorts them out.
- ``idiom`` (label 0): figures of speech with crisis words ("this exam is killing me",
  "dying to see", "I could kill for a coffee", "dead tired").
- ``none`` (label 0): everything else.

These are weak labels for training and evaluating the pass-1 classifier, not a diagnosis.
Patterns run on lower-cased text; each category's pattern runs only if the text contains one of
its gate words (a set lookup), so most texts cost one set intersection, and then only if the
text contains one of the category's *needed* substrings (every match of its pattern contains
one: a few fast ``in`` tests spare most regex searches).
"""

from __future__ import annotations

import re

from mhai.data.clean import words_of

LABELS = {
    "direct": 1,
    "adversarial": 1,
    "indirect": 1,
    "ambiguous": 1,
    "idiom": 0,
    "none": 0,
}

_LEXICON: dict[str, tuple[str, str]] = {
    # category: (gates, pattern). The pattern runs only if the text has a gate word "a" or
    # both words of a gate pair "a+b", so that common words alone do not trigger it.
    "direct": (
        (
            "kill killing suicidal suicide die overdose overdosing hanging dead life+end "
            "life+ending life+take myself+hang myself+cut myself+cutting myself+hurt "
            "myself+hurting myself+harm myself+harming"
        ),
        r"\b(?:kill(?:ing)? myself|end(?:ing)? my (?:own )?life|take my (?:own )?life"
        r"|(?:want|wanna|going|plan(?:ning)?|ready) to die|i'?m suicidal|feeling suicidal"
        r"|suicidal (?:thoughts|again|tonight)|commit suicide|my suicide note|suicide plan"
        r"|overdos(?:e|ing) on|hang(?:ing)? myself|(?:cut|cutting|hurt|hurting|harm|harming)"
        r" myself|end it all tonight|wish i (?:was|were) dead)\b",
    ),
    "adversarial": (
        (
            "unalive unaliving kms sewer lethal k1ll mys3lf su1cide suic1de icide uicide "
            "pills+friend dose+friend pills+many tablets+many rope+friend bridge+friend "
            "die+friend"
        ),
        r"(?:k[i1!]ll\W?m[yi]s[e3]lf|\bunaliv(?:e|ing) (?:my ?self|me)\b|\bkms\b"
        r"|sewer ?slide|s[u*]{1,2}[i1*]c[i1*]d[e3*]|asking for a friend.{0,60}(?:pills|dose|rope"
        r"|bridge|die)|\blethal dose\b|how many (?:pills|tablets) (?:would|does it) take)",
    ),
    "indirect": (
        (
            "burden goodbye goodbyes disappear better+without happier+without reason+live "
            "reason+going reason+stay wake+never wake+not anymore+exist anymore+here "
            "around+longer giving+away gone+better"
        ),
        r"\b(?:(?:better|happier) off without me|(?:a|such a) burden (?:to|on) (?:everyone|"
        r"them|my family|everybody)|(?:no|any) reason to (?:live|keep going|stay)"
        r"|(?:saying|said) my"
        r" goodbyes?|wish i could (?:just )?disappear|(?:go to sleep|fall asleep) and (?:never|not)"
        r" wake up|don'?t want to (?:be here|exist) anymore|won'?t be around (?:much )?longer"
        r"|giving away my (?:things|stuff)|everyone would be better if i (?:was|were) gone)\b",
    ),
    "ambiguous": (
        (
            "anymore+can't anymore+cant point+what's point+whats stop+all stop+everything "
            "done+everything give+up go+can't go+cant tired+existing tired+everything "
            "tired+alive"
        ),
        r"\b(?:i can'?t do this anymore|what'?s the point(?: of anything| of living| anymore)?"
        r"|i want (?:it all|everything) to stop|i'?m done with everything|i just want to give up"
        r"|i can'?t go on|i'?m so tired of (?:everything|existing|being alive))\b",
    ),
    "idiom": (
        "killing dying kill dead die died killed death",
        r"\b(?:is killing me|are killing me|dying to|(?:could|would) kill for|dead tired"
        r"|to die for|died laughing|killed it|dead on my feet|bored? (?:me )?to death)\b",
    ),
}


# Per category, substrings of which every match of its pattern holds at least one (one per
# branch of the pattern's alternation, or a part that several branches share).
_NEEDED: dict[str, tuple[str, ...]] = {
    "direct": (
        "kill myself",
        "killing myself",
        "hang myself",
        "hanging myself",
        "cut myself",
        "cutting myself",
        "hurt myself",
        "hurting myself",
        "harm myself",
        "harming myself",
        "my life",
        "my own life",
        "to die",
        "suicid",
        "overdos",
        "end it all tonight",
        "i was dead",
        "i were dead",
    ),
    "adversarial": (
        "lf",  # k[i1!]ll\W?m[yi]s[e3]lf
        "unaliv",
        "kms",
        "slide",
        "cid",  # s[u*]{1,2}[i1*]c[i1*]d[e3*]
        "c1d",
        "c*d",
        "asking for a friend",
        "lethal dose",
        "how many ",
    ),
    "indirect": (
        "off without me",
        "burden to ",
        "burden on ",
        "reason to live",
        "reason to keep going",
        "reason to stay",
        "my goodbye",
        "disappear",
        "wake up",
        "be here anymore",
        "exist anymore",
        "be around ",
        "giving away my ",
        "better if i ",
    ),
    "ambiguous": (
        "do this anymore",
        "what's the point",
        "whats the point",
        "it all to stop",
        "everything to stop",
        "done with everything",
        "want to give up",
        "can't go on",
        "cant go on",
        "so tired of ",
    ),
    "idiom": (
        "killing me",
        "dying to",
        "kill for",
        "dead tired",
        "dead on my feet",
        "die for",
        "died laughing",
        "killed it",
        "to death",
    ),
}


def _gates(spec: str) -> tuple[frozenset[str], frozenset[str], dict[str, frozenset[str]]]:
    """Gate words ("a"), and gate pairs ("a+b": both needed) indexed by their first word."""
    singles = frozenset(g for g in spec.split() if "+" not in g)
    pairs: dict[str, set[str]] = {}
    for gate in spec.split():
        if "+" in gate:
            first, second = gate.split("+")
            pairs.setdefault(first, set()).add(second)
    return singles, frozenset(pairs), {a: frozenset(b) for a, b in pairs.items()}


_COMPILED = [
    (category, *_gates(gates), (_NEEDED[category], re.compile(pattern)))
    for category, (gates, pattern) in _LEXICON.items()
]
# Every word that opens a gate (a gate word or a pair's first word): a text with none is "none".
OPENING_WORDS = frozenset().union(*(singles | firsts for _, singles, firsts, _, _ in _COMPILED))
# Every word a gate looks for (pairs' second words too): ``words`` need only hold these.
GATE_WORDS = OPENING_WORDS.union(*(b for *_, pairs, _ in _COMPILED for b in pairs.values()))


def _gated(present: frozenset[str]) -> list[tuple[str, tuple[tuple[str, ...], re.Pattern]]]:
    """The categories (in order) whose gates pass for a text with these gate words, each
    with its needed substrings and pattern."""
    return [
        (category, test)
        for category, singles, firsts, pairs, test in _COMPILED
        if not singles.isdisjoint(present)
        or any(not pairs[a].isdisjoint(present) for a in firsts.intersection(present))
    ]


_GATED_CACHE: dict[frozenset[str], list[tuple[str, tuple[tuple[str, ...], re.Pattern]]]] = {}


def crisis_category(low: str, words: set[str] | frozenset[str]) -> str:
    """The lexicon category of a lower-cased text whose word set is ``words`` (or any part of
    it that holds its words in :data:`GATE_WORDS`)."""
    if OPENING_WORDS.isdisjoint(words):
        return "none"
    present = GATE_WORDS.intersection(words)
    gated = _GATED_CACHE.get(present)
    if gated is None:
        if len(_GATED_CACHE) > 100_000:  # bounded memory on any input
            _GATED_CACHE.clear()
        gated = _GATED_CACHE[present] = _gated(present)
    for category, (needed, pattern) in gated:
        for part in needed:
            if part in low:
                if pattern.search(low):
                    return category
                break
    return "none"


def weak_label(text: str) -> tuple[int, str]:
    """``(label, category)`` for a text: label 1 for crisis language, 0 otherwise."""
    low = text.lower()
    category = crisis_category(low, set(words_of(low)))
    return LABELS[category], category
