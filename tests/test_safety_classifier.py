"""Pass 1 without the real encoder: session signals, threshold choice, save/load, fitting."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from safety_fakes import HashEncoder

from mhai.safety.classifier import (
    Pass1Classifier,
    SessionParams,
    choose_threshold,
    fit_classifier,
    reliability_curve,
    session_signals,
)

PARAMS = SessionParams(window=5, decay=0.7, history_weight=0.5, escalation_weight=0.8)


def test_first_turn_combined_equals_message():
    s = session_signals([], 0.42, PARAMS)
    assert s == {"message": 0.42, "history": 0.0, "escalation": 0.0, "combined": 0.42}


def test_rising_series_adds_escalation_and_flat_series_does_not():
    rising = session_signals([0.02, 0.06, 0.12, 0.18], 0.24, PARAMS)
    flat = session_signals([0.2, 0.2, 0.2, 0.2], 0.2, PARAMS)
    falling = session_signals([0.3, 0.2, 0.1], 0.05, PARAMS)
    assert rising["escalation"] == pytest.approx(0.22, abs=0.01)
    assert rising["combined"] > 0.24 + 0.15
    assert flat["escalation"] == 0.0 and flat["combined"] == pytest.approx(0.2)
    assert falling["escalation"] == 0.0


def test_history_decays_with_lag():
    recent = session_signals([0.9], 0.0, PARAMS)["history"]
    older = session_signals([0.9, 0.0, 0.0], 0.0, PARAMS)["history"]
    assert recent == pytest.approx(0.9) and older == pytest.approx(0.9 * 0.7**2)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(0, 1), max_size=8),
    st.floats(0, 1),
)
def test_combined_is_a_probability_and_never_below_the_message(previous, message):
    s = session_signals(previous, message, PARAMS)
    assert 0.0 <= s["combined"] <= 1.0
    assert s["combined"] >= min(message, 1.0) - 1e-12


def test_threshold_reaches_target_recall_at_least_cost():
    rng = np.random.default_rng(0)
    labels = np.r_[np.ones(200, int), np.zeros(800, int)]
    scores = np.r_[rng.beta(5, 2, 200), rng.beta(2, 5, 800)]
    t, table = choose_threshold(scores, labels, 0.98, cost_ratio=100, prevalence=0.02)
    recall = (scores[labels == 1] >= t).mean()
    assert recall >= 0.98
    feasible = table[table["recall"] >= 0.98]
    assert (
        table.loc[table["threshold"] == t, "expected_cost"].iloc[0]
        == feasible["expected_cost"].min()
    )
    # a huge cost ratio buys recall 1.0; a lower-bound requirement is at least as strict
    t_all, _ = choose_threshold(scores, labels, 0.98, cost_ratio=1e6, prevalence=0.5)
    assert (scores[labels == 1] >= t_all).all()
    t_conf, _ = choose_threshold(scores, labels, 0.98, 100, 0.02, confidence=0.9)
    assert t_conf <= t


def test_reliability_curve_counts_every_score():
    scores = np.linspace(0, 1, 101)
    curve = reliability_curve(scores, (scores > 0.5).astype(int), bins=10)
    assert sum(c["n"] for c in curve) == 101
    assert curve[-1]["observed_rate"] == 1.0 and curve[0]["observed_rate"] == 0.0


def _toy_corpus(n: int = 240) -> pd.DataFrame:
    risky = ["i want to die", "i will kill myself", "no reason to live", "end my life tonight"]
    calm = ["lovely walk today", "exam stress again", "cooking pasta now", "phone battery died"]
    rows = []
    for i in range(n):
        label = i % 2
        text = (risky if label else calm)[(i // 2) % 4] + f" {['alpha', 'beta', 'gamma'][i % 3]}"
        split = ["train", "train", "calib", "test"][(i // 2) % 4]
        category = f"{'risk' if label else 'calm'}{(i // 2) % 2}"
        rows.append(
            {"id": str(i), "text": text, "label": label, "category": category, "split": split}
        )
    return pd.DataFrame(rows)


def test_fit_calibrate_save_and_load_without_pickles(tmp_path):
    corpus = _toy_corpus()
    encoder = HashEncoder(model_dir=tmp_path / "emb")
    (tmp_path / "emb").mkdir()
    (tmp_path / "emb" / "config.json").write_text("{}")
    emb, _ = encoder.encode(corpus["text"].tolist())
    session = {"window": 3, "decay": 0.5, "history_weight": 0.5, "escalation_weight": 1.0}
    cfg = {
        "classifier": {"C": 1.0, "target": "category", "session": session},
        "calibration": {
            "target_recall": 0.98,
            "cost_ratio": 100,
            "prevalence": 0.02,
            "recall_confidence": 0.0,
            "bins": 5,
        },
    }
    clf, calibration = fit_classifier(corpus, emb, encoder, cfg, seed=0)
    calib = corpus["split"] == "calib"
    scores = clf.score_texts(corpus.loc[calib, "text"].tolist())
    assert (scores[corpus.loc[calib, "label"] == 1] >= clf.threshold).mean() >= 0.98
    out = clf.save(tmp_path / "model", calibration)
    saved = {p.name for p in out.iterdir()}
    assert {"classifier.json", "calibration.json", "embedding"} <= saved
    assert not any(p.suffix in {".pkl", ".pickle", ".joblib"} for p in out.rglob("*"))
    assert json.loads((out / "calibration.json").read_text())["threshold"] == clf.threshold
    loaded = Pass1Classifier.load(out, encoder=encoder)
    assert loaded.threshold == clf.threshold and loaded.session == clf.session
    np.testing.assert_allclose(
        loaded.score_texts(["i want to die alpha"]), clf.score_texts(["i want to die alpha"])
    )
    assert loaded.score_message("i want to die alpha") == pytest.approx(
        clf.score_texts(["i want to die alpha"])[0]
    )


def test_load_names_the_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="classifier.json"):
        Pass1Classifier.load(tmp_path)
