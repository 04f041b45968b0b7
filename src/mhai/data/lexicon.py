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
its gate words (a set lookup), so most texts cost one set intersection.
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
    # category: (gate words, pattern); the pattern runs only if the text has a gate word
    "direct": (
        "kill killing suicidal suicide die life overdose overdosing myself dead end",
        r"\b(?:kill(?:ing)? myself|end(?:ing)? my (?:own )?life|take my (?:own )?life"
        r"|(?:want|wanna|going|plan(?:ning)?|ready) to die|i'?m suicidal|feeling suicidal"
        r"|suicidal (?:thoughts|again|tonight)|commit suicide|my suicide note|suicide plan"
        r"|overdos(?:e|ing) on|hang(?:ing)? myself|(?:cut|cutting|hurt|hurting|harm|harming)"
        r" myself|end it all tonight|wish i (?:was|were) dead)\b",
    ),
    "adversarial": (
        "unalive unaliving kms sewer slide lethal pills tablets k1ll mys3lf su1cide suic1de icide uicide dose",
        r"(?:k[i1!]ll\W?m[yi]s[e3]lf|\bunaliv(?:e|ing) (?:my ?self|me)\b|\bkms\b"
        r"|sewer ?slide|s[u*]{1,2}[i1*]c[i1*]d[e3*]|asking for a friend.{0,60}(?:pills|dose|rope"
        r"|bridge|die)|\blethal dose\b|how many (?:pills|tablets) (?:would|does it) take)",
    ),
    "indirect": (
        "better happier burden reason goodbye goodbyes disappear wake anymore longer giving gone exist",
        r"\b(?:(?:better|happier) off without me|(?:a|such a) burden (?:to|on) (?:everyone|"
        r"them|my family|everybody)|(?:no|any) reason to (?:live|keep going|stay)|(?:saying|said) my"
        r" goodbyes?|wish i could (?:just )?disappear|(?:go to sleep|fall asleep) and (?:never|not)"
        r" wake up|don'?t want to (?:be here|exist) anymore|won'?t be around (?:much )?longer"
        r"|giving away my (?:things|stuff)|everyone would be better if i (?:was|were) gone)\b",
    ),
    "ambiguous": (
        "anymore point stop done give go tired",
        r"\b(?:i can'?t do this anymore|what'?s the point(?: of anything| of living| anymore)?"
        r"|i want (?:it all|everything) to stop|i'?m done with everything|i just want to give up"
        r"|i can'?t go on|i'?m so tired of (?:everything|existing|being alive))\b",
    ),
    "idiom": (
        "killing dying kill dead die died killed death",
        r"\b(?:is killing me|are killing me|dying to|(?:could|would) kill for|dead tired"
        r"|to die for|died laughing|killed it|dead on my feet|bored to death)\b",
    ),
}

_COMPILED = [
    (category, frozenset(gates.split()), re.compile(pattern))
    for category, (gates, pattern) in _LEXICON.items()
]
_ALL_GATES = frozenset().union(*(gates for _, gates, _ in _COMPILED))


def crisis_category(low: str, words: set[str] | frozenset[str]) -> str:
    """The lexicon category of a lower-cased text whose word set is ``words``."""
    if _ALL_GATES.isdisjoint(words):
        return "none"
    for category, gates, pattern in _COMPILED:
        if not gates.isdisjoint(words) and pattern.search(low):
            return category
    return "none"


def weak_label(text: str) -> tuple[int, str]:
    """``(label, category)`` for a text: label 1 for crisis language, 0 otherwise."""
    low = text.lower()
    category = crisis_category(low, set(words_of(low)))
    return LABELS[category], category
