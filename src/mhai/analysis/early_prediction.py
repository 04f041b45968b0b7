"""Predict non-response early: class membership from weeks 0-2 scores and early engagement.

Logistic regression on standardised features, scored by stratified K-fold cross-validation:
every person's probability comes from a model that did not see them, so the AUC of these
out-of-fold probabilities is an honest estimate of discrimination. Its CI resamples people
(percentile bootstrap of the out-of-fold AUC, which ignores refitting noise).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mhai.analysis.effect_sizes import percentile_ci


def auc(y: np.ndarray, score: np.ndarray) -> np.ndarray:
    """ROC AUC (Mann-Whitney, ties count one half) along the last axis; NaN without both
    classes. Works on (n,) or a (B, n) stack of bootstrap resamples."""
    y = np.asarray(y, dtype=bool)
    ranks = rankdata(score, axis=-1)
    n1 = y.sum(-1)
    n0 = y.shape[-1] - n1
    with np.errstate(invalid="ignore", divide="ignore"):
        return ((ranks * y).sum(-1) - n1 * (n1 + 1) / 2) / (n1 * n0)


def cross_validated_auc(
    features: pd.DataFrame,
    label: pd.Series,
    *,
    folds: int = 5,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict:
    """Out-of-fold AUC of a logistic regression with a bootstrap CI.

    ``features`` and ``label`` (bool) share an index; rows with a missing feature are left out
    and counted. Returns the AUC, its CI, the sample counts and the full-data coefficients
    (per SD of each feature)."""
    data = features.join(label.rename("_y"), how="inner")
    complete = data.dropna()
    y = complete.pop("_y").astype(bool).to_numpy()
    X = complete.to_numpy(float)
    n_pos = int(y.sum())
    out = {"n": len(y), "n_positive": n_pos, "n_dropped_missing": len(data) - len(complete)}
    k = min(folds, n_pos, len(y) - n_pos)
    if k < 2:
        return out | {"auc": np.nan, "ci_low": np.nan, "ci_high": np.nan, "coefficients": {}}
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    cv = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    prob = cross_val_predict(model, X, y, cv=cv, method="predict_proba")[:, 1]
    idx = np.random.default_rng(seed).integers(0, len(y), (n_boot, len(y)))
    lo, hi = percentile_ci(auc(y[idx], prob[idx]), level)
    model.fit(X, y)
    coefs = dict(zip(complete.columns, model[-1].coef_[0].round(4).tolist(), strict=True))
    return out | {
        "auc": float(auc(y, prob)),
        "ci_low": lo,
        "ci_high": hi,
        "folds": k,
        "coefficients": coefs,
    }
