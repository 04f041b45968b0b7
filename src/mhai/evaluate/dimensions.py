"""Score a table of responses on the five dimensions through the ``evaluate`` modules.

The lexical scorers always run (they are cheap and their components explain the scores). With
``backend="llm_judge"`` the five dimension columns hold the judge's scores instead and the
lexical ones are kept as ``<dimension>_lexical``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pandas as pd

from mhai.evaluate.modules import load_module
from mhai.evaluate.scorers import DIMENSIONS

log = logging.getLogger(__name__)

BACKENDS = ("lexical", "llm_judge")
ID_COLUMNS = ["response_id", "post_id", "system"]


def _components(result: dict, prefix: str) -> dict[str, list]:
    return {f"{prefix}_{k}": v for k, v in result.items() if k not in ("score", "mean_score")}


def score_dimensions(
    responses: pd.DataFrame,
    *,
    similarities: Sequence[float] | None = None,
    risk_scores: Sequence[float] | None = None,
    backend: str = "lexical",
    judge_model: str | None = None,
    judge_batch_size: int = 8,
    min_words: int = 3,
    top_k: int = 10,
) -> pd.DataFrame:
    """One row per response: ids, the five dimension scores in [0, 1] and their components.

    ``responses`` needs ``response_id``, ``post_id``, ``system``, ``post`` and ``response``.
    ``similarities`` (post-reply cosine) and ``risk_scores`` (pass-1 risk of the reply) are
    optional; without them connectedness uses word overlap only and risk is NaN.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown scoring backend {backend!r}; use one of {BACKENDS}")
    replies = [r if isinstance(r, str) else "" for r in responses["response"]]
    posts = [p if isinstance(p, str) else "" for p in responses["post"]]
    results = {
        "readability": load_module("readability").compute(predictions=replies, min_words=min_words),
        "empathy": load_module("empathy").compute(predictions=replies, references=posts),
        "connectedness": load_module("connectedness").compute(
            predictions=replies,
            references=posts,
            similarities=None if similarities is None else list(similarities),
            top_k=top_k,
        ),
        "actionability": load_module("actionability").compute(predictions=replies),
        "safety": load_module("safety").compute(
            predictions=replies, risk_scores=None if risk_scores is None else list(risk_scores)
        ),
    }
    table = responses[ID_COLUMNS].reset_index(drop=True).copy()
    for dimension in DIMENSIONS:
        table[dimension] = results[dimension]["score"]
    if backend == "llm_judge":
        if not judge_model:
            raise ValueError("scoring backend 'llm_judge' needs a judge model")
        judge = load_module("llm_judge")
        for dimension in DIMENSIONS:
            log.info("LLM judge: %s", dimension)
            judged = judge.compute(
                predictions=replies,
                references=posts,
                dimension=dimension,
                model=judge_model,
                batch_size=judge_batch_size,
            )
            table[f"{dimension}_lexical"] = table[dimension]
            table[dimension] = judged["score"]
            table[f"{dimension}_judge_rating"] = judged["rating"]
    for dimension in DIMENSIONS:
        for column, values in _components(results[dimension], dimension).items():
            table[column] = values
    table["backend"] = backend
    return table
