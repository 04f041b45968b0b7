"""Figures of the analysis stage, each built from the stage's result tables (so notebooks can
redraw them from ``results/analysis/*.csv``). Every function returns a matplotlib Figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

CLASS_COLOURS = {
    "improving": "#1b9e77",
    "non_responder": "#d95f02",
    "rapid_improver": "#7570b3",
    "all": "#555555",
}
LABELS = {"phq9": "PHQ-9", "gad7": "GAD-7"}


def _colour(label: str) -> str:
    return CLASS_COLOURS.get(label, "#888888")


def trajectories(
    symptoms: pd.DataFrame,
    classes: pd.Series,
    class_trajectories: pd.DataFrame,
    k: int,
    max_people: int = 150,
    seed: int = 0,
) -> plt.Figure:
    """Individual PHQ-9 / GAD-7 trajectories coloured by modal class (a random subset), with
    each class's posterior-weighted mean and a 95% band (mean +/- 1.96 SE). ``classes``: modal
    class label by participant_id under the K-class model."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True)
    rng = np.random.default_rng(seed)
    ids = classes.index.to_numpy()
    shown = set(rng.choice(ids, size=min(max_people, len(ids)), replace=False))
    traj = class_trajectories.query("k == @k")
    for ax, outcome in zip(axes, ("phq9", "gad7"), strict=True):
        data = symptoms.loc[
            (symptoms["outcome"] == outcome) & symptoms["participant_id"].isin(shown)
        ]
        for pid, person in data.groupby("participant_id"):
            person = person.sort_values("week")
            ax.plot(
                person["week"], person["score"], color=_colour(classes[pid]), alpha=0.15, lw=0.7
            )
        for label, rows in traj.loc[traj["outcome"] == outcome].groupby("class"):
            rows = rows.sort_values("week")
            se = rows["observed_sd"] / np.sqrt(rows["weighted_n"].clip(lower=1))
            ax.fill_between(
                rows["week"],
                rows["observed_mean"] - 1.96 * se,
                rows["observed_mean"] + 1.96 * se,
                color=_colour(label),
                alpha=0.25,
            )
            share = (classes == label).mean()
            ax.plot(
                rows["week"],
                rows["observed_mean"],
                color=_colour(label),
                lw=2.5,
                marker="o",
                label=f"{label} ({share:.0%} modal)",
            )
        ax.set_title(f"{LABELS[outcome]} by trajectory class (K={k})")
        ax.set_xlabel("week")
        ax.set_ylabel(f"{LABELS[outcome]} total")
    axes[0].legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def effect_size_forest(effects: pd.DataFrame) -> plt.Figure:
    """Within-group d per measure: completers (baseline-SD d) and all available data."""
    sel = effects.loc[effects["statistic"].isin(["d_baseline_sd", "d_itt"])]
    measures = list(dict.fromkeys(sel["measure"]))
    fig, ax = plt.subplots(figsize=(7, 0.55 * len(measures) + 1.2))
    styles = {
        "d_baseline_sd": ("completers", -0.15, "o"),
        "d_itt": ("all data (MixedLM)", 0.15, "s"),
    }
    for stat, (label, offset, marker) in styles.items():
        rows = sel.loc[sel["statistic"] == stat].set_index("measure").reindex(measures)
        y = np.arange(len(measures)) + offset
        err = [rows["estimate"] - rows["ci_low"], rows["ci_high"] - rows["estimate"]]
        ax.errorbar(rows["estimate"], y, xerr=err, fmt=marker, capsize=3, label=label)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(np.arange(len(measures)), [LABELS.get(m, m) for m in measures])
    ax.invert_yaxis()
    ax.set_xlabel("Cohen's d, week 0 to week 10 (positive = improvement), 95% CI")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def bic_by_k(class_fit: pd.DataFrame) -> plt.Figure:
    """BIC and sample-size adjusted BIC by number of classes, with relative entropy."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(class_fit["k"], class_fit["bic"], marker="o", label="BIC")
    ax.plot(class_fit["k"], class_fit["sabic"], marker="s", ls="--", label="SABIC")
    chosen = class_fit.loc[class_fit["chosen"]]
    ax.scatter(chosen["k"], chosen["bic"], s=160, facecolors="none", edgecolors="red", zorder=3)
    ax.set_xlabel("number of classes K")
    ax.set_ylabel("information criterion (lower is better)")
    ax.set_xticks(class_fit["k"])
    twin = ax.twinx()
    twin.bar(class_fit["k"], class_fit["entropy"], alpha=0.15, color="grey", label="entropy")
    twin.set_ylim(0, 1)
    twin.set_ylabel("relative entropy")
    ax.set_zorder(twin.get_zorder() + 1)  # lines above the entropy bars
    ax.patch.set_visible(False)
    ax.legend(loc="upper center", fontsize=8)
    ax.set_title(f"Growth mixture: BIC chose K={int(chosen['k'].iloc[0])}")
    fig.tight_layout()
    return fig


def moderator_effects(mixed: pd.DataFrame) -> plt.Figure:
    """Difference in 10-week change per SD of each engagement / alliance moderator."""
    rows = mixed.loc[mixed["term"] == "t:x"].copy()
    rows["label"] = rows["outcome"].map(LABELS) + " x " + rows["predictor"]
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(rows) + 1.2))
    y = np.arange(len(rows))
    err = [rows["estimate"] - rows["ci_low"], rows["ci_high"] - rows["estimate"]]
    ax.errorbar(rows["estimate"], y, xerr=err, fmt="o", capsize=3)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(y, rows["label"])
    ax.invert_yaxis()
    ax.set_xlabel("change in 10-week symptom slope per SD of moderator (points), 95% CI")
    ax.set_title("MixedLM: engagement and week-6 alliance moderate change")
    fig.tight_layout()
    return fig


def retention_curves(curves: pd.DataFrame) -> plt.Figure:
    """Kaplan-Meier retention: overall, by class and by early-engagement tertile."""
    groupings = list(dict.fromkeys(curves["grouping"]))
    fig, axes = plt.subplots(1, len(groupings), figsize=(4.2 * len(groupings), 3.8), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, grouping in zip(axes, groupings, strict=True):
        for group, rows in curves.loc[curves["grouping"] == grouping].groupby("group"):
            rows = rows.sort_values("week")
            # repeat the last value half a week on, so the final step is visible
            week = np.append(rows["week"].to_numpy(), rows["week"].iloc[-1] + 0.5)
            cols = {c: np.append(rows[c].to_numpy(), rows[c].iloc[-1]) for c in rows}
            (line,) = ax.step(
                week, cols["retention"], where="post", label=group, color=CLASS_COLOURS.get(group)
            )
            ax.fill_between(
                week,
                cols["ci_low"],
                cols["ci_high"],
                step="post",
                alpha=0.15,
                color=line.get_color(),
            )
        ax.set_title(grouping.replace("_", " "))
        ax.set_xlabel("week")
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("still assessed (Kaplan-Meier)")
    fig.tight_layout()
    return fig


def recovery_plot(replications: pd.DataFrame, summary: pd.DataFrame) -> plt.Figure:
    """Estimate minus truth across replications for every recovered parameter (one panel per
    kind, each on its own scale), with the empirical coverage of the nominal 95% CIs."""
    kinds = list(dict.fromkeys(replications["kind"]))
    sizes = [replications.loc[replications["kind"] == k, "parameter"].nunique() for k in kinds]
    fig, axes = plt.subplots(
        len(kinds),
        1,
        figsize=(8, 0.42 * sum(sizes) + 1.2 * len(kinds)),
        gridspec_kw={"height_ratios": sizes},
    )
    cover = summary.set_index("parameter")["coverage"]
    for ax, kind in zip(np.atleast_1d(axes), kinds, strict=True):
        rows = replications.loc[replications["kind"] == kind]
        params = list(dict.fromkeys(rows["parameter"]))
        errors = [
            (
                rows.loc[rows["parameter"] == p, "estimate"]
                - rows.loc[rows["parameter"] == p, "truth"]
            )
            for p in params
        ]
        ax.boxplot([e.to_numpy() for e in errors], vert=False)
        ax.axvline(0, color="red", lw=0.8)
        ax.set_yticks(
            np.arange(1, len(params) + 1),
            [f"{p}  [cov {cover.get(p, np.nan):.2f}]" for p in params],
            fontsize=8,
        )
        ax.invert_yaxis()
        ax.set_title(kind, fontsize=9, loc="left")
    n = replications["replication"].nunique()
    np.atleast_1d(axes)[-1].set_xlabel(
        f"estimate - truth over {n} simulated pilots (coverage of nominal 95% CIs)"
    )
    fig.tight_layout()
    return fig
