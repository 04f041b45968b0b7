"""Figures of the simulated pilot: calibration, trajectories, engagement, guardrail flags."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from mhai.pilot.cohort import CLASSES, Cohort
from mhai.pilot.trial import scale_totals


def calibration_figure(table: pd.DataFrame):
    """Generated (trial and large draw) relative to target for each calibrated figure."""
    rows = table.dropna(subset=["target"])
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(rows) + 1.2))
    y = range(len(rows))
    ax.axvline(1.0, color="grey", lw=1)
    ax.scatter(rows["generated_trial"] / rows["target"], y, label="simulated trial", marker="o")
    ax.scatter(rows["generated_large"] / rows["target"], y, label="large draw", marker="x")
    ax.set_yticks(list(y), rows["figure"])
    ax.set_xlabel("generated / paper target")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Cohort calibration against the pilot paper")
    return fig


def trajectories_figure(cohort: Cohort):
    """Observed mean totals by class and week (points) beside the generating class means (lines)."""
    totals = scale_totals(cohort.assessments).merge(
        cohort.participants[["participant_id", "trajectory_class"]], on="participant_id"
    )
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharex=True)
    for ax, (col, instrument) in zip(axes, (("phq9", "PHQ-9"), ("gad7", "GAD-7")), strict=True):
        observed = totals.groupby(["trajectory_class", "week"])[col].mean().astype(float)
        for c in CLASSES:
            truth = cohort.truth["class_trajectories"][instrument][c]
            line = ax.plot(list(truth), list(truth.values()), label=f"{c} (truth)")[0]
            if c in observed.index.get_level_values(0):
                ax.plot(observed[c].index, observed[c].values, "o", color=line.get_color())
        ax.set_title(f"{instrument}: observed (points) vs generating means")
        ax.set_xlabel("week")
        ax.set_ylabel("total score")
    axes[0].legend(fontsize=8)
    return fig


def engagement_figure(cohort: Cohort):
    """Mean weekly sessions by class, and the share still completing assessments."""
    eng = cohort.engagement.merge(cohort.participants, on="participant_id")
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    eng.groupby(["week", "trajectory_class"])["sessions"].mean().unstack().plot(
        ax=axes[0], marker="o"
    )
    axes[0].set_ylabel("mean sessions per participant")
    axes[0].set_title("Weekly engagement by class")
    weeks = sorted(cohort.assessments["week"].unique())
    seen = cohort.assessments.groupby("week")["participant_id"].nunique().reindex(weeks)
    axes[1].step(weeks, seen / len(cohort.participants), where="post", marker="o")
    axes[1].set_ylim(0, 1.05)
    axes[1].set_xlabel("week")
    axes[1].set_ylabel("share assessed")
    axes[1].set_title("Retention (assessment completion)")
    return fig


def flags_figure(by_week: pd.DataFrame):
    """Flagged and escalated share of sessions per week."""
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(by_week["week"], by_week["flagged"] / by_week["sessions"], marker="o", label="flagged")
    ax.plot(
        by_week["week"], by_week["escalated"] / by_week["sessions"], marker="x", label="escalated"
    )
    ax.axhline(76 / 7493, color="grey", ls="--", lw=1, label="paper: 76 / 7,493")
    ax.set_xlabel("week")
    ax.set_ylabel("share of sessions")
    ax.set_title("Guardrail flags per week (simulated pilot)")
    ax.legend(fontsize=8)
    return fig
