"""From long-format trial tables to the frames the analyses use.

Works the same on the simulated pilot and on a real export (``mhai.pilot.trial.load_trial``):
only the shared trial columns are read.
"""

from __future__ import annotations

import pandas as pd

from mhai.pilot.trial import scale_totals

SYMPTOMS = ("phq9", "gad7")


def symptom_long(assessments: pd.DataFrame) -> pd.DataFrame:
    """Scale totals in long form: participant_id, week, outcome (phq9|gad7), score (float).
    Waves with missing items (NA totals) are left out."""
    totals = scale_totals(assessments)
    long = totals.melt(
        id_vars=["participant_id", "week"],
        value_vars=list(SYMPTOMS),
        var_name="outcome",
        value_name="score",
    )
    long["score"] = long["score"].astype(float)
    long["week"] = long["week"].astype(int)
    return long.dropna(subset=["score"]).reset_index(drop=True)


def social_long(social: pd.DataFrame) -> pd.DataFrame:
    """Social measures in the same long form (outcome = measure)."""
    out = social.rename(columns={"measure": "outcome"})[
        ["participant_id", "week", "outcome", "score"]
    ].copy()
    out["score"] = out["score"].astype(float)
    out["week"] = out["week"].astype(int)
    return out.dropna(subset=["score"]).reset_index(drop=True)


def wide(long: pd.DataFrame, outcome: str, ids, weeks) -> pd.DataFrame:
    """One outcome as a participant x week frame (NaN where unobserved)."""
    sel = long.loc[long["outcome"] == outcome]
    table = sel.pivot_table(index="participant_id", columns="week", values="score")
    return table.reindex(index=list(ids), columns=list(weeks)).astype(float)


def paired(long: pd.DataFrame, outcome: str, baseline: int, followup: int) -> pd.DataFrame:
    """People observed at both waves: columns pre, post."""
    w = wide(long, outcome, long["participant_id"].unique(), [baseline, followup])
    w.columns = ["pre", "post"]
    return w.dropna()


def engagement(sessions: pd.DataFrame, ids, early_weeks: int) -> pd.DataFrame:
    """Per person: total sessions, minutes and user words over the trial, and the same over
    weeks 1..``early_weeks``. People without sessions get zeros."""
    s = sessions.assign(_early=sessions["week"] <= early_weeks)
    agg = {"sessions": ("minutes", "size"), "minutes": ("minutes", "sum")}
    agg["user_words"] = ("user_words", "sum")
    total = s.groupby("participant_id").agg(**agg)
    early = s.loc[s["_early"]].groupby("participant_id").agg(**agg).add_prefix("early_")
    out = total.join(early, how="outer").reindex(list(ids)).fillna(0.0)
    return out.astype(float)


def alliance_mean(alliance: pd.DataFrame, week: int = 6) -> pd.Series:
    """Mean WAI-SR item score (1-5) per person at ``week``."""
    sel = alliance.loc[alliance["week"] == week]
    return sel.groupby("participant_id")["score"].mean().astype(float).rename("alliance")
