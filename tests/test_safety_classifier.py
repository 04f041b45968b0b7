"""Pass 1 without the real encoder: session signals, threshold choice, save/load, fitting."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from safety_fakes import HashEncoder, SentenceSplitHashEncoder

from mhai.safety.classifier import (
    Pass1Classifier,
    SessionParams,
    choose_threshold,
    cluster_recall_lower_bound,
    fit_classifier,
    recall_lower_bound,
    reliability_curve,
    session_signals,
)
from mhai.safety.encoder import deobfuscate, split_sentences
from mhai.safety.language import unreadable

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


def test_escalation_needs_the_current_message_to_reach_the_floor():
    floored = SessionParams(window=5, decay=0.7, history_weight=0.5, escalation_weight=0.8,
                            escalation_floor=0.1)  # fmt: skip
    noise = session_signals([0.01, 0.03, 0.05], 0.08, floored)  # everyday scores wobbling up
    rising = session_signals([0.02, 0.06, 0.12, 0.18], 0.24, floored)
    assert noise["escalation"] == 0.0 and noise["combined"] == pytest.approx(0.08)
    assert rising["escalation"] == pytest.approx(0.22, abs=0.01)
    assert session_signals([0.01, 0.03, 0.05], 0.08, PARAMS)["escalation"] > 0  # no floor


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


def test_cluster_bootstrap_widens_the_recall_bound_when_misses_share_a_template():
    """50 families of 10 risk messages; one whole family is missed at threshold 0.5. Family
    resampling sees one miss in 50, not ten independent misses in 500: a wider bound."""
    groups = np.repeat(np.arange(50), 10)
    scores = np.where(groups == 7, 0.2, 0.9)
    candidates = np.array([0.5, 0.1])
    clustered = cluster_recall_lower_bound(scores, groups, candidates, confidence=0.95)
    binomial = recall_lower_bound(np.array([490, 500]), 500, 0.95)
    assert clustered[0] < binomial[0] < 0.98 and clustered[1] == 1.0 > binomial[1]
    labels = np.r_[np.ones(500, int), np.zeros(200, int)]
    both = np.r_[scores, np.linspace(0.0, 0.6, 200)]
    negatives = np.full(200, -1)
    t_cluster, table = choose_threshold(
        both, labels, 0.95, 100, 0.02, confidence=0.95, groups=np.r_[groups, negatives]
    )
    t_binomial, _ = choose_threshold(both, labels, 0.95, 100, 0.02, confidence=0.95)
    assert t_cluster <= 0.2 < 0.5 <= t_binomial  # only flagging family 7 reaches the bound
    assert (table["recall_lower"] <= table["recall"] + 1e-12).all()


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
        base = (i // 2) % 4
        text = (risky if label else calm)[base] + f" {['alpha', 'beta', 'gamma'][i % 3]}"
        split = ["train", "calib"][(i // 8) % 2]
        category = f"{'risk' if label else 'calm'}{base % 2}"
        family = f"{category}:{base}/{(i // 16) % 3}"
        rows.append({"text": text, "label": label, "category": category, "family": family,
                     "split": split})  # fmt: skip
    return pd.DataFrame(rows)


def _cfg(target_recall: float = 0.98, folds: int = 3, gate: float = 0.0) -> dict:
    session = {"window": 3, "decay": 0.5, "history_weight": 0.5, "escalation_weight": 1.0}
    return {
        "classifier": {"C": 10.0, "target": "category", "session": session,
                       "min_english_ratio": gate},
        "calibration": {"target_recall": target_recall, "folds": folds, "cost_ratio": 100,
                        "prevalence": 0.02, "recall_confidence": 0.0, "bins": 5},
    }  # fmt: skip


def _fit(units: pd.DataFrame, messages: pd.DataFrame, encoder, cfg: dict):
    return fit_classifier(
        units,
        encoder.encode_each(units["text"].tolist()),
        messages,
        encoder.encode_each(messages["text"].tolist()),
        encoder,
        cfg,
        seed=0,
    )


def test_fit_calibrate_save_and_load_without_pickles(tmp_path):
    corpus = _toy_corpus()
    encoder = HashEncoder(model_dir=tmp_path / "emb")
    (tmp_path / "emb").mkdir()
    (tmp_path / "emb" / "config.json").write_text("{}")
    units, messages = corpus[corpus["split"] == "train"], corpus[corpus["split"] == "calib"]
    clf, calibration = _fit(units, messages, encoder, _cfg())
    assert clf.meta["folds"] == 3 and clf.meta["calib_messages"] == len(messages)
    cross_fitted = np.asarray(calibration["messages"]["score"])
    assert (cross_fitted[messages["label"].to_numpy() == 1] >= clf.threshold).mean() >= 0.98
    scores = clf.score_texts(messages["text"].tolist())
    assert (scores[messages["label"] == 1] >= clf.threshold).mean() >= 0.98
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


def test_each_template_family_is_held_out_of_exactly_one_calibration_head(tmp_path, monkeypatch):
    """Cross-fitting: every fold's head is fitted without one fold of template families (each
    family left out once), and the final head sees every unit, family-less ones included."""
    import mhai.safety.classifier as classifier

    corpus = _toy_corpus()
    units = corpus[corpus["split"] == "train"].reset_index(drop=True)
    units = pd.concat([units, pd.DataFrame([{"text": "plain context words", "label": 0,
                                             "category": "context", "family": None}])],
                      ignore_index=True)  # fmt: skip
    messages = corpus[corpus["split"] == "calib"]
    seen: list[set] = []
    real = classifier._fit_head

    def spy(embeddings, owner, targets, rows, C, seed):
        seen.append(set(rows.tolist()))
        return real(embeddings, owner, targets, rows, C, seed)

    monkeypatch.setattr(classifier, "_fit_head", spy)
    _fit(units, messages, HashEncoder(model_dir=tmp_path), _cfg(folds=4))
    assert len(seen) == 5 and seen[-1] == set(range(len(units)))
    families = units["family"]
    left_out = [set(families[~families.index.isin(rows)]) for rows in seen[:-1]]
    assert all(left_out) and set().union(*left_out) == set(families.dropna())
    assert sum(len(f) for f in left_out) == families.nunique()  # each family left out once
    assert all(len(units) - 1 in rows for rows in seen)  # the family-less unit: always in


def test_calibration_scores_whole_messages_by_their_riskiest_chunk(tmp_path):
    """Training rows are sentences; a calibration message with one risk sentence among
    everyday ones must score like the risk sentence, not like their average."""
    risky = ["i want to die", "i will kill myself", "no reason to live", "end my life tonight"]
    calm = ["lovely walk today", "exam stress again", "cooking pasta now", "phone battery died"]
    units = pd.DataFrame(
        [{"text": t, "label": 1, "category": "risk"} for t in risky * 3]
        + [{"text": t, "label": 0, "category": "calm"} for t in calm * 3]
    ).assign(family=None)  # no family: in every fold's training set
    messages = [
        {"text": f"{c1}. {c2}. {r}.", "label": 1, "category": "risk"}
        for c1, c2, r in zip(calm, calm[1:] + calm[:1], risky, strict=True)
    ] + [{"text": f"{c1}. {c2}.", "label": 0, "category": "calm"}
         for c1, c2 in zip(calm, calm[2:] + calm[:2], strict=True)]  # fmt: skip
    messages = pd.DataFrame(messages).assign(family=[f"m/{i}" for i in range(8)])
    encoder = SentenceSplitHashEncoder(model_dir=tmp_path)
    emb, _ = encoder.encode_each(messages["text"].tolist())
    assert len(emb) > len(messages)  # calibration messages were split into sentences
    clf, _ = _fit(units, messages, encoder, _cfg(target_recall=1.0, folds=2))
    assert clf.meta["train_examples"] == 24 and clf.meta["calib_messages"] == 8
    assert clf.meta["calib_recall"] == 1.0 and clf.meta["calib_fpr"] == 0.0
    mixed = clf.score_message("lovely walk today. cooking pasta now. i will kill myself.")
    assert mixed >= clf.threshold > clf.score_message("lovely walk today. cooking pasta now.")


def test_calibration_message_without_a_template_family_is_an_error(tmp_path):
    corpus = _toy_corpus()
    units, messages = corpus[corpus["split"] == "train"], corpus[corpus["split"] == "calib"]
    messages = messages.assign(family=None)
    with pytest.raises(ValueError, match="template family"):
        _fit(units, messages, HashEncoder(model_dir=tmp_path), _cfg())


@pytest.mark.parametrize(
    ("sentences", "expected"),
    [
        (["C'est ma dernière conversation avec toi."], True),
        (["I had a long day.", "tengo ganas de cortarme ahora mismo"], True),
        (["Goodbye everyone, thanks for everything."], False),
        (["I want to die."], False),
        (["Hola amigo"], False),  # under three words: not judged
        (["lovely walk today alpha"], False),  # terse English: no sign of another language
        (["我想结束 一切 今晚"], True),  # non-Latin script
    ],
)
def test_sentences_the_english_encoder_cannot_read_are_detected(sentences, expected):
    assert unreadable(sentences, 0.15) is expected
    assert unreadable(sentences, 0.0) is False  # gate off


def test_unreadable_message_scores_one_and_is_flagged(tmp_path):
    corpus = _toy_corpus()
    units, messages = corpus[corpus["split"] == "train"], corpus[corpus["split"] == "calib"]
    clf, _ = _fit(units, messages, HashEncoder(model_dir=tmp_path), _cfg(gate=0.15))
    french = "Bientôt vous n'aurez plus à vous inquiéter pour moi."
    assert clf.score_message(french) == 1.0 >= clf.threshold
    assert clf.score_texts([french, "lovely walk today alpha"]).tolist()[0] == 1.0
    assert clf.score_message("lovely walk today alpha") < clf.threshold


def test_load_names_the_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="classifier.json"):
        Pass1Classifier.load(tmp_path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("i want to k1ll mys3lf", "i want to kill myself"),
        ("thinking of $uicide", "thinking of suicide"),
        ("want to d!e", "want to die"),
        ("s u i c i d e", "suicide"),
        ("I woke at 3am after 2 pills, 10mg each!", "I woke at 3am after 2 pills, 10mg each!"),
        ("mp3 files and a b c", "mp3 files and a b c"),
    ],
)
def test_deobfuscation_undoes_leetspeak_and_spacing_but_keeps_times(text, expected):
    assert deobfuscate(text) == expected


def test_sentence_split_joins_fragments():
    assert split_sentences("hey. I want to die. idk.") == ["hey. I want to die. idk."]
    assert split_sentences("I walked the dog today. Then I made some dinner.\nok") == [
        "I walked the dog today.",
        "Then I made some dinner. ok",
    ]
