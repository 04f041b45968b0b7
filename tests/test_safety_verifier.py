"""Pass 2: decision labels, the recall-first rule, training pairs, both backends."""

from __future__ import annotations

import numpy as np
import pytest
from safety_fakes import HashEncoder

from mhai.safety.corpus import generate_corpus
from mhai.safety.verifier import (
    DECISIONS,
    NEVER_ALLOW,
    FinetunedVerifier,
    PromptedVerifier,
    build_pairs,
    calibrate_thresholds,
    decide,
    decide_fail_closed,
    decision_label,
    train_finetuned,
)


@pytest.mark.parametrize(
    ("risk", "draft_type", "expected"),
    [
        (1, "safe_referral", "allow"),
        (1, "supportive_generic", "replace"),
        (1, "dismissive", "replace"),
        (1, None, "replace"),
        (1, "method_info", "block"),
        (1, "validating", "block"),
        (0, "supportive_generic", "allow"),
        (0, None, "allow"),
        (0, "encouraging_harm", "block"),
    ],
)
def test_decision_labels(risk, draft_type, expected):
    assert decision_label(risk, draft_type) == expected


def test_decide_is_recall_first():
    assert decide({"allow": 0.55, "replace": 0.45, "block": 0.0}, 0.6, 0.4) == "replace"
    assert decide({"allow": 0.5, "replace": 0.05, "block": 0.45}, 0.6, 0.4) == "block"
    assert decide({"allow": 0.9, "replace": 0.1, "block": 0.0}, 0.6, 0.4) == "allow"


@pytest.fixture(scope="module")
def pairs():
    corpus = generate_corpus(24, seed=5, fractions={"train": 0.6, "calib": 0.2, "test": 0.2})
    return build_pairs(corpus, seed=5, drafts_per_message=3)


def _predict(probs: np.ndarray, thresholds: dict[str, float]) -> np.ndarray:
    return np.array([decide(dict(zip(DECISIONS, p, strict=True)), **thresholds) for p in probs])


def test_calibration_is_exact_on_separable_pairs_and_keeps_the_unsafe_limit():
    rng = np.random.default_rng(0)
    decisions = rng.choice(DECISIONS, 300)
    # separable: each pair's own decision has probability 0.8-0.9, the others share the rest
    own = rng.uniform(0.8, 0.9, 300)
    probs = np.tile(((1 - own) / 2)[:, None], 3)
    probs[np.arange(300), [DECISIONS.index(d) for d in decisions]] = own
    thresholds, accuracy = calibrate_thresholds(probs, decisions, max_unsafe_allow=0.0)
    assert accuracy == 1.0
    assert (_predict(probs, thresholds) == decisions).all()
    # noisy heads: the chosen pair never allows more unsafe pairs than the limit
    noisy = rng.dirichlet([1, 1, 1], 300)
    thresholds, _ = calibrate_thresholds(noisy, decisions, max_unsafe_allow=0.05)
    unsafe = _predict(noisy, thresholds)[decisions != "allow"] == "allow"
    assert unsafe.mean() <= 0.05


def test_calibration_fails_closed_when_no_allow_threshold_is_safe():
    # pairs that must not be allowed look certain to be safe: no allow_min on the grid works
    decisions = np.array(["allow", "replace", "block", "replace"])
    probs = np.array([[1.0, 0.0, 0.0]] * 4)
    thresholds, _ = calibrate_thresholds(probs, decisions, max_unsafe_allow=0.02)
    assert thresholds["allow_min"] == NEVER_ALLOW
    assert "allow" not in set(_predict(probs, thresholds))
    with pytest.raises(ValueError, match="calib split"):
        calibrate_thresholds(probs[:0], decisions[:0], max_unsafe_allow=0.02)


def test_pairs_cover_all_decisions_and_hold_out_draft_templates(pairs):
    assert set(pairs["decision"]) == set(DECISIONS)
    train = set(pairs.loc[pairs["split"] == "train", "draft"]) - {""}
    test = set(pairs.loc[pairs["split"] == "test", "draft"]) - {""}
    assert train and test and not train & test
    risky_generic = pairs[(pairs["risk"] == 1) & (pairs["draft_type"] == "supportive_generic")]
    assert (risky_generic["decision"] == "replace").all()


def test_finetuned_head_learns_and_round_trips_without_pickle(pairs, tmp_path):
    encoder = HashEncoder(dim=256)
    texts = set(pairs["message"]) | set(pairs["draft"])
    emb = {t: encoder.encode_one(t)[0] for t in texts}
    verifier = train_finetuned(pairs, emb, emb, encoder, C=10.0, seed=0)
    train = pairs[pairs["split"] == "train"]
    probs = verifier.probs_batch(
        np.stack([emb[m] for m in train["message"]]),
        np.stack([emb[d] for d in train["draft"]]),
        (train["draft"] == "").to_numpy(),
    )
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert (probs >= -1e-9).all()
    accuracy = (np.asarray(DECISIONS)[probs.argmax(1)] == train["decision"].to_numpy()).mean()
    assert accuracy > 0.7  # three classes; the majority class is under half of the pairs
    empty = train[train["draft"] == ""].iloc[0]
    assert verifier.probs(empty["message"], "")["block"] == 0.0
    verifier.save(tmp_path / "verifier", "../model/embedding", {"note": "test"})
    loaded = FinetunedVerifier.load(tmp_path / "verifier", encoder=encoder)
    row = train.iloc[0]
    assert loaded.probs(row["message"], row["draft"]) == pytest.approx(
        verifier.probs(row["message"], row["draft"])
    )


def test_prompted_backend_reads_option_token_probabilities(base_tokenizer_dir):
    from mhai.models import load_tokenizer, tiny_causal_lm

    tokenizer = load_tokenizer(base_tokenizer_dir)
    verifier = PromptedVerifier(tiny_causal_lm(tokenizer), tokenizer, max_tokens=256)
    assert all(verifier.option_ids[d] for d in DECISIONS)
    probs = verifier.probs("I want to die", "Have you tried yoga?")
    assert set(probs) == set(DECISIONS) and sum(probs.values()) == pytest.approx(1.0)
    assert "Draft reply:\nHave you tried yoga?" in verifier.prompt(
        "I want to die", "Have you tried yoga?"
    )
    decision, p, reason = decide_fail_closed(verifier, "I want to die", None, 30.0, 0.6, 0.4)
    assert decision in DECISIONS and p is not None and reason == "prompted"
