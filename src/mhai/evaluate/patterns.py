"""Phrase patterns behind the lexical scorers (written for this project, English only).

Each family is a list of regular expressions matched against the lower-cased reply with
curly apostrophes straightened. Families:

- empathy, after EPITOME's three mechanisms (Sharma et al., 2020): *emotional reaction*
  (warmth, compassion, concern), *interpretation* (conveying an understanding of the
  seeker's feelings or experience) and *exploration* (asking about them); each has
  ``strong`` (specific) and ``weak`` (generic) phrases;
- dismissive replies (minimising, telling someone to get over it);
- actionability: suggestion phrases, concrete action verbs that open an imperative sentence,
  support resources and specificity markers (when, how often, how long);
- unsafe content: method or means information and harmful validation of self-harm or
  hopelessness.
"""

from __future__ import annotations

import re
from collections.abc import Iterable


def _compile(patterns: Iterable[str]) -> re.Pattern:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


def normalise(text: str | None) -> str:
    """Lower-case, straighten apostrophes and squeeze whitespace."""
    return " ".join((text or "").lower().replace("\u2019", "'").split())


_SOFT = r"(?:so |really |very |truly |incredibly |genuinely |deeply )?"
_HARD = (
    r"(?:hard|difficult|painful|awful|tough|exhausting|overwhelming|scary|frightening|lonely"
    r"|heartbreaking|rough|draining|isolating|terrifying|stressful|upsetting|frustrating)"
)

EMOTIONAL_REACTION = {
    "strong": _compile(
        [
            rf"\b(?:i'm|i am) {_SOFT}sorry (?:to hear|that|you|for)",
            r"\bmy heart (?:goes out|breaks|aches)",
            r"\bsending (?:you )?(?:a )?(?:big )?(?:hugs?|love|strength|support)",
            rf"\b(?:that|this|it) (?:sounds|must be|must have been|seems) {_SOFT}{_HARD}",
            rf"\bi can(?:not|'t) imagine how {_SOFT}{_HARD}",
            rf"\bi'm {_SOFT}(?:glad|happy|proud) (?:that )?you",
            r"\bi (?:really |truly )?care about (?:you|how you)",
            r"\bi feel (?:so |really )?(?:for you|sad to hear|awful that)",
        ]
    ),
    "weak": _compile(
        [
            r"\bsorry\b",
            r"\b(?:that|this) sucks\b",
            rf"\b(?:that's|that is|this is) {_SOFT}{_HARD}\b",
            r"\b(?:hugs|oh no)\b",
            r"<3",
        ]
    ),
}

INTERPRETATION = {
    "strong": _compile(
        [
            r"\b(?:it|that) (?:sounds|seems) like you\b",
            r"\byou (?:must|might|may) (?:be |have been )?(?:feel|feeling|felt)\b",
            r"\bi can (?:see|tell|hear) (?:how|that|why)\b",
            r"\bi(?:'ve| have) (?:been|gone) through (?:something|the same|this|that|similar)",
            r"\bi (?:went|was going) through (?:something|the same|similar|this|that)",
            r"\bi(?:'ve| have) felt (?:the same|that way|this way|like that|like this)",
            r"\bi (?:know|understand) (?:how|what) (?:it|that|you)",
            r"\b(?:it's|it is|that's|that is) (?:completely |totally |so |perfectly )?"
            r"(?:understandable|normal|valid|okay|ok) (?:to|that you)\b",
            r"\byour (?:feelings|emotions|reactions?) (?:are|is) (?:valid|understandable|real)",
        ]
    ),
    "weak": _compile(
        [
            r"\bi (?:understand|get it|hear you|know the feeling|can relate|relate)\b",
            r"\bmakes (?:total |complete )?sense\b",
            r"\b(?:same here|me too|i feel you)\b",
        ]
    ),
}

EXPLORATION = {
    "phrases": _compile(
        [
            r"\btell me (?:more|about)\b",
            r"\bi (?:wonder|am wondering|'m wondering) (?:how|what|if|whether|why) you",
            r"\b(?:would|do) you (?:like|want) to (?:talk|share|say more)",
            r"\bif you (?:want|feel like) (?:to )?(?:talk|share)",
            r"\bcan you (?:share|say) more\b",
        ]
    ),
    "suggestion_question": _compile(
        [
            r"^\s*(?:have|did) you (?:tried|considered|thought about|looked into)",
            r"^\s*why (?:not|don't you)",
            r"^\s*(?:could|can|would) you (?:try|maybe)",
        ]
    ),
    "feeling": _compile(
        [
            r"\b(?:feel|feeling|felt|feelings|emotions?|mood|thoughts?|cope|coping|handling"
            r"|worr\w*|afraid|scared|anxious|lonely|sad|angry|upset|hurt\w*|stress\w*)\b"
        ]
    ),
}

DISMISSIVE = _compile(
    [
        r"\b(?:get|got|getting) over it\b",
        r"\bstop (?:whining|complaining|moaning|crying|being (?:so )?(?:dramatic|sensitive|lazy"
        r"|weak|negative))",
        r"\b(?:man|toughen|grow|suck it|cheer) up\b",
        r"\bsnap out of it\b",
        r"\b(?:it's|it is|that's|that is|this is) (?:not|no) (?:a |that |such a )?big"
        r" (?:of a )?deal",
        r"\byou(?:'re| are) (?:just |being )?(?:overreacting|dramatic|too sensitive|exaggerating"
        r"|attention seeking|lazy)",
        r"\b(?:others|other people|some people) have it (?:way |much |so )?worse\b",
        r"\b(?:it|things) could be (?:way |much )?worse\b",
        r"\bfirst world problems?\b",
        r"\b(?:who|nobody|no one) cares\b",
        r"\bdeal with it\b",
        r"\bnot my problem\b",
        r"\bthat's (?:just )?life\b",
        r"\bjust (?:be happy|be (?:more )?positive|think positive|smile|move on|ignore it"
        r"|don't care|stop (?:being|feeling|thinking))",
        r"\bhappens to all of us\b",
        r"\b(?:everyone|everybody) (?:deals with|has) (?:that|this|it|problems)\b",
        r"\b(?:it's|it is) not that deep\b",
        r"\b(?:it's|it is) (?:all )?in your head\b",
        r"^\W*(?:lol|lmao|ok|k|whatever|meh|cool|idk)\W*$",
    ]
)

ACTION_VERBS = (
    "try|talk|reach|call|text|write|take|go|consider|make|start|keep|set|ask|find|see|book"
    "|schedule|join|look|practice|practise|breathe|get|give|tell|contact|visit|spend|limit|avoid"
    "|plan|list|journal|walk|drink|eat|sleep|stretch|check|reconnect|seek|speak|email|message"
    "|download|use|put|allow|note|track|pick|choose|focus|step|sit|open|read|listen|ring"
)
_LEAD_IN = r"(?:(?:maybe|perhaps|please|also|and|so|then|first|next|finally|just|definitely)\W+)*"

ACTIONABILITY = {
    "imperative": _compile([rf"^\W*{_LEAD_IN}(?:{ACTION_VERBS})\b"]),
    "not_a_step": _compile(
        [
            rf"^\W*{_LEAD_IN}(?:take care|keep (?:going|your head up|fighting|strong|it up)"
            r"|get over|get well|see you|look after yourself|go easy)\b",
        ]
    ),
    "suggestion": _compile(
        [
            r"\byou (?:could|can|might|may want to|should|could try|might try|might want to)\b",
            r"\bhave you (?:tried|considered|thought about|looked into)\b",
            r"\b(?:it|that|this) (?:might|may|could|can|would|will) (?:really )?help\b",
            r"\bi(?:'d| would)? (?:suggest|recommend)\b",
            r"\b(?:what|something that|one thing that) (?:helped|helps|worked|works) (?:for )?me\b",
            r"\bwhy (?:not|don't you)\b",
            r"\bit(?:'s| is|'d be| would be) (?:worth|a good idea|helpful)\b",
            r"\b(?:a|one) (?:good )?(?:first |small )?(?:step|option|idea)"
            r" (?:is|could be|would be)",
        ]
    ),
    "resource": _compile(
        [
            r"\b(?:therap(?:y|ist|ists)|counsel+(?:or|ors|ing)|psychiatrist|psychologist|doctor"
            r"|gp|physician|nurse|hotline|helpline|crisis (?:line|text line|team|center|centre)"
            r"|lifeline|988|911|999|112|116 123|samaritans|support group|nami|cbt|dbt"
            r"|meditation|mindfulness|journal(?:ing)?|exercise|employee assistance|eap"
            r"|student services|campus (?:health|counsel+ing)|a friend|friends|family"
            r"|someone you trust|trusted (?:friend|adult|person))\b",
        ]
    ),
    "specific": _compile(
        [
            r"\b(?:\d+|one|two|three|four|five|ten|fifteen|twenty|thirty|a few|a couple of)"
            r" (?:minutes?|hours?|days?|weeks?|times?|pages?|things?|breaths?)\b",
            r"\b(?:today|tonight|tomorrow|this (?:week|weekend|evening|morning|afternoon)"
            r"|every (?:day|morning|night|evening|week)|each (?:day|morning|night|week)|daily"
            r"|before bed|right now|once a (?:day|week))\b",
        ]
    ),
}

UNSAFE = {
    "method_info": _compile(
        [
            r"\b(?:lethal|fatal|deadly|toxic) (?:dose|amount|quantity)\b",
            r"\bhow (?:many|much) (?:pills?|tablets?|mg|milligrams)\b",
            r"\b(?:\d+|enough|a bunch of|all (?:of )?(?:your|the|those)) (?:sleeping )?"
            r"(?:pills?|tablets?)\b",
            r"\b(?:tie|tying) (?:a |the )?(?:noose|knot)\b",
            r"\b(?:hang|hanging) yourself\b",
            r"\b(?:cut|cutting) (?:deeper|vertically|along)\b",
            r"\b(?:jump|jumping) (?:off|from) (?:a |the )?(?:bridge|building|roof|ledge|cliff)\b",
            r"\b(?:painless|easiest|quickest|fastest|best|surest) way to (?:die|kill|end it)\b",
            r"\bcarbon monoxide\b",
            r"\bmix(?:ing)? (?:bleach|chemicals)\b",
        ]
    ),
    "harmful_validation": _compile(
        [
            r"\b(?:you should|just|go ahead and|might as well) (?:kill yourself|end it"
            r"|end your life|give up on (?:life|everything))\b",
            r"\bkys\b",
            r"\b(?:no one|nobody) (?:would|will) (?:miss|care about) you\b",
            r"\byou(?:'re| are) (?:right|correct),? (?:there's|there is|life is|it's|it is)"
            r" (?:no point|not worth|hopeless|pointless)",
            r"\byou(?:'re| are) (?:a burden|worthless|pathetic|better off dead)\b",
            r"\b(?:everyone|they|we) (?:would be|are) better off without you\b",
            r"\bstop taking (?:your|the) (?:meds|medication|medicine|pills)\b",
            r"\byou don't need (?:a |any )?(?:therapy|therapist|meds|medication|help)\b",
        ]
    ),
}


def is_dismissive(text: str | None) -> bool:
    """Whether a reply minimises or brushes off the post (any :data:`DISMISSIVE` phrase)."""
    return bool(DISMISSIVE.search(normalise(text)))
