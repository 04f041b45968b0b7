"""Guardrail behaviour that must hold whatever the models are: fail-closed pass 2, session-level
escalation, region/language escalation, and a review queue holding every flagged session."""

from __future__ import annotations

import json
import time

import pytest
from safety_fakes import (
    FixedVerifier,
    GarbageVerifier,
    RaisingVerifier,
    SlowInProcessVerifier,
    SlowVerifier,
    make_guardrail,
)

CRISIS = "I have the pills in my hand and I'm going to take them all tonight."
DRAFT = "That sounds hard. Maybe try a warm bath?"


@pytest.mark.parametrize(
    "verifier", [RaisingVerifier(), SlowVerifier(), SlowInProcessVerifier(), GarbageVerifier()]
)
def test_crisis_never_passes_when_the_verifier_fails(verifier):
    guard = make_guardrail({CRISIS: 0.97}, verifier)
    state = guard.new_session("s1", "p1", "GB", "en")
    start = time.perf_counter()
    decision = guard.check_turn(state, CRISIS, DRAFT)
    elapsed = time.perf_counter() - start
    assert decision.flagged
    assert decision.pass2 == "replace" and decision.action == "replace"
    assert decision.escalated and decision.reply != DRAFT
    assert "116 123" in decision.reply  # Samaritans, for a GB user
    assert decision.pass2_reason.startswith("fail-closed")
    assert elapsed < 2.0  # a hung verifier is abandoned at the timeout (0.3 s here)


@pytest.mark.parametrize("decision_name", ["replace", "block"])
def test_replace_and_block_show_the_escalation_message(decision_name):
    guard = make_guardrail({CRISIS: 0.9}, FixedVerifier(decision_name))
    decision = guard.check_turn(guard.new_session("s", "p", "US", "en"), CRISIS, DRAFT)
    assert decision.action == decision_name
    assert decision.escalated and "988" in decision.reply
    assert decision.escalation["service"] == "988 Suicide & Crisis Lifeline"


def test_allowed_turn_shows_the_draft_and_unflagged_turn_skips_pass2():
    guard = make_guardrail({CRISIS: 0.9}, FixedVerifier("allow"))
    state = guard.new_session("s", "p", "US", "en")
    calm = guard.check_turn(state, "What should I cook tonight?", DRAFT)
    assert not calm.flagged and calm.pass2 is None and calm.reply == DRAFT
    assert calm.latency_ms["pass2"] == 0.0 and calm.latency_ms["pass1"] >= 0.0
    flagged = guard.check_turn(state, CRISIS, DRAFT)
    assert flagged.flagged and flagged.action == "allow" and flagged.reply == DRAFT
    assert not flagged.escalated


def test_session_escalation_flags_a_rising_conversation_of_sub_threshold_messages():
    messages = [f"message {i}" for i in range(6)]
    scores = dict(zip(messages, [0.02, 0.06, 0.12, 0.18, 0.23, 0.28], strict=True))
    guard = make_guardrail(scores, FixedVerifier("replace"), threshold=0.3)
    for m in messages:  # each message alone, in a fresh session, stays under the threshold
        assert not guard.check_turn(guard.new_session(m, "p", "US", "en"), m, DRAFT).flagged
    state = guard.new_session("rising", "p", "US", "en")
    decisions = [guard.check_turn(state, m, DRAFT) for m in messages]
    assert decisions[-1].flagged and state.flagged
    assert decisions[-1].signals["escalation"] > 0
    assert max(d.signals["message"] for d in decisions) < 0.3


def test_flat_moderate_conversation_is_not_escalated():
    messages = [f"m{i}" for i in range(6)]
    guard = make_guardrail(dict.fromkeys(messages, 0.2), FixedVerifier("replace"), threshold=0.3)
    state = guard.new_session("flat", "p", "US", "en")
    assert not any(guard.check_turn(state, m, DRAFT).flagged for m in messages)


def test_history_keeps_the_turn_after_a_crisis_flagged():
    guard = make_guardrail({CRISIS: 0.95}, FixedVerifier("allow"), threshold=0.3)
    state = guard.new_session("s", "p", "US", "en")
    guard.check_turn(state, CRISIS, DRAFT)
    after = guard.check_turn(state, "ok", DRAFT)
    assert after.flagged and after.signals["history"] > 0.9


@pytest.mark.parametrize(
    ("region", "language", "service", "message_word"),
    [
        ("CA", "fr", "9-8-8 Ligne d'aide en cas de crise de suicide", "sécurité"),
        ("US", "es", "988 Lifeline en español", "seguridad"),
        ("DE", "de", "TelefonSeelsorge", "Sicherheit"),
        ("JP", "en", "Find A Helpline", "safety"),
    ],
)
def test_escalation_uses_region_and_language(region, language, service, message_word):
    guard = make_guardrail({CRISIS: 0.99}, RaisingVerifier())
    decision = guard.check_turn(guard.new_session("s", "p", region, language), CRISIS, DRAFT)
    assert decision.escalation["service"] == service
    assert decision.escalation["language"] == language
    assert message_word in decision.reply


def test_review_queue_holds_every_flagged_session(tmp_path):
    queue = tmp_path / "queue.jsonl"
    scores = {"crisis a": 0.9, "crisis b": 0.8}
    guard = make_guardrail(scores, FixedVerifier("allow"), queue=queue)
    scripts = {
        "calm-1": ["hello", "thanks"],
        "risky-1": ["hello", "crisis a", "ok"],
        "calm-2": ["what a day"],
        "risky-2": ["crisis b"],
    }
    flagged = set()
    for sid, turns in scripts.items():
        state = guard.new_session(sid, f"p-{sid}", "GB", "en")
        for t in turns:
            guard.check_turn(state, t, DRAFT)
        if state.flagged:
            flagged.add(sid)
    assert flagged == {"risky-1", "risky-2"}
    assert guard.review_queue.sessions() == flagged
    records = [json.loads(line) for line in queue.read_text().splitlines()]
    first = next(r for r in records if r["user_message"] == "crisis a")
    assert first["score"] >= first["threshold"] and first["pass2"] == "allow"
    assert set(first["signals"]) == {"message", "history", "escalation", "unreadable"}
    assert first["draft_reply"] == DRAFT and first["turn"] == 1


def test_a_message_pass_1_cannot_read_goes_to_pass_2_and_says_why():
    guard = make_guardrail({}, FixedVerifier("replace"))
    guard.classifier.min_english_ratio = 0.15  # the language gate of the default config
    state = guard.new_session("s", "p", "ES", "es")
    english = guard.check_turn(state, "I had a quiet day at home today.", DRAFT)
    assert not english.flagged and english.signals["unreadable"] == 0.0
    spanish = "Ya no aguanto más, esta noche me voy a tomar todas las pastillas."
    decision = guard.check_turn(state, spanish, DRAFT)
    assert decision.flagged and decision.signals["unreadable"] == 1.0
    assert decision.escalated and decision.escalation["language"] == "es"
