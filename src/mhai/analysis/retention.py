"""Retention: Kaplan-Meier curves of time to dropout, overall and by group, with log-rank tests.

Time to dropout is the first scheduled assessment week a person missed (an event); people who
missed none are censored at the last scheduled week. Pointwise CIs use the complementary
log-log transform of the Greenwood standard error.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.duration.survfunc import SurvfuncRight, survdiff


def km_curve(time: np.ndarray, event: np.ndarray, weeks, level: float = 0.95) -> pd.DataFrame:
    """Kaplan-Meier retention at each of ``weeks`` (step function evaluated at the week)."""
    sf = SurvfuncRight(np.asarray(time, float), np.asarray(event, int))
    z = stats.norm.ppf(0.5 + level / 2)
    rows = []
    for week in weeks:
        passed = sf.surv_times <= week
        if passed.any():
            i = np.flatnonzero(passed)[-1]
            s, se = float(sf.surv_prob[i]), float(sf.surv_prob_se[i])
        else:
            s, se = 1.0, 0.0
        if 0 < s < 1 and se > 0:
            width = z * se / (s * abs(np.log(s)))
            lo, hi = s ** np.exp(width), s ** np.exp(-width)
        else:
            lo = hi = s
        rows.append(
            {
                "week": week,
                "retention": s,
                "ci_low": lo,
                "ci_high": hi,
                "at_risk": int((np.asarray(time) >= week).sum()),
            }
        )
    return pd.DataFrame(rows)


def retention_tables(
    participants: pd.DataFrame,
    groups: dict[str, pd.Series],
    *,
    weeks,
    last_week: int,
    level: float = 0.95,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """KM curves overall and for each grouping (a Series of levels by participant_id), plus
    one log-rank test per grouping. Returns (curves, tests)."""
    p = participants.set_index("participant_id")
    event = p["dropout_week"].notna().to_numpy()
    time = p["dropout_week"].fillna(last_week).to_numpy(float)
    curves = [km_curve(time, event, weeks, level).assign(grouping="overall", group="all")]
    tests = []
    for grouping, series in groups.items():
        g = series.reindex(p.index)
        ok = g.notna().to_numpy()
        for level_name in sorted(g.dropna().unique()):
            sel = (g == level_name).to_numpy()
            curve = km_curve(time[sel], event[sel], weeks, level)
            curves.append(curve.assign(grouping=grouping, group=str(level_name)))
        if g[ok].nunique() > 1:
            chi2, pval = survdiff(time[ok], event[ok].astype(int), g[ok].astype(str).to_numpy())
            tests.append({"grouping": grouping, "logrank_chi2": chi2, "p_value": pval})
    cols = ["grouping", "group", "week", "retention", "ci_low", "ci_high", "at_risk"]
    return pd.concat(curves, ignore_index=True)[cols], pd.DataFrame(tests)
