"""The paper-vs-reproduced table: every headline figure of the pilot paper beside our estimate.

The paper's values are constants, all in ``PAPER`` below (source: ``PAPER_SOURCE``). Every
reproduced value comes out of the analysis of the trial tables (or, for the safety counts, the
pilot's ``safety_ops.json``); nothing reproduced is typed in here.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from mhai.analysis.effect_sizes import wilson_ci
from mhai.analysis.trial_analysis import PAPER_K, TrialAnalysis

PAPER_SOURCE = (
    "Generative AI Purpose-built for Social and Mental Health: A Real-World Pilot "
    "(arXiv:2511.11689): abstract and results"
)
# Headline figures of the pilot paper (percentages as the paper gives them).
PAPER = {
    "n_enrolled": 305,
    "phq9_d": 0.93,
    "gad7_d": 0.79,
    "n_classes": 3,
    "share_improving": 42.3,
    "share_non_responder": 48.2,
    "share_rapid_improver": 9.5,
    "flagged_sessions": 76,
    "flagged_share_pct": 1.02,
    "total_sessions": 7493,
    "alliance_week6": 3.96,
    "dropout_week10_pct": 52.5,
}
COLUMNS = ["measure", "paper_value", "reproduced", "ci_low", "ci_high", "definition"]


def _row(measure, paper, value, lo=np.nan, hi=np.nan, definition=""):
    return {
        "measure": measure,
        "paper_value": float(paper),
        "reproduced": float(value),
        "ci_low": float(lo),
        "ci_high": float(hi),
        "definition": definition,
    }


def _safety_counts(safety_ops: dict | None, sessions: pd.DataFrame) -> tuple[int, int, str]:
    """(sessions, flagged sessions, source): the pilot's safety_ops.json if given, else the
    sessions table's ``flagged`` column (a real export)."""
    if safety_ops is not None:
        return int(safety_ops["sessions"]), int(safety_ops["flagged_sessions"]), "safety_ops.json"
    return len(sessions), int(sessions["flagged"].astype(bool).sum()), "sessions table"


def paper_table(
    analysis: TrialAnalysis,
    sessions: pd.DataFrame,
    safety_ops: dict | None,
    level: float = 0.95,
) -> pd.DataFrame:
    """One row per headline figure: measure, paper_value, reproduced, ci_low, ci_high,
    definition (how the reproduced value was computed)."""
    rows = [
        _row(
            "N enrolled",
            PAPER["n_enrolled"],
            analysis.headline["n_enrolled"],
            definition="participants in the trial's participants table",
        )
    ]
    es = analysis.effect_sizes.set_index(["measure", "statistic", "sample"])
    for measure, key, label in (("phq9", "phq9_d", "PHQ-9"), ("gad7", "gad7_d", "GAD-7")):
        for stat, sample, how in (
            ("d_baseline_sd", "completers", "completers"),
            ("d_itt", "all_available", "all available data, MixedLM"),
        ):
            if (measure, stat, sample) not in es.index:
                continue
            r = es.loc[(measure, stat, sample)]
            rows.append(
                _row(
                    f"{label} Cohen's d, week 0-10 ({how})",
                    PAPER[key],
                    r["estimate"],
                    r["ci_low"],
                    r["ci_high"],
                    f"{r['definition']}; n={int(r['n'])}; {r['ci_method']} CI",
                )
            )
    chosen = analysis.chosen
    rows.append(
        _row(
            "Trajectory classes (BIC)",
            PAPER["n_classes"],
            chosen.k,
            definition=(
                f"growth mixture K=1..{len(analysis.class_fits)}: lowest BIC with smallest class "
                f">= min share; entropy {chosen.entropy:.2f}"
            ),
        )
    )
    fit = analysis.fit_for(PAPER_K)
    shares = analysis.classes.query("k == @PAPER_K").set_index("class")
    for cls in ("improving", "non_responder", "rapid_improver"):
        value = lo = hi = np.nan
        if fit is not None and cls in shares.index:
            r = shares.loc[cls]
            value, lo, hi = 100 * r["share"], 100 * r["ci_low"], 100 * r["ci_high"]
        rows.append(
            _row(
                f"Class share: {cls} (%)",
                PAPER[f"share_{cls}"],
                value,
                lo,
                hi,
                f"{PAPER_K}-class growth mixture, model-estimated share; Wald CI (sandwich SE); "
                f"BIC chose K={chosen.k}",
            )
        )
    total, flagged, source = _safety_counts(safety_ops, sessions)
    lo, hi = wilson_ci(flagged, total, level)
    rows += [
        _row(
            "Flagged sessions",
            PAPER["flagged_sessions"],
            flagged,
            definition=f"sessions flagged by the guardrail ({source})",
        ),
        _row(
            "Flagged share of sessions (%)",
            PAPER["flagged_share_pct"],
            100 * flagged / total if total else np.nan,
            100 * lo,
            100 * hi,
            f"flagged / all sessions ({source}); Wilson CI",
        ),
        _row(
            "Total sessions",
            PAPER["total_sessions"],
            total,
            definition=f"sessions held during the trial ({source})",
        ),
    ]
    al = analysis.headline["alliance_week6"]
    rows.append(
        _row(
            "WAI-SR mean at week 6",
            PAPER["alliance_week6"],
            al["estimate"],
            al["ci_low"],
            al["ci_high"],
            f"mean over people of their mean WAI-SR item score (1-5); n={al['n']}; "
            "percentile bootstrap CI",
        )
    )
    dr = analysis.headline["dropout_by_followup"]
    rows.append(
        _row(
            "Dropout by week 10 (%)",
            PAPER["dropout_week10_pct"],
            100 * dr["estimate"],
            100 * dr["ci_low"],
            100 * dr["ci_high"],
            "1 - Kaplan-Meier retention at week 10 (dropout = first missed assessment wave); "
            "log-log CI",
        )
    )
    return pd.DataFrame(rows, columns=COLUMNS)


def _fmt(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if float(value).is_integer() and abs(value) >= 10:
        return f"{int(value):,}"
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"


def to_markdown(table: pd.DataFrame, level: float = 0.95) -> str:
    """The table as GitHub Markdown: CI as one column, definitions last."""
    lines = [
        f"| measure | paper | reproduced | {round(100 * level)}% CI | definition |",
        "|---|---:|---:|---|---|",
    ]
    for r in table.itertuples(index=False):
        ci = "" if math.isnan(r.ci_low) else f"[{_fmt(r.ci_low)}, {_fmt(r.ci_high)}]"
        definition = r.definition.replace("|", "/")
        lines.append(
            f"| {r.measure} | {_fmt(r.paper_value)} | {_fmt(r.reproduced)} | {ci} | {definition} |"
        )
    note = f"\nPaper values: {PAPER_SOURCE}. Reproduced values: this workflow's analysis.\n"
    return "\n".join(lines) + "\n" + note
