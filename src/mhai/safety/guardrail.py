"""The one entry point of the safety stage: ``Guardrail``.

Per user turn: pass 1 scores the message and combines it with the session's history and
escalation trend; a turn whose combined score reaches the calibrated threshold is *flagged*
and goes to pass 2, which decides allow / replace / block for the draft reply (failing
closed to replace). ``replace`` and ``block`` show the escalation message with the crisis
resource for the user's region and language. Every flagged turn is appended to the
clinician review queue with its evidence.

Used by the pilot simulation and by ``mhai chat``::

    guard = Guardrail.load(Path("results/safety"), config, review_queue=Path("queue.jsonl"))
    state = guard.new_session("s1", "p1", region="GB", language="en")
    decision = guard.check_turn(state, "I can't do this anymore", draft_reply)
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mhai.safety.classifier import Pass1Classifier
from mhai.safety.escalation import (
    CrisisResources,
    ReviewQueue,
    escalation_message,
    load_resources,
)
from mhai.safety.verifier import VerifierBackend, decide_fail_closed, load_verifier
from mhai.schemas import REPO_ROOT


@dataclass
class SessionState:
    """What the guardrail remembers about one conversation."""

    session_id: str
    participant_id: str
    region: str
    language: str
    scores: list[float] = field(default_factory=list)
    turn: int = 0
    flagged: bool = False
    escalated: bool = False
    max_score: float = 0.0


@dataclass
class TurnDecision:
    """The outcome of one checked turn (see the team brief for the contract)."""

    flagged: bool
    score: float
    signals: dict[str, float]
    pass2: str | None
    action: str
    reply: str | None
    escalated: bool
    escalation: dict[str, Any] | None
    latency_ms: dict[str, float]
    pass2_reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly copy."""
        return asdict(self)


def section(config: dict[str, Any]) -> dict[str, Any]:
    """The ``safety`` section of a full config, or the section itself."""
    return config.get("safety", config)


def resolve_path(path: str | Path) -> Path:
    """A configured path: absolute, relative to the working directory, or to the repository."""
    path = Path(path)
    if path.is_absolute() or path.exists():
        return path
    return REPO_ROOT / path


class Guardrail:
    """Two-pass guardrail with session-level signals, escalation and a review queue."""

    def __init__(
        self,
        classifier: Pass1Classifier,
        verifier: VerifierBackend,
        resources: CrisisResources,
        config: dict[str, Any],
        review_queue: ReviewQueue | None = None,
    ):
        self.classifier = classifier
        self.verifier = verifier
        self.resources = resources
        self.cfg = section(config)
        self.review_queue = review_queue

    @classmethod
    def load(
        cls, safety_dir: Path, config: dict[str, Any], review_queue: Path | None = None
    ) -> Guardrail:
        """Load pass 1 (``model/``), pass 2 (``verifier/``) and the crisis resources.

        ``config`` is the full workflow config or its ``safety`` section; the resources path
        (``safety.escalation.resources``) may be relative to the working directory or to the
        repository.
        """
        cfg = section(config)
        safety_dir = Path(safety_dir)
        classifier = Pass1Classifier.load(safety_dir / "model")
        verifier = load_verifier(safety_dir / "verifier", cfg, encoder=classifier.encoder)
        esc = cfg["escalation"]
        resources = load_resources(resolve_path(esc["resources"]), esc["max_age_days"])
        queue = ReviewQueue(review_queue) if review_queue is not None else None
        classifier.score_message("warm-up")  # first-call set-up cost stays out of turn latency
        return cls(classifier, verifier, resources, cfg, queue)

    @property
    def threshold(self) -> float:
        """The calibrated pass-1 threshold on the combined score."""
        return self.classifier.threshold

    def new_session(
        self, session_id: str, participant_id: str, region: str, language: str
    ) -> SessionState:
        """Start tracking a conversation."""
        return SessionState(str(session_id), str(participant_id), region, language)

    def check_turn(
        self, state: SessionState, user_message: str, draft_reply: str | None
    ) -> TurnDecision:
        """Check one user turn (and the model's draft reply, if there is one)."""
        vcfg = self.cfg["verifier"]
        start = time.perf_counter()
        message_score = self.classifier.score_message(user_message)
        signals = self.classifier.signals(state.scores, message_score)
        score = signals.pop("combined")
        signals["unreadable"] = float(
            message_score >= 1.0 and self.classifier.unreadable(user_message)
        )  # another language: scored 1 unread, pass 2 decides
        flagged = score >= self.classifier.threshold
        pass1_ms = (time.perf_counter() - start) * 1000
        pass2 = reason = probs = None
        pass2_ms = 0.0
        action, reply, escalation = "allow", draft_reply, None
        if flagged:
            start = time.perf_counter()
            pass2, probs, reason = decide_fail_closed(
                self.verifier,
                user_message,
                draft_reply,
                timeout_s=vcfg["timeout_s"],
                allow_min=vcfg["allow_min"],
                block_min=vcfg["block_min"],
            )
            pass2_ms = (time.perf_counter() - start) * 1000
            action = pass2
            if action != "allow":
                resource = self.resources.pick(state.region, state.language)
                reply = escalation_message(resource)
                escalation = {
                    k: resource[k]
                    for k in ("region", "language", "service", "contact", "fallback", "stale")
                }
        escalated = escalation is not None
        decision = TurnDecision(
            flagged=flagged,
            score=score,
            signals=signals,
            pass2=pass2,
            action=action,
            reply=reply,
            escalated=escalated,
            escalation=escalation,
            latency_ms={"pass1": pass1_ms, "pass2": pass2_ms},
            pass2_reason=reason,
        )
        if flagged and self.review_queue is not None:
            self.review_queue.append(
                {
                    "session_id": state.session_id,
                    "participant_id": state.participant_id,
                    "turn": state.turn,
                    "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    "user_message": user_message,
                    "draft_reply": draft_reply,
                    "score": score,
                    "threshold": self.classifier.threshold,
                    "signals": signals,
                    "pass2": pass2,
                    "pass2_reason": reason,
                    "pass2_probs": probs,
                    "action": action,
                    "escalated": escalated,
                    "escalation": escalation,
                    "reply": reply,
                }
            )
        state.scores.append(message_score)
        state.turn += 1
        state.flagged = state.flagged or flagged
        state.escalated = state.escalated or escalated
        state.max_score = max(state.max_score, score)
        return decision
