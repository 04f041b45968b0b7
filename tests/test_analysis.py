"""Analysis methods on hand-computed examples and on data with planted truth.

The full parameter-recovery check of the shipped pipeline (R=50 simulated pilots: coverage of
every CI, K chosen, class-share error) is in ``benchmarks/bench_analysis.py``; here the coverage
machinery is checked on the completer d's with R=120 small MCAR trials.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from mhai.analysis import effect_sizes as es
from mhai.analysis.early_prediction import cross_validated_auc
from mhai.analysis.growth_mixture import fit_growth_mixture, select_k
from mhai.analysis.mixed_models import fit_mixedlm, moderator_models
from mhai.analysis.recovery import summarise
from mhai.analysis.retention import km_curve

WEEKS = np.array([0, 2, 4, 6, 10])
PLANTED = {  # class mean trajectories (PHQ-9-like) at WEEKS
    "improving": [15.0, 13.0, 11.0, 9.0, 6.0],
    "non_responder": [15.0, 14.6, 14.2, 14.0, 13.6],
    "rapid_improver": [15.5, 7.0, 5.0, 4.5, 4.0],
}
SHARES = (0.43, 0.47, 0.10)


def planted_classes(n, seed, tau=2.5, sigma=1.5, dropout=0.2):
    """Scores with planted classes, a random intercept and monotone dropout that depends on
    the class (non-responders leave more). Returns (Y (n, T) with NaN, true labels)."""
    rng = np.random.default_rng(seed)
    labels = np.array(list(PLANTED))
    cls = rng.choice(3, size=n, p=SHARES)
    mu = np.array([PLANTED[c] for c in labels])
    Y = mu[cls] + rng.normal(0, tau, (n, 1)) + rng.normal(0, sigma, (n, len(WEEKS)))
    hazard = dropout / 4 * np.array([0.7, 1.5, 0.7])[cls]
    for i in range(n):
        for w in range(1, len(WEEKS)):
            if rng.random() < hazard[i]:
                Y[i, w:] = np.nan
                break
    return Y, labels[cls]


# ----------------------------------------------------------------------------- effect sizes
def test_cohens_d_matches_hand_computation():
    pre = np.array([10, 12, 14, 16, 18.0])
    post = np.array([6, 9, 9, 13, 13.0])
    # improvement = pre - post = [4, 3, 5, 3, 5]: mean 4, SD 1; SD(pre) = sqrt(10); SD(post) = 3
    d = es.d_batch(pre, post, sign=-1.0)
    assert d["d_baseline_sd"] == pytest.approx(4 / np.sqrt(10))
    assert d["d_z"] == pytest.approx(4.0)
    assert d["d_av"] == pytest.approx(4 / ((np.sqrt(10) + 3) / 2))
    # a measure where higher is better flips the sign convention
    up = es.d_batch(post, pre, sign=1.0)
    assert up["d_baseline_sd"] == pytest.approx(4 / 3)


def test_bootstrap_ci_matches_exact_bootstrap_distribution():
    """n=4: all 4^4 resamples enumerated by hand give the exact percentile interval."""
    pre = np.array([10.0, 12.0, 15.0, 19.0])
    post = np.array([7.0, 10.0, 10.0, 16.0])
    exact = []
    for idx in itertools.product(range(4), repeat=4):
        a, b = pre[list(idx)], post[list(idx)]
        sd = a.std(ddof=1)
        if sd > 0:
            exact.append((a - b).mean() / sd)
    lo, hi = np.quantile(exact, [0.025, 0.975])
    out = es.completer_d(pre, post, "phq9", n_boot=40000, seed=1)["d_baseline_sd"]
    assert out["estimate"] == pytest.approx(3.25 / pre.std(ddof=1))  # changes 3, 2, 5, 3
    assert out["ci_low"] == pytest.approx(lo, abs=0.05)
    assert out["ci_high"] == pytest.approx(hi, abs=0.05)


def test_bootstrap_ci_width_matches_normal_theory():
    rng = np.random.default_rng(3)
    pre = rng.normal(15, 4, 600)
    post = pre - rng.normal(3, 4, 600)
    out = es.completer_d(pre, post, "phq9", n_boot=3000, seed=2)["d_z"]
    d = out["estimate"]
    se = np.sqrt(1 / 600 + d**2 / (2 * 600))  # large-sample SE of the paired d_z
    assert (out["ci_high"] - out["ci_low"]) / (2 * 1.96) == pytest.approx(se, rel=0.12)


def test_completer_ci_coverage_is_nominal():
    """Coverage machinery: 120 small MCAR trials with known population d_z = 0.75."""
    rows = []
    for r in range(120):
        rng = np.random.default_rng(1000 + r)
        pre = rng.normal(15, 4, 80)
        post = pre - rng.normal(3, 4, 80)
        ci = es.completer_d(pre, post, "phq9", n_boot=400, seed=r)["d_z"]
        rows.append(
            {"replication": r, "kind": "effect size", "parameter": "d_z", "truth": 0.75}
            | {k: ci[k] for k in ("ci_low", "ci_high")}
            | {"estimate": ci["estimate"], "k_chosen": 3, "entropy_k3": 1.0}
            | {"accuracy_all": 1.0, "accuracy_3plus_waves": 1.0}
        )
    summary = summarise(pd.DataFrame(rows)).set_index("parameter")
    assert 0.85 <= summary.loc["d_z", "coverage"] <= 0.99
    assert abs(summary.loc["d_z", "bias"]) < 0.05


def test_wilson_interval_and_clinical_rates():
    lo, hi = es.wilson_ci(8, 10)
    assert (lo, hi) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    pre = np.array([20, 10, 12, 8, 0.0])
    post = np.array([9, 4, 11, 3, 0.0])
    rates = es.clinical_rates(pre, post, mcid=5, remission_below=5)
    assert rates["response"]["estimate"] == pytest.approx(3 / 5)  # 20->9, 10->4, 8->3
    assert rates["remission"]["estimate"] == pytest.approx(3 / 5)  # 4, 3, 0
    assert rates["meaningful_change"]["estimate"] == pytest.approx(3 / 5)  # 11, 6, 5 points


def test_itt_d_uses_all_available_data():
    """Dropout that depends on the observed week-2 score biases completers, not the MixedLM."""
    rng = np.random.default_rng(7)
    n = 400
    base = rng.normal(15, 3, n)
    change = rng.normal(-4, 3, n)
    rows = []
    for i in range(n):
        for w in WEEKS:
            y = base[i] + change[i] * w / 10 + rng.normal(0, 1)
            rows.append({"participant_id": f"p{i}", "week": int(w), "score": y})
    full = pd.DataFrame(rows)
    wide = full.pivot(index="participant_id", columns="week", values="score")
    full_d = es.d_batch(wide[0].to_numpy(), wide[10].to_numpy(), -1.0)["d_baseline_sd"]
    early = wide[2] - wide[0]
    leavers = early[early > early.quantile(0.6)].index  # the least improved leave after week 2
    long = full.loc[~(full["participant_id"].isin(leavers) & (full["week"] > 2))]
    itt = es.itt_d(long, "phq9", followup=10)
    assert itt["converged"]
    assert itt["estimate"] == pytest.approx(full_d, abs=0.05)  # what the full data would say
    assert itt["ci_low"] < full_d < itt["ci_high"]
    kept = long.pivot(index="participant_id", columns="week", values="score").dropna()
    completer = es.d_batch(kept[0].to_numpy(), kept[10].to_numpy(), -1.0)["d_baseline_sd"]
    assert completer > itt["ci_high"]  # completers overstate the effect here


# ----------------------------------------------------------------------------- classes
@pytest.fixture(scope="module")
def planted_fit():
    Y, truth = planted_classes(1000, seed=5)
    fits = [
        fit_growth_mixture(Y, WEEKS, k, seed=3, n_starts=8, covariance=(k == 3))
        for k in (1, 2, 3, 4)
    ]
    return Y, truth, fits


def test_growth_mixture_recovers_planted_classes(planted_fit):
    Y, truth, fits = planted_fit
    chosen, rows = select_k(fits)
    assert chosen.k == 3
    assert sum(r["chosen"] for r in rows) == 1
    fit = fits[2]
    assert fit.labels == ["improving", "non_responder", "rapid_improver"]
    for label, share in zip(fit.labels, fit.shares, strict=True):
        assert abs(share - (truth == label).mean()) < 0.05
    accuracy = (np.asarray(fit.labels)[fit.assign()] == truth).mean()
    assert accuracy > 0.85
    # Wald CIs from the sandwich SEs cover the sample shares
    for c, label in enumerate(fit.labels):
        assert abs(fit.shares[c] - (truth == label).mean()) < 2.5 * fit.share_se[c]
    # model-implied week-10 change of each class within 1 point of the planted change
    mean, _ = fit.trajectory()
    for c, label in enumerate(fit.labels):
        planted = PLANTED[label][-1] - PLANTED[label][0]
        assert mean[c, 0, -1] == pytest.approx(planted, abs=1.0)


def test_stepmix_cross_check_on_the_same_draw(planted_fit):
    """Second method: stepmix latent profile analysis (FIML for missing waves) on the same
    change scores broadly agrees with the growth mixture, which is the more accurate."""
    from stepmix.stepmix import StepMix

    Y, truth, fits = planted_fit
    em = fits[2].assign()
    change = Y[:, 1:] - Y[:, :1]
    model = StepMix(
        n_components=3,
        measurement="gaussian_diag_nan",
        n_init=3,
        progress_bar=0,
        random_state=1,
        verbose=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(change)
    lpa = model.predict(change)
    assert adjusted_rand_score(em, lpa) > 0.4
    assert adjusted_rand_score(truth, em) > adjusted_rand_score(truth, lpa)


def test_people_without_follow_up_get_the_class_shares(planted_fit):
    Y, _, fits = planted_fit
    only_baseline = np.isnan(Y[:, 1:]).all(1)
    assert only_baseline.sum() > 5
    fit = fits[2]
    assert np.allclose(fit.posterior[only_baseline], fit.shares)
    assert not fit.fitted[only_baseline].any()
    proba = fit.predict_proba(Y[:50])
    assert np.allclose(proba, fit.posterior[:50])
    # with the dropout pattern as a class indicator, leaving early is informative
    drop = fit_growth_mixture(Y, WEEKS, 3, seed=3, n_starts=4, dropout=True, covariance=False)
    assert drop.fitted.all()
    nr = drop.labels.index("non_responder")
    assert drop.posterior[only_baseline, nr].mean() > drop.shares[nr]


def test_random_scale_recovers_within_class_heterogeneity():
    rng = np.random.default_rng(11)
    n = 800
    change = np.array([0, -3.0, -5.0, -6.0, -8.0])
    scale = rng.normal(0, 0.4, n)
    Y = 15 + rng.normal(0, 2.5, (n, 1)) + change * (1 + scale[:, None]) + rng.normal(0, 1, (n, 5))
    fit = fit_growth_mixture(Y, WEEKS, 1, n_starts=2, random_scale=True, dropout=False)
    assert fit.nu[0, 0] == pytest.approx(0.16, abs=0.05)
    plain = fit_growth_mixture(Y, WEEKS, 1, n_starts=2, random_scale=False, dropout=False)
    assert fit.loglik > plain.loglik + 20


# ----------------------------------------------------------------------------- mixed models
def test_mixedlm_recovers_a_planted_slope_moderation():
    rng = np.random.default_rng(2)
    n = 250
    x = rng.normal(0, 1, n)
    slope = -4.0 - 1.5 * x + rng.normal(0, 1.0, n)  # per 10 weeks; more x, more improvement
    level = 15 + rng.normal(0, 3, n)
    rows = []
    for i in range(n):
        for w in WEEKS[: rng.integers(2, 6)]:
            rows.append(
                {
                    "participant_id": f"p{i}",
                    "week": int(w),
                    "outcome": "phq9",
                    "score": level[i] + slope[i] * w / 10 + rng.normal(0, 1.5),
                }
            )
    long = pd.DataFrame(rows)
    moderators = pd.DataFrame({"engagement": x}, index=[f"p{i}" for i in range(n)])
    table = moderator_models(long, moderators, outcomes=["phq9"]).set_index("term")
    truth = -1.5 * x.std(ddof=1)  # per SD of the moderator
    row = table.loc["t:x"]
    assert bool(row["converged"])
    assert row["ci_low"] < truth < row["ci_high"]
    assert row["ci_high"] < 0


def test_warm_start_reaches_the_statsmodels_optimum():
    """``reml_start`` (pattern-grouped REML) only moves statsmodels' starting point: the
    estimates and standard errors are those of a cold statsmodels fit."""
    rng = np.random.default_rng(8)
    n = 150
    rows = []
    for i in range(n):
        level, slope = 15 + rng.normal(0, 3), -4 + rng.normal(0, 2)
        for w in WEEKS[: rng.integers(1, 6)]:
            y = level + slope * w / 10 + rng.normal(0, 1.5)
            rows.append({"participant_id": f"p{i}", "week": int(w), "score": y})
    long = pd.DataFrame(rows).assign(t=lambda d: d["week"] / 10)
    cold = fit_mixedlm("score ~ C(week)", long, warm_start=False)
    warm = fit_mixedlm("score ~ C(week)", long)
    assert cold.converged and warm.converged
    np.testing.assert_allclose(warm.fe_params, cold.fe_params, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(warm.bse_fe, cold.bse_fe, rtol=1e-3)


def test_a_warm_start_that_does_not_converge_is_refitted_cold(monkeypatch):
    """A fit from ``reml_start`` that statsmodels reports as not converged (as a start on the
    boundary of the covariance space can be, depending on the machine's float kernels) is
    redone from statsmodels' own start and says so in its warnings."""
    from statsmodels.regression.mixed_linear_model import MixedLM

    rng = np.random.default_rng(8)
    rows = [
        {"participant_id": f"p{i}", "week": int(w), "score": 15 - 4 * w / 10 + rng.normal(0, 2)}
        for i in range(80)
        for w in WEEKS[: rng.integers(2, 6)]
    ]
    long = pd.DataFrame(rows).assign(t=lambda d: d["week"] / 10)
    fit = MixedLM.fit

    def warm_fits_fail(self, *args, start_params=None, **kwargs):
        result = fit(self, *args, start_params=start_params, **kwargs)
        if start_params is not None:
            result.converged = False
        return result

    monkeypatch.setattr(MixedLM, "fit", warm_fits_fail)
    warm = fit_mixedlm("score ~ t", long)
    cold = fit_mixedlm("score ~ t", long, warm_start=False)
    assert warm.converged and "refitted from statsmodels' start" in warm.warnings
    np.testing.assert_allclose(warm.fe_params, cold.fe_params)


def test_linear_trend_weights_give_the_least_squares_slope():
    means = np.array([15.0, 12.0, 10.5, 10.0, 9.0])
    weights = es.linear_trend_weights(WEEKS)
    assert 0 not in weights
    trend = sum(c * (means[list(WEEKS).index(w)] - means[0]) for w, c in weights.items())
    assert trend == pytest.approx(np.polyfit(WEEKS / 10, means, 1)[0])


# ----------------------------------------------------------------------------- prediction
def test_cross_validated_auc_detects_signal_and_its_absence():
    rng = np.random.default_rng(4)
    n = 400
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"])
    y = pd.Series(rng.random(n) < 1 / (1 + np.exp(-2.0 * X["a"])), index=X.index)
    out = cross_validated_auc(X, y, folds=5, n_boot=300, seed=1)
    assert out["auc"] > 0.75 and out["ci_low"] > 0.7
    noise = pd.Series(rng.random(n) < 0.3, index=X.index)
    null = cross_validated_auc(X, noise, folds=5, n_boot=300, seed=1)
    assert null["ci_low"] < 0.5 + 0.05 and null["auc"] < 0.62


def test_kaplan_meier_matches_hand_computation():
    time = np.array([2, 2, 4, 10, 10, 10, 10, 10, 10, 10.0])
    event = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 0])
    curve = km_curve(time, event, [0, 2, 4, 6, 10]).set_index("week")
    assert curve["retention"].tolist() == pytest.approx([1.0, 0.8, 0.7, 0.7, 0.7])
    assert curve.loc[4, "ci_low"] < 0.7 < curve.loc[4, "ci_high"]
