"""A generative model of the 10-week pilot cohort, calibrated to the paper's reported figures.

Each screened person has a latent severity per instrument (PHQ-9, GAD-7):

    theta_m(t) = mu_m + u_m + k_m * change_c(t) * (1 + s) + e_m(t)

with a person-level random intercept ``u`` (correlated across instruments), a person-level
random effect ``s`` on the change of the trajectory class ``c`` (correlated with alliance), a
wave-level occasion noise ``e`` and a per-instrument scale ``k_m``. Item scores (0-3) come from
a graded response model, so totals have the floors, ceilings and skew of the real instruments.
Week 0 is the screening assessment: people meeting neither PHQ-9 >= 10 nor GAD-7 >= 10 are
screen fails (counted, excluded). Weekly sessions are Poisson around a person's engagement
propensity (correlated with alliance, shifted by class); dropout is a discrete hazard at each
assessment wave driven by recent sessions and class (MAR), plus the unobserved current symptom
when ``dropout.mechanism`` is ``MNAR``.

Four scalars are solved on a large calibration draw (common random numbers, cached per
parameter set) so the defaults hit the paper's figures: the change scales ``k_m`` (population
Cohen's d), the dropout intercept (share dropped by week 10), the session-rate intercept (total
sessions per participant) and the WAI-SR location (week-6 alliance mean). ``truth`` records them.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from mhai.schemas import read_parquet, write_parquet

INSTRUMENTS = ("PHQ-9", "GAD-7")
N_ITEMS = {"PHQ-9": 9, "GAD-7": 7}
CLASSES = ("improving", "non_responder", "rapid_improver")
SOCIAL_MEASURES = (
    "loneliness",
    "social_support",
    "social_interaction",
    "hope",
    "behavioral_activation",
)
WAI_ITEMS = 12
ENGAGEMENT_WEEKS = np.arange(1, 11)
COHENS_D_DEFINITION = (
    "(mean week 0 - mean week 10) / SD of week-0 totals (ddof=1), all enrolled people, "
    "no dropout (d_baseline_sd); cohens_d_z divides by the SD of the changes, cohens_d_av by "
    "the mean of the two SDs"
)


@dataclass
class Cohort:
    """A simulated cohort: trial tables, engagement, screening counts and the generating truth.

    ``session_plan`` has one row per session (participant_id, week, session_index, minutes,
    user_words); ``engagement`` is its weekly sum. ``states`` has the expected PHQ-9/GAD-7
    totals per participant and week 0..10 (interpolated latent severity) for the personas.
    """

    participants: pd.DataFrame
    assessments: pd.DataFrame
    alliance: pd.DataFrame
    social: pd.DataFrame
    engagement: pd.DataFrame
    session_plan: pd.DataFrame
    states: pd.DataFrame
    screening: dict[str, int]
    truth: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------- item models
def grm_sample(theta: np.ndarray, a: float, locations, steps, uniforms: np.ndarray) -> np.ndarray:
    """Graded-response item scores 0..len(steps) for latent ``theta`` (shape ``[...]``).

    ``uniforms`` has shape ``theta.shape + (n_items,)``; score = number of category
    thresholds whose exceedance probability is above the uniform draw.
    """
    thresholds = np.asarray(locations)[:, None] + np.asarray(steps)[None, :]  # items x steps
    probs = expit(a * (theta[..., None, None] - thresholds))  # ... x items x steps
    return (uniforms[..., None] < probs).sum(axis=-1)


def grm_expected_total(theta: np.ndarray, a: float, locations, steps) -> np.ndarray:
    """Expected total score (sum over items of expected category) for latent ``theta``."""
    thresholds = np.asarray(locations)[:, None] + np.asarray(steps)[None, :]
    return expit(a * (theta[..., None, None] - thresholds)).sum(axis=(-1, -2))


def poisson_quantile(uniforms: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """Poisson inverse CDF at ``uniforms`` (same shape as ``rates``), vectorized."""
    u = uniforms.ravel()
    lam = np.broadcast_to(rates, uniforms.shape).ravel()
    counts = np.zeros(u.shape, dtype=int)
    idx = np.arange(u.size)
    term = np.exp(-lam)
    cdf = term.copy()
    k = 0
    while idx.size:
        keep = u[idx] > cdf
        idx, term, cdf = idx[keep], term[keep], cdf[keep]
        counts[idx] += 1
        k += 1
        term = term * lam[idx] / k
        cdf = cdf + term
    return counts.reshape(uniforms.shape)


def cohens_d(before: np.ndarray, after: np.ndarray) -> float:
    """Within-group d: mean improvement over the SD of the baseline scores (ddof=1)."""
    return float((before.mean() - after.mean()) / before.std(ddof=1))


# ----------------------------------------------------------------------------- latent draws
def _screen(params: dict, n: int, rng: np.random.Generator) -> dict[str, Any]:
    """Draw screened people in batches until ``n`` meet the inclusion rule."""
    sym = params["symptoms"]
    screen = params["screening"]
    mu = np.array([sym["population_mean"][m] for m in INSTRUMENTS])
    cov_u = _cov(sym["intercept_sd"], sym["intercept_corr"])
    cov_e = _cov(sym["occasion_sd"], sym["occasion_corr"])
    kept: dict[str, list] = {"u": [], "e0": [], "items0": []}
    screened = enrolled = 0
    batch = max(64, 2 * n)
    while enrolled < n:
        u = rng.multivariate_normal(np.zeros(2), cov_u, size=batch)
        e0 = rng.multivariate_normal(np.zeros(2), cov_e, size=batch)
        unif = rng.random((batch, sum(N_ITEMS.values())))
        theta0 = mu + u + e0
        items = _items(params, theta0, unif)
        passed = (items["PHQ-9"].sum(1) >= screen["phq9_min"]) | (
            items["GAD-7"].sum(1) >= screen["gad7_min"]
        )
        order = np.flatnonzero(passed)[: n - enrolled]
        # people are screened in order: everyone up to the last one needed counts as screened
        screened += batch if enrolled + passed.sum() < n else int(order[-1]) + 1
        enrolled += len(order)
        kept["u"].append(u[order])
        kept["e0"].append(e0[order])
        kept["items0"].append(unif[order])
    return {
        "u": np.concatenate(kept["u"]),
        "e0": np.concatenate(kept["e0"]),
        "unif0": np.concatenate(kept["items0"]),
        "screened": screened,
    }


def _cov(sd: float, corr: float) -> np.ndarray:
    return sd**2 * np.array([[1.0, corr], [corr, 1.0]])


def _items(params: dict, theta: np.ndarray, uniforms: np.ndarray) -> dict[str, np.ndarray]:
    """Item scores per instrument for ``theta[..., 2]`` and uniforms ``[..., 16]``."""
    sym = params["symptoms"]
    out, start = {}, 0
    for j, m in enumerate(INSTRUMENTS):
        stop = start + N_ITEMS[m]
        out[m] = grm_sample(
            theta[..., j],
            sym["discrimination"][m],
            sym["item_location"][m],
            sym["category_steps"],
            uniforms[..., start:stop],
        )
        start = stop
    return out


def _draw(params: dict, n: int, seed: int) -> dict[str, Any]:
    """Every random quantity of ``n`` enrolled people (nothing depends on solved scalars)."""
    rng = np.random.default_rng(seed)
    sym, eng = params["symptoms"], params["engagement"]
    base = _screen(params, n, rng)
    shares = params["classes"]["shares"]
    cls = rng.choice(len(CLASSES), size=n, p=[shares[c] for c in CLASSES])
    al = params["alliance"]
    alliance = rng.standard_normal(n) + np.array([al["class_shift"][c] for c in CLASSES])[cls]
    rho_e = eng["alliance_corr"]
    propensity = rho_e * alliance + np.sqrt(1 - rho_e**2) * rng.standard_normal(n)
    rho_s = sym["slope_alliance_corr"]
    slope = sym["slope_sd"] * (rho_s * alliance + np.sqrt(1 - rho_s**2) * rng.standard_normal(n))
    n_waves = len(params["weeks"])
    cov_e = _cov(sym["occasion_sd"], sym["occasion_corr"])
    occasion = rng.multivariate_normal(np.zeros(2), cov_e, size=(n, n_waves - 1))
    return {
        **base,
        "cls": cls,
        "alliance": alliance,
        "propensity": propensity,
        "slope": slope,
        "occasion": np.concatenate([base["e0"][:, None, :], occasion], axis=1),  # n x waves x 2
        "unif_items": np.concatenate(
            [base["unif0"][:, None, :], rng.random((n, n_waves - 1, sum(N_ITEMS.values())))],
            axis=1,
        ),
        "unif_sessions": rng.random((n, len(ENGAGEMENT_WEEKS))),
        "unif_dropout": rng.random((n, n_waves - 1)),
        "unif_wai": rng.random((n, WAI_ITEMS)),
        "z_social": rng.standard_normal((n, len(SOCIAL_MEASURES), 2)),
        "z_minutes": rng.standard_normal(n),
        "age": rng.standard_normal(n),
        "unif_demo": rng.random((n, 2)),
        "rng": rng,
    }


def _theta(params: dict, draw: dict, scale: dict[str, float]) -> np.ndarray:
    """Latent severity, shape n x waves x 2 (instrument)."""
    sym = params["symptoms"]
    mu = np.array([sym["population_mean"][m] for m in INSTRUMENTS])
    change = np.array([params["classes"]["change"][c] for c in CLASSES])[draw["cls"]]  # n x waves
    k = np.array([scale[m] for m in INSTRUMENTS])
    trend = change[:, :, None] * (1 + draw["slope"])[:, None, None] * k[None, None, :]
    return mu + draw["u"][:, None, :] + trend + draw["occasion"]


def _sessions(params: dict, draw: dict, intercept: float, multiplier: np.ndarray) -> np.ndarray:
    """Weekly session counts, n x 10 (Poisson inverse CDF on fixed uniforms)."""
    eng = params["engagement"]
    shift = np.array([eng["class_shift"][c] for c in CLASSES])[draw["cls"]]
    log_rate = (
        intercept
        + shift[:, None]
        + eng["propensity_sd"] * draw["propensity"][:, None]
        + eng["weekly_decay"] * (ENGAGEMENT_WEEKS - 1)[None, :]
    )
    return poisson_quantile(draw["unif_sessions"], np.exp(log_rate) * multiplier)


def _dropout(params: dict, draw: dict, sessions: np.ndarray, theta: np.ndarray, intercept: float):
    """Index of the first missed wave (1..waves-1) or 0 for none, from discrete hazards."""
    dp = params["dropout"]
    weeks = params["weeks"]
    cls_eff = np.array([dp["class_effect"][c] for c in CLASSES])[draw["cls"]]
    mnar = dp["mechanism"] == "MNAR"
    dropped = np.zeros(len(sessions), dtype=int)
    for w in range(1, len(weeks)):
        interval = sessions[:, weeks[w - 1] : weeks[w]]  # weeks prev+1 .. w (1-based columns)
        logit = (
            intercept
            + dp["wave_effect"][w - 1]
            + cls_eff
            + dp["engagement_coef"] * np.log1p(interval.mean(axis=1))
        )
        if mnar:
            current = theta[:, w, 0] - params["symptoms"]["population_mean"]["PHQ-9"]
            logit = logit + dp["mnar_symptom_coef"] * current
        drop_now = (dropped == 0) & (draw["unif_dropout"][:, w - 1] < expit(logit))
        dropped[drop_now] = w
    return dropped


def _activity(params: dict, dropped: np.ndarray) -> np.ndarray:
    """Session-rate multiplier per week: reduced after the missed wave's week."""
    weeks = np.asarray(params["weeks"])
    drop_week = np.where(dropped > 0, weeks[dropped], 99)
    after = ENGAGEMENT_WEEKS[None, :] > drop_week[:, None]
    return np.where(after, params["engagement"]["post_dropout_activity"], 1.0)


def _engagement(params: dict, draw: dict, theta: np.ndarray, solved: dict):
    """Sessions (n x 10) and dropout wave index (n) given the solved intercepts."""
    potential = _sessions(params, draw, solved["session_intercept"], 1.0)
    dropped = _dropout(params, draw, potential, theta, solved["dropout_intercept"])
    sessions = _sessions(params, draw, solved["session_intercept"], _activity(params, dropped))
    return sessions, dropped


def _wai(params: dict, draw: dict, location: float) -> np.ndarray:
    """WAI-SR item scores 1..5, n x 12."""
    al = params["alliance"]
    locs = np.full(WAI_ITEMS, location)
    scores = grm_sample(
        draw["alliance"], al["discrimination"], locs, al["category_steps"], draw["unif_wai"]
    )
    return scores + 1


# ----------------------------------------------------------------------------- calibration
def _bisect(fn, target: float, lo: float, hi: float, iters: int = 40) -> float:
    """Root of the increasing function ``fn(x) - target`` on [lo, hi]."""
    for _ in range(iters):
        mid = (lo + hi) / 2
        if fn(mid) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _week_index(params: dict, week: int) -> int:
    return list(params["weeks"]).index(week)


def _solve_scales(params: dict, draw: dict) -> dict[str, float]:
    """Per-instrument change scale giving the target population d (no dropout)."""
    sym = params["symptoms"]
    last = _week_index(params, 10)
    theta0 = _theta(params, draw, dict.fromkeys(INSTRUMENTS, 0.0))
    scale, start = {}, 0
    for j, m in enumerate(INSTRUMENTS):
        cols = slice(start, start + N_ITEMS[m])
        start += N_ITEMS[m]
        item_args = (sym["discrimination"][m], sym["item_location"][m], sym["category_steps"])
        before = grm_sample(theta0[:, 0, j], *item_args, draw["unif_items"][:, 0, cols]).sum(1)
        change = (
            _theta(params, draw, dict.fromkeys(INSTRUMENTS, 1.0))[:, last, j] - theta0[:, last, j]
        )

        def d_of(k, j=j, cols=cols, before=before, change=change, item_args=item_args):
            theta = theta0[:, last, j] + k * change
            after = grm_sample(theta, *item_args, draw["unif_items"][:, last, cols]).sum(1)
            return cohens_d(before, after)

        scale[m] = _bisect(d_of, params["targets"]["cohens_d"][m], 0.0, 6.0, iters=25)
    return scale


def _solve(params: dict) -> dict[str, Any]:
    """Solve the four calibrated scalars on the calibration draw (see module docstring)."""
    cal = params["calibration"]
    targets = params["targets"]
    draw = _draw(params, cal["n"], cal["seed"])
    scale = _solve_scales(params, draw)
    theta = _theta(params, draw, scale)
    per_person = targets["total_sessions"] / targets["sessions_per_n"]
    solved = {"session_intercept": 0.0, "dropout_intercept": 0.0}
    for _ in range(8):
        potential = _sessions(params, draw, solved["session_intercept"], 1.0)

        def dropped_share(b, potential=potential):
            return float((_dropout(params, draw, potential, theta, b) > 0).mean())

        solved["dropout_intercept"] = _bisect(dropped_share, targets["dropout_by_week10"], -12, 8)
        sessions, _ = _engagement(params, draw, theta, solved)
        step = np.log(per_person / sessions.sum(1).mean())
        solved["session_intercept"] += float(step)
        if abs(step) < 1e-3:
            break
    _, dropped = _engagement(params, draw, theta, solved)
    seen6 = (dropped == 0) | (dropped > _week_index(params, 6))

    def wai_mean(loc):
        return float(-_wai(params, draw, loc)[seen6].mean())

    location = _bisect(wai_mean, -targets["alliance_mean"], -6, 6)
    return {"change_scale": scale, **solved, "alliance_location": location}


@lru_cache(maxsize=16)
def _solve_cached(key: str) -> dict[str, Any]:
    return _solve(json.loads(key))


def solve_calibration(params: dict) -> dict[str, Any]:
    """The solved scalars for ``params`` (cached, so replications pay once)."""
    return copy.deepcopy(_solve_cached(json.dumps(params, sort_keys=True)))


def _truth(params: dict, solved: dict) -> dict[str, Any]:
    """Generating values from a large no-dropout draw: class trajectories and population d."""
    cal = params["calibration"]
    draw = _draw(params, cal["n"], cal["seed"] + 1)
    theta = _theta(params, draw, solved["change_scale"])
    weeks = params["weeks"]
    totals = {m: np.zeros((len(draw["cls"]), len(weeks))) for m in INSTRUMENTS}
    for w in range(len(weeks)):
        items = _items(params, theta[:, w, :], draw["unif_items"][:, w])
        for m in INSTRUMENTS:
            totals[m][:, w] = items[m].sum(1)
    trajectories = {
        m: {
            c: {int(wk): float(totals[m][draw["cls"] == i, w].mean()) for w, wk in enumerate(weeks)}
            for i, c in enumerate(CLASSES)
        }
        for m in INSTRUMENTS
    }
    last = _week_index(params, 10)
    d = {m: cohens_d(totals[m][:, 0], totals[m][:, last]) for m in INSTRUMENTS}
    change = {m: totals[m][:, 0] - totals[m][:, last] for m in INSTRUMENTS}
    d_z = {m: float(change[m].mean() / change[m].std(ddof=1)) for m in INSTRUMENTS}
    d_av = {
        m: float(
            change[m].mean() / ((totals[m][:, 0].std(ddof=1) + totals[m][:, last].std(ddof=1)) / 2)
        )
        for m in INSTRUMENTS
    }
    return {
        "class_shares": dict(params["classes"]["shares"]),
        "class_trajectories": trajectories,
        "mean_trajectory": {
            m: {int(wk): float(totals[m][:, w].mean()) for w, wk in enumerate(weeks)}
            for m in INSTRUMENTS
        },
        "cohens_d": d,
        "cohens_d_definition": COHENS_D_DEFINITION,
        "cohens_d_z": d_z,
        "cohens_d_av": d_av,
        "dropout_by_week10": params["targets"]["dropout_by_week10"],
        "dropout_mechanism": params["dropout"]["mechanism"],
        "alliance_mean_week6": params["targets"]["alliance_mean"],
        "sessions_per_participant": params["targets"]["total_sessions"]
        / params["targets"]["sessions_per_n"],
        "solved": solved,
        "truth_draw_n": cal["n"],
    }


# ----------------------------------------------------------------------------- assembly
def _interpolate_states(params: dict, theta: np.ndarray) -> np.ndarray:
    """Latent severity at every week 0..10 by linear interpolation between waves (n x 11 x 2)."""
    weeks = np.asarray(params["weeks"], dtype=float)
    grid = np.arange(0, 11, dtype=float)
    hi = np.clip(np.searchsorted(weeks, grid, side="left"), 1, len(weeks) - 1)
    lo = hi - 1
    frac = (grid - weeks[lo]) / (weeks[hi] - weeks[lo])
    return theta[:, lo, :] * (1 - frac)[None, :, None] + theta[:, hi, :] * frac[None, :, None]


def _demographics(params: dict, draw: dict, ids: list[str], dropped: np.ndarray) -> pd.DataFrame:
    demo = params["demographics"]
    age = demo["age"]
    ages = np.clip(np.round(age["mean"] + age["sd"] * draw["age"]), age["min"], age["max"])
    genders = list(demo["gender"])
    g_cum = np.cumsum([demo["gender"][g] for g in genders])
    locales = demo["locales"]
    l_cum = np.cumsum([loc["share"] for loc in locales])
    g_idx = np.minimum(
        np.searchsorted(g_cum / g_cum[-1], draw["unif_demo"][:, 0]), len(genders) - 1
    )
    l_idx = np.minimum(
        np.searchsorted(l_cum / l_cum[-1], draw["unif_demo"][:, 1]), len(locales) - 1
    )
    weeks = np.asarray(params["weeks"])
    return pd.DataFrame(
        {
            "participant_id": ids,
            "age": ages.astype(int),
            "gender": [genders[i] for i in g_idx],
            "region": [locales[i]["region"] for i in l_idx],
            "language": [locales[i]["language"] for i in l_idx],
            "trajectory_class": [CLASSES[c] for c in draw["cls"]],
            "dropout_week": pd.array(
                [int(weeks[d]) if d > 0 else None for d in dropped], dtype="Int64"
            ),
        }
    )


def _assessments(params: dict, draw: dict, theta, ids, dropped) -> pd.DataFrame:
    weeks = params["weeks"]
    frames = []
    for w, week in enumerate(weeks):
        seen = np.flatnonzero((dropped == 0) | (w < dropped))
        items = _items(params, theta[seen, w, :], draw["unif_items"][seen, w])
        for m in INSTRUMENTS:
            k = N_ITEMS[m]
            frames.append(
                pd.DataFrame(
                    {
                        "participant_id": np.repeat(np.asarray(ids)[seen], k),
                        "week": week,
                        "instrument": m,
                        "item": np.tile(np.arange(1, k + 1), len(seen)),
                        "score": items[m].reshape(-1),
                    }
                )
            )
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["participant_id", "week", "instrument", "item"], ignore_index=True)


def _alliance(params, draw, ids, dropped, location) -> pd.DataFrame:
    seen = np.flatnonzero((dropped == 0) | (dropped > _week_index(params, 6)))
    scores = _wai(params, draw, location)[seen]
    return pd.DataFrame(
        {
            "participant_id": np.repeat(np.asarray(ids)[seen], WAI_ITEMS),
            "week": 6,
            "item": np.tile(np.arange(1, WAI_ITEMS + 1), len(seen)),
            "score": scores.reshape(-1),
        }
    )


def _social(params, draw, theta, ids, dropped) -> pd.DataFrame:
    """Social measures at weeks 0 and 10, tied to baseline severity and symptom improvement."""
    sym = params["symptoms"]
    severity = draw["u"][:, 0] / sym["intercept_sd"]
    improvement = theta[:, 0, 0] - theta[:, _week_index(params, 10), 0]
    rows = []
    for j, name in enumerate(SOCIAL_MEASURES):
        p = params["social"][name]
        r = p["symptom_corr"]
        z0, z1 = draw["z_social"][:, j, 0], draw["z_social"][:, j, 1]
        base = p["mean"] + p["sd"] * (r * severity + np.sqrt(1 - r**2) * z0)
        final = base + p["sd"] * (p["improvement_effect"] * improvement + p["noise_sd"] * z1)
        for week, values, seen in ((0, base, np.ones(len(ids), bool)), (10, final, dropped == 0)):
            rows.append(
                pd.DataFrame(
                    {
                        "participant_id": np.asarray(ids)[seen],
                        "week": week,
                        "measure": name,
                        "score": np.clip(values[seen], p["min"], p["max"]).round(3),
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)


def _session_plan(params, draw, ids, sessions) -> pd.DataFrame:
    """One row per session with its minutes and user words (log-normal, propensity-linked)."""
    eng = params["engagement"]
    person, week_idx = np.nonzero(sessions)
    counts = sessions[person, week_idx]
    person = np.repeat(person, counts)
    week = ENGAGEMENT_WEEKS[np.repeat(week_idx, counts)]
    index = np.concatenate([np.arange(c) for c in counts]) if len(counts) else np.array([], int)
    rng = draw["rng"]
    sd = eng["minutes_log_sd"]
    log_minutes = (
        np.log(eng["minutes_mean"])
        - sd**2 / 2
        + eng["minutes_propensity_coef"] * draw["propensity"][person]
        + sd * rng.standard_normal(len(person))
    )
    minutes = np.exp(log_minutes)
    wsd = eng["words_log_sd"]
    words = (
        minutes
        * eng["words_per_minute"]
        * np.exp(wsd * rng.standard_normal(len(person)) - wsd**2 / 2)
    )
    return pd.DataFrame(
        {
            "participant_id": np.asarray(ids)[person],
            "week": week.astype(int),
            "session_index": index.astype(int),
            "minutes": minutes.round(2),
            "user_words": np.maximum(1, np.round(words)).astype(int),
        }
    )


def simulate_cohort(params: dict, n: int, seed: int) -> Cohort:
    """Simulate ``n`` enrolled participants from the ``pilot.cohort`` config section."""
    if n < 1:
        raise ValueError(f"cohort size must be at least 1, got {n}")
    total = sum(params["classes"]["shares"].values())
    if abs(total - 1) > 1e-6:
        raise ValueError(f"pilot.cohort.classes.shares must sum to 1, got {total:.4f}")
    solved = solve_calibration(params)
    draw = _draw(params, n, seed)
    theta = _theta(params, draw, solved["change_scale"])
    sessions, dropped = _engagement(params, draw, theta, solved)
    ids = [f"P{i + 1:04d}" for i in range(n)]
    plan = _session_plan(params, draw, ids, sessions)
    engagement = (
        plan.groupby(["participant_id", "week"], as_index=False)
        .agg(
            sessions=("session_index", "size"),
            minutes=("minutes", "sum"),
            user_words=("user_words", "sum"),
        )
        .set_index(["participant_id", "week"])
        .reindex(
            pd.MultiIndex.from_product([ids, ENGAGEMENT_WEEKS], names=["participant_id", "week"])
        )
        .fillna(0)
        .astype({"sessions": int, "user_words": int})
        .reset_index()
    )
    sym = params["symptoms"]
    latent = _interpolate_states(params, theta)
    states = pd.DataFrame(
        {
            "participant_id": np.repeat(ids, latent.shape[1]),
            "week": np.tile(np.arange(latent.shape[1]), n),
        }
    )
    for j, (m, col) in enumerate(zip(INSTRUMENTS, ("phq9_expected", "gad7_expected"), strict=True)):
        states[col] = grm_expected_total(
            latent[:, :, j],
            sym["discrimination"][m],
            sym["item_location"][m],
            sym["category_steps"],
        ).reshape(-1)
    return Cohort(
        participants=_demographics(params, draw, ids, dropped),
        assessments=_assessments(params, draw, theta, ids, dropped),
        alliance=_alliance(params, draw, ids, dropped, solved["alliance_location"]),
        social=_social(params, draw, theta, ids, dropped),
        engagement=engagement,
        session_plan=plan,
        states=states,
        screening={
            "screened": int(draw["screened"]),
            "enrolled": n,
            "screen_fails": int(draw["screened"] - n),
        },
        truth=truth_for(params),
    )


@lru_cache(maxsize=16)
def _truth_cached(key: str) -> dict[str, Any]:
    params = json.loads(key)
    return _truth(params, solve_calibration(params))


def truth_for(params: dict) -> dict[str, Any]:
    """The generating truth for ``params`` (computed once per parameter set)."""
    return copy.deepcopy(_truth_cached(json.dumps(params, sort_keys=True)))


COHORT_TABLES = {
    "participants": "trial/participants",
    "assessments": "trial/assessments",
    "alliance": "trial/alliance",
    "social": "trial/social",
    "engagement": "pilot/engagement",
    "session_plan": "pilot/session_plan",
    "states": "pilot/states",
}


def write_cohort(cohort: Cohort, out_dir: str | Path) -> None:
    """Write every table (validated Parquet) plus ``cohort.json`` (screening, truth)."""
    out_dir = Path(out_dir)
    for name, schema in COHORT_TABLES.items():
        write_parquet(getattr(cohort, name), out_dir / f"{name}.parquet", schema)
    meta = {"screening": cohort.screening, "truth": cohort.truth}
    (out_dir / "cohort.json").write_text(json.dumps(meta, indent=2))


def read_cohort(directory: str | Path) -> Cohort:
    """Read a cohort written by :func:`write_cohort` (tables validated on read)."""
    directory = Path(directory)
    tables = {
        name: read_parquet(directory / f"{name}.parquet", schema)
        for name, schema in COHORT_TABLES.items()
    }
    meta = json.loads((directory / "cohort.json").read_text())
    truth = meta["truth"]
    for key in ("class_trajectories", "mean_trajectory"):  # JSON turned week keys into strings
        truth[key] = _int_week_keys(truth[key])
    return Cohort(**tables, screening=meta["screening"], truth=truth)


def _int_week_keys(tree: dict) -> dict:
    return {
        (int(k) if k.isdigit() else k): (_int_week_keys(v) if isinstance(v, dict) else v)
        for k, v in tree.items()
    }
