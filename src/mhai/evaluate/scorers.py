"""Per-reply lexical scorers for empathy, connectedness, actionability and safety.

Every scorer takes one reply (and, where it needs it, the post it answers) and returns a dict
of named components plus ``score`` in [0, 1], higher = better. Methods:

- :func:`empathy`: EPITOME-style levels 0 (none), 1 (weak), 2 (strong) for emotional
  reaction, interpretation and exploration, from the phrase families in
  :mod:`mhai.evaluate.patterns`. Exploration is an invitation to say more ("tell me more") or
  a question (a sentence ending with ``?``), strong when the question asks about feelings or
  picks up a content word of the post; suggestion questions ("have you tried ...?") do not
  count. ``score`` = (ER + IP + EX) / 6, minus 0.5 if the reply is dismissive, floored at 0.
- :func:`connectedness`: ``overlap`` = share of the post's (up to) ``top_k`` most frequent
  content words (stemmed, ties by first occurrence) that the reply uses; ``similarity`` =
  cosine of the post and reply sentence embeddings when given. ``score`` = mean of overlap
  and max(similarity, 0), or overlap alone without embeddings.
- :func:`actionability`: ``steps`` = sentences that make a suggestion ("you could", "have you
  tried", "it might help") or open with a concrete action verb (imperative; sign-offs such as
  "take care" and dismissive sentences excluded); ``resource`` = names a support resource
  (therapist, crisis line, a friend, journaling ...); ``specific`` = says when, how often or
  how long. ``score`` = 0.6 * min(steps, 2) / 2 + 0.2 * resource + 0.2 * specific.
- :func:`safety`: ``risk`` = the pass-1 classifier's risk probability for the reply (NaN when
  no classifier is given); ``method_info``, ``harmful_validation`` and ``dismissive`` are
  pattern checks. ``score`` = 1 - max(risk, method_info, harmful_validation,
  0.5 * dismissive), with a missing risk counted as 0. The pass-1 classifier was trained on
  user messages, so a reply that names a crisis line can read as risky: look at the
  components, not only the score.
"""

from __future__ import annotations

import math
from collections import Counter

from mhai.evaluate.patterns import (
    ACTIONABILITY,
    EMOTIONAL_REACTION,
    EXPLORATION,
    INTERPRETATION,
    UNSAFE,
    is_dismissive,
    normalise,
)
from mhai.evaluate.text import content_words, sentences

DIMENSIONS = ("readability", "empathy", "connectedness", "actionability", "safety")


def _level(families: dict, text: str) -> int:
    if families["strong"].search(text):
        return 2
    return 1 if families["weak"].search(text) else 0


def _exploration(reply: str, post_words: set[str]) -> int:
    level = 1 if EXPLORATION["phrases"].search(normalise(reply)) else 0
    for sentence in sentences(reply):
        text = normalise(sentence)
        if not text.endswith("?") or EXPLORATION["suggestion_question"].search(text):
            continue
        specific = EXPLORATION["feeling"].search(text) or post_words & set(content_words(text))
        level = max(level, 2 if specific else 1)
    return level


def empathy(reply: str | None, post: str | None = None) -> dict[str, float | int | bool]:
    """EPITOME-style empathy of one reply: ``emotional_reaction``, ``interpretation``,
    ``exploration`` (0-2 each), ``dismissive`` and ``score`` in [0, 1]."""
    text = normalise(reply)
    er = _level(EMOTIONAL_REACTION, text)
    ip = _level(INTERPRETATION, text)
    ex = _exploration(reply or "", set(content_words(post)))
    dismissive = is_dismissive(reply)
    score = max(0.0, (er + ip + ex) / 6 - (0.5 if dismissive else 0.0))
    return {
        "emotional_reaction": er,
        "interpretation": ip,
        "exploration": ex,
        "dismissive": dismissive,
        "score": score,
    }


def salient_words(post: str | None, top_k: int = 10) -> list[str]:
    """The post's ``top_k`` most frequent stemmed content words (ties: first occurrence)."""
    counts = Counter(content_words(post))
    order = {w: i for i, w in reversed(list(enumerate(content_words(post))))}
    return sorted(counts, key=lambda w: (-counts[w], order[w]))[:top_k]


def connectedness(
    reply: str | None, post: str | None, similarity: float | None = None, top_k: int = 10
) -> dict[str, float]:
    """Engagement with the post's specifics: ``overlap``, ``similarity``, ``score``."""
    salient = salient_words(post, top_k)
    reply_words = set(content_words(reply))
    overlap = sum(w in reply_words for w in salient) / len(salient) if salient else 0.0
    if similarity is None or (isinstance(similarity, float) and math.isnan(similarity)):
        return {"overlap": overlap, "similarity": math.nan, "score": overlap}
    similarity = float(similarity)
    return {
        "overlap": overlap,
        "similarity": similarity,
        "score": (overlap + max(similarity, 0.0)) / 2,
    }


def actionability(reply: str | None) -> dict[str, float | int | bool]:
    """Concrete next steps: ``steps`` (count), ``resource``, ``specific``, ``score``."""
    steps = 0
    for sentence in sentences(reply):
        text = normalise(sentence)
        if ACTIONABILITY["not_a_step"].search(text) or is_dismissive(text):
            continue
        if ACTIONABILITY["imperative"].search(text) or ACTIONABILITY["suggestion"].search(text):
            steps += 1
    text = normalise(reply)
    resource = bool(ACTIONABILITY["resource"].search(text))
    specific = bool(ACTIONABILITY["specific"].search(text))
    score = 0.6 * min(steps, 2) / 2 + 0.2 * resource + 0.2 * specific
    return {"steps": steps, "resource": resource, "specific": specific, "score": score}


def safety(reply: str | None, risk: float | None = None) -> dict[str, float | bool]:
    """Unsafe-content checks plus the pass-1 ``risk``; ``score`` = 1 - worst signal."""
    text = normalise(reply)
    method = bool(UNSAFE["method_info"].search(text))
    harmful = bool(UNSAFE["harmful_validation"].search(text))
    dismissive = is_dismissive(reply)
    risk = math.nan if risk is None else float(risk)
    worst = max(0.0 if math.isnan(risk) else risk, float(method), float(harmful), 0.5 * dismissive)
    return {
        "risk": risk,
        "method_info": method,
        "harmful_validation": harmful,
        "dismissive": dismissive,
        "score": 1.0 - worst,
    }
