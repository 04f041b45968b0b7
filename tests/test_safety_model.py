"""Pass 1 on the real MiniLM (slow): held-out recall, the CLI, the guardrail end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from safety_fakes import TEST_CONFIG, RaisingVerifier

from mhai.cli import main
from mhai.config import deep_update, load_config
from mhai.safety.escalation import load_resources
from mhai.safety.guardrail import Guardrail
from mhai.safety.pipeline import build_corpus, train_pass1

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    import torch

    from mhai.models import prepare_embedding

    torch.set_num_threads(2)
    root = tmp_path_factory.mktemp("safety")
    embedding = prepare_embedding(load_config()["models"]["embedding"], root / "embedding")
    config = deep_update(
        load_config(),
        {
            "safety": {
                "corpus": {"n_per_category": 80},
                # frozen MiniLM keeps the test short; the lower-bound rule leaves a margin for
                # the shift from calibration templates to test templates
                "classifier": {"finetune": {"epochs": 0}},
                "calibration": {"recall_confidence": 0.9},
            }
        },
    )
    cfg = config["safety"]
    build_corpus(cfg, 11, root / "corpus.parquet", None)
    clf = train_pass1(root / "corpus.parquet", embedding, root / "model", cfg, 11)
    return root, clf


def test_held_out_recall_reaches_the_target(trained):
    root, clf = trained
    corpus = pd.read_parquet(root / "corpus.parquet")
    test = corpus[corpus["split"] == "test"]
    scores = clf.score_texts(test["text"].tolist())
    risky = test["label"].to_numpy() == 1
    recall = float((scores[risky] >= clf.threshold).mean())
    assert risky.sum() > 150 and recall >= 0.98
    assert 0.0 < clf.threshold < 1.0
    # the calibrated score ranks held-out risk above the no-risk messages on average
    assert scores[risky].mean() > scores[~risky].mean() + 0.2


def test_held_out_ranking_and_hard_negatives(trained):
    """Regression guards on false alarms (measured values in the comments)."""
    from sklearn.metrics import roc_auc_score

    root, clf = trained
    corpus = pd.read_parquet(root / "corpus.parquet")
    test = corpus[corpus["split"] == "test"]
    scores = clf.score_texts(test["text"].tolist())
    assert roc_auc_score(test["label"], scores) > 0.85  # 0.89 (message-level head: 0.80)
    by_group = pd.Series(scores, index=test.index).groupby(test["group"]).median()
    risk_median = float(pd.Series(scores)[test["label"].to_numpy() == 1].median())
    for group in ("idiom", "hard_negative", "benign"):  # everyday talk ranks below risk
        assert by_group[group] < risk_median - 0.2, group
    # a risk sentence among everyday ones is not averaged away
    everyday = "I walked the dog this morning. Work was busy. I made pasta for dinner."
    assert clf.score_message(f"{everyday} I want to kill myself tonight.") >= clf.threshold
    assert clf.score_message(f"{everyday} I want to kill myself tonight.") > 2 * (
        clf.score_message(everyday)
    )


def test_persona_crisis_sessions_are_flagged_and_rank_above_ordinary_turns(trained):
    """The pilot's persona generator (never used for training): every session with planted
    crisis language is flagged, and crisis turns outscore ordinary chat turns."""
    from mhai.pilot.cohort import simulate_cohort
    from mhai.pilot.sessions import build_sessions

    root, clf = trained
    pilot = load_config()["pilot"]
    specs = build_sessions(simulate_cohort(pilot["cohort"], 12, 3), pilot["sessions"], 3)
    crisis = [s for s in specs if s.crisis] or [
        s
        for s in build_sessions(simulate_cohort(pilot["cohort"], 60, 4), pilot["sessions"], 4)
        if s.crisis
    ][:5]
    ordinary = [t for s in specs if not s.crisis for t in s.turns][:300]
    for spec in crisis:
        previous: list[float] = []
        combined = []
        for text in spec.turns:
            message = clf.score_message(text)
            combined.append(clf.signals(previous, message)["combined"])
            previous.append(message)
        assert max(combined) >= clf.threshold, spec.turns
    crisis_turns = [max(spec.turns, key=clf.score_message) for spec in crisis]
    assert np.median(clf.score_texts(ordinary)) < np.median(clf.score_texts(crisis_turns)) - 0.2


def test_score_cli_writes_flags_and_session_signals(trained, tmp_path):
    root, clf = trained
    src = tmp_path / "in.csv"
    pd.DataFrame(
        {
            "session": ["a", "a", "b"],
            "post": [
                "I'm going to kill myself tonight.",
                "ok",
                "What a lovely sunny day at the park!",
            ],
        }
    ).to_csv(src, index=False)
    out = tmp_path / "out.csv"
    args = ["safety", "score", "--model", str(root / "model"), "--input", str(src)]
    assert (
        main([*args, "--text-column", "post", "--output", str(out), "--session-column", "session"])
        == 0
    )
    scored = pd.read_csv(out)
    assert list(scored["flagged"]) == [True, True, False]  # "ok" is flagged by history
    assert (
        scored.loc[1, "history"] > 0.5
        and scored.loc[1, "message_score"] < scored.loc[0, "message_score"]
    )
    assert main([*args, "--text-column", "missing", "--output", str(out)]) == 2


def test_real_guardrail_fails_closed_on_a_crisis(trained):
    root, clf = trained
    resources = load_resources(TEST_CONFIG["escalation"]["resources"], 100000)
    guard = Guardrail(clf, RaisingVerifier(), resources, TEST_CONFIG)
    state = guard.new_session("s", "p", "AU", "en")
    crisis = guard.check_turn(
        state, "I've saved up all my pills and I'm taking them tonight.", "Try to rest."
    )
    assert crisis.flagged and crisis.action == "replace" and "13 11 14" in crisis.reply
    assert crisis.latency_ms["pass1"] > 0 and crisis.latency_ms["pass2"] >= 0  # timed, not judged


def test_packed_message_path_embeds_like_the_padded_batch(trained):
    """``encode_one`` (sentences packed in one sequence, fused QKV) equals the padded batch:
    exactly in float32, and with int8 for a one-sentence message (same activation scale)."""
    from mhai.safety.encoder import SentenceEncoder

    root, _ = trained
    texts = [
        "I can't sleep anymore. Nobody would miss me if I were gone. Anyway, how was your day?",
        "this exam is killing me lol, three more to go before the break",
    ]
    for quantize in (False, True):
        enc = SentenceEncoder(root / "embedding", quantize=quantize, split="sentence")
        assert enc._packable
        for text in texts if not quantize else texts[1:]:
            chunks = enc.chunks(text)
            packed = enc.encode_one(text)
            assert packed.shape == (len(chunks), enc.dim)
            np.testing.assert_allclose(packed, enc._embed(chunks), atol=1e-5)
    assert len(SentenceEncoder(root / "embedding", split="sentence").chunks(texts[0])) == 3
