"""Linguistic analysis of replies: accommodation, similarity, lexical diversity, length.

Methods (tokens are :func:`mhai.evaluate.text.words`: lower-cased, contractions expanded):

- *Stylistic accommodation* (language style matching, after Ireland & Pennebaker): for each
  of nine function-word categories (:data:`FUNCTION_WORDS`, lists written for this project;
  a word counts in every category it is listed in), p = 100 * category words / all words
  in the post and in the reply; the category match is 1 - |p_post - p_reply| /
  (p_post + p_reply + 0.0001), so a category absent from both matches fully (1.0). The
  score is the mean over the nine categories; NaN when either text has no words.
- *Semantic similarity*: cosine of the post and reply sentence embeddings (MiniLM).
- *distinct-n*: distinct n-grams / all n-grams of one reply (NaN without n-grams);
  :func:`corpus_distinct` pools all replies of a system.
- *MTLD* (McCarthy & Jarvis, 2010): walking through the tokens, a factor is complete when the
  running type-token ratio of the current segment falls to the threshold (0.72); the
  remainder adds a partial factor (1 - TTR) / (1 - threshold); MTLD = tokens / factors, and
  the reported value is the mean of the forward and backward passes. NaN when there are no
  factors (no tokens, or no repeated word at all).
- *Length*: whitespace-separated words and sentences of the raw reply.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from mhai.evaluate.text import sentences, words

LSM_EPSILON = 0.0001
MTLD_THRESHOLD = 0.72

FUNCTION_WORDS: dict[str, frozenset[str]] = {
    name: frozenset(listed.split())
    for name, listed in {
        "personal_pronouns": "i me my mine myself we us our ours ourselves you your yours "
        "yourself yourselves he him his himself she her hers herself they them their theirs "
        "themselves",
        "impersonal_pronouns": "it its itself this that these those something anything "
        "everything nothing someone anyone everyone nobody somebody anybody everybody what "
        "which who whom whose whatever whoever",
        "articles": "a an the",
        "auxiliary_verbs": "am is are was were be been being have has had having do does did "
        "will would shall should can could may might must",
        "adverbs": "very really just so too also now then here there even still only quite "
        "always never often sometimes again already maybe actually",
        "prepositions": "about above across after against along among around at before behind "
        "below beneath beside between beyond by down during except for from in inside into "
        "near of off on onto out outside over past since through throughout to toward towards "
        "under until up upon with within without",
        "conjunctions": "and but or nor so yet because although though while if unless "
        "whereas since as",
        "negations": "no not never none nor nothing nobody neither",
        "quantifiers": "all any some many much few several more most less least lot lots each "
        "every both enough half",
    }.items()
}


def category_rates(tokens: Sequence[str]) -> dict[str, float]:
    """Percentage of ``tokens`` in each function-word category."""
    n = len(tokens)
    return {
        name: (100.0 * sum(t in members for t in tokens) / n if n else math.nan)
        for name, members in FUNCTION_WORDS.items()
    }


def accommodation(post: str | None, reply: str | None) -> float:
    """Language-style matching of a reply to its post, in [0, 1] (see module docstring)."""
    post_tokens, reply_tokens = words(post), words(reply)
    if not post_tokens or not reply_tokens:
        return math.nan
    p1, p2 = category_rates(post_tokens), category_rates(reply_tokens)
    matches = [1 - abs(p1[c] - p2[c]) / (p1[c] + p2[c] + LSM_EPSILON) for c in FUNCTION_WORDS]
    return float(np.mean(matches))


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    """All contiguous n-grams of ``tokens``."""
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def distinct_n(text: str | None, n: int) -> float:
    """Distinct n-grams / all n-grams of one text; NaN when it has no n-gram."""
    grams = ngrams(words(text), n)
    return len(set(grams)) / len(grams) if grams else math.nan


def corpus_distinct(texts: Sequence[str | None], n: int) -> float:
    """distinct-n pooled over many texts (n-grams never cross text boundaries)."""
    grams = [g for text in texts for g in ngrams(words(text), n)]
    return len(set(grams)) / len(grams) if grams else math.nan


def _mtld_factors(tokens: Sequence[str], threshold: float) -> float:
    factors = 0.0
    types: set[str] = set()
    count = 0
    for token in tokens:
        types.add(token)
        count += 1
        if len(types) / count <= threshold:
            factors += 1
            types, count = set(), 0
    if count:
        factors += (1 - len(types) / count) / (1 - threshold)
    return factors


def mtld(tokens: Sequence[str] | str | None, threshold: float = MTLD_THRESHOLD) -> float:
    """Bidirectional MTLD of a token list (or a text); NaN when there are no factors."""
    if tokens is None or isinstance(tokens, str):
        tokens = words(tokens)
    values = []
    for seq in (list(tokens), list(reversed(tokens))):
        factors = _mtld_factors(seq, threshold)
        if factors <= 0:
            return math.nan
        values.append(len(seq) / factors)
    return float(np.mean(values))


def cosine_similarities(embedder, posts: Sequence[str], replies: Sequence[str]) -> np.ndarray:
    """Cosine similarity of each (post, reply) pair with one sentence-transformers model.

    Each distinct text is embedded once; an empty reply gets NaN.
    """
    texts = sorted({t for t in [*posts, *replies] if t and t.strip()})
    if not texts:
        return np.full(len(replies), np.nan)
    vectors = embedder.encode(
        texts, batch_size=32, normalize_embeddings=True, show_progress_bar=len(texts) > 256
    )
    index = {t: i for i, t in enumerate(texts)}
    out = np.full(len(replies), np.nan)
    for i, (post, reply) in enumerate(zip(posts, replies, strict=True)):
        if post in index and reply in index:
            out[i] = float(np.dot(vectors[index[post]], vectors[index[reply]]))
    return out


def linguistics(
    posts: Sequence[str], replies: Sequence[str], similarity: Sequence[float] | None = None
) -> pd.DataFrame:
    """One row per reply: accommodation, semantic_similarity, distinct_1/2, mtld, lengths."""
    rows = []
    for i, (post, reply) in enumerate(zip(posts, replies, strict=True)):
        tokens = words(reply)
        rows.append(
            {
                "accommodation": accommodation(post, reply),
                "semantic_similarity": math.nan if similarity is None else float(similarity[i]),
                "distinct_1": distinct_n(reply, 1),
                "distinct_2": distinct_n(reply, 2),
                "mtld": mtld(tokens),
                "length_words": len((reply or "").split()),
                "length_sentences": len(sentences(reply)),
            }
        )
    return pd.DataFrame(rows)
