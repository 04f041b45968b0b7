"""Pilot cohort generator and trial tables: screening, items, missingness, calibration, schemas."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from mhai.config import load_config
from mhai.pilot.cohort import CLASSES, simulate_cohort
from mhai.pilot.trial import TABLES, load_trial, scale_totals, write_trial
from mhai.schemas import SchemaError

WEEKS = [0, 2, 4, 6, 10]


@pytest.fixture(scope="module")
def params():
    return load_config()["pilot"]["cohort"]


@pytest.fixture(scope="module")
def cohort(params):
    return simulate_cohort(params, 305, 11)


@pytest.fixture(scope="module")
def large(params):
    return simulate_cohort(params, 20000, 5)


def _trial_tables(cohort) -> dict[str, pd.DataFrame]:
    """Trial tables from a cohort, with a minimal sessions table (one row per planned session)."""
    plan = cohort.session_plan
    sessions = pd.DataFrame(
        {
            "session_id": [f"S{i}" for i in range(len(plan))],
            "participant_id": plan["participant_id"],
            "week": plan["week"],
            "minutes": plan["minutes"],
            "user_words": plan["user_words"],
            "n_turns": 1,
            "flagged": False,
            "pass2_decision": None,
            "escalated": False,
            "max_risk_score": 0.1,
            "pass1_p95_ms": 2.0,
        }
    )
    return {
        "participants": cohort.participants,
        "assessments": cohort.assessments,
        "sessions": sessions,
        "alliance": cohort.alliance,
        "social": cohort.social,
    }


def test_every_enrolled_participant_meets_the_screening_rule(cohort, params):
    totals = scale_totals(cohort.assessments)
    baseline = totals[totals["week"] == 0].set_index("participant_id")
    assert len(baseline) == 305 == len(cohort.participants)
    ok = (baseline["phq9"] >= params["screening"]["phq9_min"]) | (
        baseline["gad7"] >= params["screening"]["gad7_min"]
    )
    assert ok.all()
    screening = cohort.screening
    assert screening["screened"] == screening["enrolled"] + screening["screen_fails"]
    assert screening["screen_fails"] > 0  # screen fails are generated, not assumed away


def test_items_in_range_and_totals_are_item_sums(cohort):
    a = cohort.assessments
    assert a["score"].between(0, 3).all()
    assert set(a.loc[a["instrument"] == "PHQ-9", "item"]) == set(range(1, 10))
    assert set(a.loc[a["instrument"] == "GAD-7", "item"]) == set(range(1, 8))
    sums = a.groupby(["participant_id", "week", "instrument"])["score"].sum().unstack()
    totals = scale_totals(a).set_index(["participant_id", "week"])
    assert np.array_equal(
        totals["phq9"].to_numpy(float), sums.loc[totals.index, "PHQ-9"].to_numpy(float)
    )
    assert np.array_equal(
        totals["gad7"].to_numpy(float), sums.loc[totals.index, "GAD-7"].to_numpy(float)
    )
    assert totals["phq9"].between(0, 27).all() and totals["gad7"].between(0, 21).all()
    # floors and ceilings are reachable as on the real instruments
    assert totals["phq9"].min() <= 2 and totals["phq9"].max() >= 24
    assert cohort.alliance["score"].between(1, 5).all()
    assert cohort.alliance.groupby("participant_id").size().eq(12).all()


def test_missingness_after_dropout_is_monotone(cohort):
    seen = cohort.assessments.groupby("participant_id")["week"].unique()
    dropout = cohort.participants.set_index("participant_id")["dropout_week"]
    for pid, weeks in seen.items():
        weeks = sorted(int(w) for w in weeks)
        assert weeks == WEEKS[: len(weeks)], pid  # an unbroken prefix of the schedule
        expected = None if len(weeks) == len(WEEKS) else WEEKS[len(weeks)]
        assert (None if pd.isna(dropout[pid]) else int(dropout[pid])) == expected
    alliance_ids = set(cohort.alliance["participant_id"])
    at6 = set(cohort.assessments.loc[cohort.assessments["week"] == 6, "participant_id"])
    assert alliance_ids == at6
    social10 = set(cohort.social.loc[cohort.social["week"] == 10, "participant_id"])
    assert social10 == set(dropout[dropout.isna()].index)
    # sessions fade after the missed wave (post_dropout_activity < 1)
    eng = cohort.engagement.merge(cohort.participants[["participant_id", "dropout_week"]])
    early = eng[eng["dropout_week"].notna() & (eng["week"] <= 2)]["sessions"].mean()
    late = eng[(eng["dropout_week"] == 2) & (eng["week"] > 2)]["sessions"].mean()
    assert late < early


def test_class_and_dropout_shares_match_the_config_over_a_large_draw(large, params):
    n = len(large.participants)
    shares = large.participants["trajectory_class"].value_counts(normalize=True)
    for c in CLASSES:
        p = params["classes"]["shares"][c]
        assert abs(shares[c] - p) < 4 * np.sqrt(p * (1 - p) / n), c
    target = params["targets"]["dropout_by_week10"]
    dropped = large.participants["dropout_week"].notna().mean()
    # the intercept is solved on another draw: allow its Monte-Carlo error plus sampling error
    assert abs(dropped - target) < 0.02
    per_person = large.engagement["sessions"].sum() / n
    assert abs(per_person / (7493 / 305) - 1) < 0.05


def test_population_effect_sizes_and_alliance_are_calibrated(large, params):
    truth = large.truth
    for m in ("PHQ-9", "GAD-7"):
        assert abs(truth["cohens_d"][m] - params["targets"]["cohens_d"][m]) < 0.03
        trajectory = truth["class_trajectories"][m]
        # classes are ordered as named: rapid improvers end lowest, non-responders highest
        assert (
            trajectory["rapid_improver"][10]
            < trajectory["improving"][10]
            < trajectory["non_responder"][10]
        )
        assert trajectory["rapid_improver"][2] < trajectory["improving"][2]
    wai = large.alliance.groupby("participant_id")["score"].mean().mean()
    assert abs(wai - params["targets"]["alliance_mean"]) < 0.03


def test_mnar_keeps_the_dropout_share_but_changes_who_drops(params):
    mnar = copy.deepcopy(params)
    mnar["dropout"]["mechanism"] = "MNAR"
    mnar["dropout"]["mnar_symptom_coef"] = 1.0
    a = simulate_cohort(params, 8000, 3)
    b = simulate_cohort(mnar, 8000, 3)
    for c in (a, b):
        assert abs(c.participants["dropout_week"].notna().mean() - 0.525) < 0.03

    def completer_final(c):
        totals = scale_totals(c.assessments)
        return totals.loc[totals["week"] == 10, "phq9"].astype(float).mean()

    # under MNAR the sicker people leave, so completers look better at week 10
    assert completer_final(b) < completer_final(a) - 0.3


def test_same_seed_same_tables_other_seed_differs(params, cohort):
    again = simulate_cohort(params, 305, 11)
    for name in ("participants", "assessments", "alliance", "social", "engagement", "session_plan"):
        pd.testing.assert_frame_equal(getattr(cohort, name), getattr(again, name))
    other = simulate_cohort(params, 305, 12)
    assert not cohort.assessments.equals(other.assessments)


def test_trial_tables_round_trip(tmp_path, cohort):
    write_trial(_trial_tables(cohort), tmp_path)
    tables = load_trial(tmp_path)
    assert set(tables) == set(TABLES)
    assert len(tables["assessments"]) == len(cohort.assessments)


@pytest.mark.parametrize(
    ("table", "column", "bad_value", "needle"),
    [
        ("assessments", "score", 7, "maximum"),
        ("participants", "region", "usa", "does not match"),
        ("social", "measure", "wellbeing", "is not one of"),
    ],
)
def test_a_real_export_that_breaks_the_schema_names_file_column_and_row(
    tmp_path, cohort, table, column, bad_value, needle
):
    tables = _trial_tables(cohort)
    write_trial(tables, tmp_path)
    frame = tables[table].copy()
    frame[column] = frame[column].astype(object)
    frame.loc[4, column] = bad_value  # the fifth row
    frame.to_parquet(tmp_path / f"{table}.parquet", index=False)  # as a real export would
    with pytest.raises(SchemaError) as info:
        load_trial(tmp_path)
    message = str(info.value)
    assert f"{table}.parquet" in message and "row 5" in message and f"'{column}'" in message
    assert needle in message


def test_cross_table_errors_name_the_row(tmp_path, cohort):
    tables = _trial_tables(cohort)
    dropped = cohort.participants["dropout_week"].notna().to_numpy().nonzero()[0][0]
    pid = cohort.participants["participant_id"].iloc[dropped]
    week = int(cohort.participants["dropout_week"].iloc[dropped])
    extra = (
        cohort.assessments[cohort.assessments["participant_id"] == pid].iloc[[0]].assign(week=week)
    )
    tables["assessments"] = pd.concat([cohort.assessments, extra], ignore_index=True)
    with pytest.raises(SchemaError, match=r"assessments\.parquet: row \d+: field 'week'.*monotone"):
        write_trial(tables, tmp_path)
    tables = _trial_tables(cohort)
    alliance = tables["alliance"].copy()
    first = alliance["participant_id"] == alliance["participant_id"].iloc[0]
    alliance.loc[first, "participant_id"] = "P9999"
    tables["alliance"] = alliance
    with pytest.raises(SchemaError, match=r"alliance\.parquet: row 1: field 'participant_id'"):
        write_trial(tables, tmp_path)


def test_missing_table_and_column_are_reported(tmp_path, cohort):
    tables = _trial_tables(cohort)
    write_trial(tables, tmp_path)
    (tmp_path / "social.parquet").unlink()
    with pytest.raises(FileNotFoundError, match="social.parquet"):
        load_trial(tmp_path)
    tables["social"].drop(columns=["measure"]).to_parquet(tmp_path / "social.parquet")
    with pytest.raises(SchemaError, match=r"social\.parquet: missing column\(s\) \['measure'\]"):
        load_trial(tmp_path)


def test_trial_validate_cli(tmp_path, cohort, capsys):
    from mhai.cli import main

    write_trial(_trial_tables(cohort), tmp_path)
    assert main(["trial", "validate", str(tmp_path)]) == 0
    assert "305 participants" in capsys.readouterr().out
    bad = cohort.alliance.assign(score=cohort.alliance["score"].astype(int) + 5)
    bad.to_parquet(tmp_path / "alliance.parquet", index=False)
    assert main(["trial", "validate", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "alliance.parquet: row 1: field 'score'" in out
