"""Calibration check: the cohort generator's figures beside the paper's targets.

For each calibrated figure it reports the target (with its source), the value in the
simulated trial (one draw of ``n`` people: sampling noise included) and the value in a large
draw (``check_n`` people, another seed: the generator's own value). Population Cohen's d has
no dropout; completer d is what a naive analysis of the observed trial would give.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mhai.pilot.cohort import CLASSES, Cohort, cohens_d, simulate_cohort
from mhai.pilot.trial import scale_totals

PAPER = "paper (arXiv 2511.11689)"


def _completer_d(cohort: Cohort, column: str) -> float:
    totals = scale_totals(cohort.assessments)
    wide = totals.pivot(index="participant_id", columns="week", values=column).dropna(
        subset=[0, 10]
    )
    return cohens_d(wide[0].to_numpy(float), wide[10].to_numpy(float))


def figures(cohort: Cohort) -> dict[str, float]:
    """The calibrated figures as observed in one simulated cohort."""
    n = len(cohort.participants)
    shares = cohort.participants["trajectory_class"].value_counts(normalize=True)
    wai = cohort.alliance.groupby("participant_id")["score"].mean()
    return {
        **{f"class_share_{c}": float(shares.get(c, 0.0)) for c in CLASSES},
        "dropout_by_week10": float(cohort.participants["dropout_week"].notna().mean()),
        "sessions_per_participant": float(cohort.engagement["sessions"].sum() / n),
        "alliance_mean_week6": float(wai.mean()) if len(wai) else float("nan"),
        "screen_pass_rate": cohort.screening["enrolled"] / cohort.screening["screened"],
        "cohens_d_completers_phq9": _completer_d(cohort, "phq9"),
        "cohens_d_completers_gad7": _completer_d(cohort, "gad7"),
    }


def calibration_table(params: dict, cohort: Cohort, check_n: int, seed: int) -> pd.DataFrame:
    """Target vs generated for every calibrated figure (see module docstring)."""
    large = simulate_cohort(params, check_n, seed + 1)
    sample, big = figures(cohort), figures(large)
    targets = params["targets"]
    truth = cohort.truth
    rows = [
        *(
            (
                f"class_share_{c}",
                params["classes"]["shares"][c],
                PAPER,
                sample[f"class_share_{c}"],
                big[f"class_share_{c}"],
            )
            for c in CLASSES
        ),
        (
            "dropout_by_week10",
            targets["dropout_by_week10"],
            PAPER,
            sample["dropout_by_week10"],
            big["dropout_by_week10"],
        ),
        (
            "sessions_per_participant",
            targets["total_sessions"] / targets["sessions_per_n"],
            f"{PAPER}: 7,493 sessions / 305",
            sample["sessions_per_participant"],
            big["sessions_per_participant"],
        ),
        (
            "alliance_mean_week6",
            targets["alliance_mean"],
            PAPER,
            sample["alliance_mean_week6"],
            big["alliance_mean_week6"],
        ),
        (
            "cohens_d_population_phq9",
            targets["cohens_d"]["PHQ-9"],
            PAPER,
            np.nan,
            truth["cohens_d"]["PHQ-9"],
        ),
        (
            "cohens_d_population_gad7",
            targets["cohens_d"]["GAD-7"],
            PAPER,
            np.nan,
            truth["cohens_d"]["GAD-7"],
        ),
        (
            "cohens_d_completers_phq9",
            targets["cohens_d"]["PHQ-9"],
            f"{PAPER} (not calibrated)",
            sample["cohens_d_completers_phq9"],
            big["cohens_d_completers_phq9"],
        ),
        (
            "cohens_d_completers_gad7",
            targets["cohens_d"]["GAD-7"],
            f"{PAPER} (not calibrated)",
            sample["cohens_d_completers_gad7"],
            big["cohens_d_completers_gad7"],
        ),
        (
            "screen_pass_rate",
            np.nan,
            "not reported",
            sample["screen_pass_rate"],
            big["screen_pass_rate"],
        ),
    ]
    table = pd.DataFrame(
        rows, columns=["figure", "target", "source", "generated_trial", "generated_large"]
    )
    table["large_n"] = check_n
    table["abs_error_large"] = (table["generated_large"] - table["target"]).abs()
    return table
