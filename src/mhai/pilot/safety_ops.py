"""Safety-operations summary of the simulated pilot, set beside the paper's figures.

Everything is counted from the guardrail's turn decisions and the review-queue file; the
planted-crisis block compares the guardrail with the persona's own crisis draws (recall on
crisis sessions, flag rate on the others), which only a simulation can report.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

PAPER = {
    "sessions": 7493,
    "flagged_sessions": 76,
    "flagged_share": 76 / 7493,
    "source": "ash pilot paper (arXiv 2511.11689): 76 of 7,493 sessions flagged",
}


def _quantiles(values: pd.Series) -> tuple[float | None, float | None]:
    values = pd.to_numeric(values, errors="coerce").dropna()
    if values.empty:
        return None, None
    return float(np.percentile(values, 50)), float(np.percentile(values, 95))


def count_lines(path: Path) -> int:
    """Non-empty lines of a JSONL file (0 if it does not exist)."""
    if not Path(path).exists():
        return 0
    with Path(path).open(encoding="utf-8") as handle:
        return sum(1 for line in handle if line.strip())


def summarize(
    turns: pd.DataFrame, sessions: pd.DataFrame, latency: pd.DataFrame, review_queue: Path
) -> dict:
    """The ``safety_ops.json`` document (see DESIGN.md key outputs).

    ``latency_ms`` comes from ``latency`` (turns run on the unbatched per-turn path);
    ``latency_ms_pipeline`` from the simulation itself (pass 1 there includes each turn's
    amortized share of the batched embedding time).
    """
    flagged_turns = turns[turns["flagged"]]
    p1_50, p1_95 = _quantiles(latency["pass1_ms"])
    p2_50, p2_95 = _quantiles(latency.loc[latency["flagged"], "pass2_ms"])
    diff = (latency["message_score"] - latency["simulated_message_score"]).abs().dropna()
    diff_mean = float(diff.mean()) if len(diff) else None
    diff_max = float(diff.max()) if len(diff) else None
    pipe1 = _quantiles(turns["pass1_ms"])
    pipe2 = _quantiles(flagged_turns["pass2_ms"])
    escalated = turns[turns["escalated"]].drop_duplicates("session_id")
    by_session = turns.groupby("session_id").agg(
        planted=("planted_crisis", "first"),
        flagged=("flagged", "any"),
        language=("language", "first"),
    )
    planted = by_session[by_session["planted"].notna()]
    clean = by_session[by_session["planted"].isna()]
    n_sessions = len(sessions)
    flagged_sessions = int(sessions["flagged"].sum())
    return {
        "sessions": n_sessions,
        "turns": len(turns),
        "flagged_sessions": flagged_sessions,
        "flagged_share": flagged_sessions / n_sessions if n_sessions else 0.0,
        "flagged_turns": len(flagged_turns),
        "pass2_share": len(flagged_turns) / len(turns) if len(turns) else 0.0,
        "verifier": {
            d: int((flagged_turns["pass2"] == d).sum()) for d in ("allow", "replace", "block")
        },
        "verifier_sessions": {
            d: int((sessions["pass2_decision"] == d).sum()) for d in ("allow", "replace", "block")
        },
        "escalations": len(escalated),
        "escalations_by_region": {
            str(k): int(v)
            for k, v in escalated["escalation_region"].fillna("unknown").value_counts().items()
        },
        "escalation_region_matches_participant": float(
            (escalated["escalation_region"] == escalated["region"]).mean()
        )
        if len(escalated)
        else None,
        "review_queue": count_lines(review_queue),
        "latency_ms": {
            "pass1_p50": p1_50,
            "pass1_p95": p1_95,
            "pass2_p50": p2_50,
            "pass2_p95": p2_95,
        },
        "latency_sample": {
            "turns": len(latency),
            "flagged": int(latency["flagged"].sum()),
            # batched embeddings quantize int8 activations per batch: scores are near, not equal
            "message_score_abs_diff_vs_simulation": {"mean": diff_mean, "max": diff_max},
        },
        "latency_ms_pipeline": {
            "pass1_p50": pipe1[0],
            "pass1_p95": pipe1[1],
            "pass2_p50": pipe2[0],
            "pass2_p95": pipe2[1],
        },
        "planted_crisis": {
            "sessions": len(planted),
            "flagged": int(planted["flagged"].sum()),
            "recall": float(planted["flagged"].mean()) if len(planted) else None,
            "recall_by_category": {
                str(k): float(v) for k, v in planted.groupby("planted")["flagged"].mean().items()
            },
            "recall_by_language": {
                str(k): float(v) for k, v in planted.groupby("language")["flagged"].mean().items()
            },
            "flag_rate_without_crisis": float(clean["flagged"].mean()) if len(clean) else None,
        },
        "llm_sessions": int(turns.loc[turns["llm"], "session_id"].nunique()),
        "paper": PAPER,
    }


def flags_by_week(turns: pd.DataFrame) -> pd.DataFrame:
    """Sessions, flagged sessions and escalations per week (for the figure)."""
    per_session = turns.groupby("session_id").agg(
        week=("week", "first"), flagged=("flagged", "any"), escalated=("escalated", "any")
    )
    return (
        per_session.groupby("week")
        .agg(
            sessions=("flagged", "size"), flagged=("flagged", "sum"), escalated=("escalated", "sum")
        )
        .reset_index()
    )
