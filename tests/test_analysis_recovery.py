"""Parameter recovery of the effect-size and mixed-model estimators on the pilot generator.

Each estimator is compared with the truth of the quantity it estimates. A wrong estimand
shows up as a standardised error ``(estimate - truth) / SE`` whose mean sits away from zero:
with R replications its Monte Carlo SE is ``1 / sqrt(R)``, so an estimator biased by half a
standard error (about what dropping the engagement auxiliary does to the ITT d, or what a
completer d is off by against the population d) fails the ``3 / sqrt(R)`` bound. The full
R=50 check of every estimator, class models included, is ``benchmarks/bench_analysis.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mhai.analysis.recovery import completer_truth, replicate, summarise
from mhai.config import load_config

R = 24
N = 305


@pytest.fixture(scope="module")
def recovery(repo):
    config = load_config(repo / "config" / "config.yaml")
    params = config["pilot"]["cohort"]
    settings = config["analysis"] | {
        "recovery": config["analysis"]["recovery"] | {"bootstrap": 200}
    }
    completers = completer_truth(params, settings["followup_week"])

    def run(settings):
        frames = []
        for r in range(R):
            rows, _ = replicate(params, N, 9000 + r, settings, completers, classes=False)
            frames.append(pd.DataFrame(rows).assign(replication=r))
        reps = pd.concat(frames, ignore_index=True)
        se = (reps["ci_high"] - reps["ci_low"]) / (2 * 1.959964)
        return reps.assign(z=(reps["estimate"] - reps["truth"]) / se)

    no_aux = settings | {"mixed_models": settings["mixed_models"] | {"auxiliary": []}}
    return run(settings), run(no_aux)


def _by_parameter(reps: pd.DataFrame) -> pd.DataFrame:
    z = reps.groupby("parameter")["z"].agg(["mean", "std"])
    return z.join(summarise(reps.drop(columns="z")).set_index("parameter"))


def test_itt_and_slope_cover_their_population_estimands(recovery):
    table = _by_parameter(recovery[0])
    principled = [p for p in table.index if "(MixedLM)" in p or "d_itt" in p]
    assert len(principled) == 6  # d, improvement and linear trend, for PHQ-9 and GAD-7
    for p in principled:
        row = table.loc[p]
        assert abs(row["mean"]) < 3 / np.sqrt(R), p  # unbiased for its estimand
        assert 0.7 < row["std"] < 1.3, p  # the SE matches the sampling spread
        assert row["coverage"] >= 0.85, p
    # the linear trend's truth is the least-squares slope of the population means per 10 weeks
    trend = table.loc["phq9 mean linear trend per 10 weeks (MixedLM)"]
    assert -6 < trend["truth"] < -4


def test_completer_bias_is_an_estimand_gap_not_a_ci_failure(recovery):
    table = _by_parameter(recovery[0])
    for measure in ("phq9", "gad7"):
        for stat in ("d_baseline_sd", "d_z", "d_av"):
            name = f"{measure} {stat} (completers)"
            # against everyone enrolled (no dropout) completers overstate the effect ...
            assert table.loc[name, "mean"] > 3 / np.sqrt(R), name
            assert table.loc[name, "bias"] > 0.05, name
            # ... while against their own estimand the bootstrap CI is calibrated
            own = table.loc[f"{name} vs own estimand"]
            assert abs(own["mean"]) < 3 / np.sqrt(R), name
            assert own["coverage"] >= 0.85, name


def test_without_the_engagement_auxiliary_the_itt_d_is_biased(recovery):
    with_aux, without = (_by_parameter(r) for r in recovery)
    for measure in ("phq9", "gad7"):
        name = f"{measure} d_itt (all_available)"
        assert without.loc[name, "mean"] > 3 / np.sqrt(R), name
        assert without.loc[name, "bias"] > with_aux.loc[name, "bias"] + 0.03, name
