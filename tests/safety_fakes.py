"""Small stand-ins for the safety tests: a hashing encoder, a scripted classifier, verifiers."""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path

import numpy as np

from mhai.safety.classifier import Pass1Classifier, SessionParams
from mhai.safety.encoder import split_sentences
from mhai.safety.escalation import load_resources
from mhai.safety.guardrail import Guardrail

REPO = Path(__file__).resolve().parents[1]
TEST_CONFIG = {
    "verifier": {"timeout_s": 0.3, "allow_min": 0.6, "block_min": 0.4, "backend": "finetuned"},
    "escalation": {
        "resources": str(REPO / "data" / "crisis_resources.csv"),
        "max_age_days": 100000,
    },
}


class HashEncoder:
    """Deterministic bag-of-words embeddings (no model); same interface as SentenceEncoder."""

    def __init__(self, dim: int = 64, model_dir: Path | None = None):
        self.dim = dim
        self.max_tokens = 128
        self.quantize = False
        self.model_dir = Path(model_dir or ".")

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for word in re.findall(r"[a-z']+", text.lower()):
            h = int(hashlib.md5(word.encode()).hexdigest(), 16)
            v[h % self.dim] += 1.0 if (h >> 8) % 2 else -1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def chunks(self, text: str) -> list[str]:
        return [text]

    def encode(self, texts, batch_size: int = 64, progress: bool = False):
        return np.stack([self._vec(t) for t in texts]), np.arange(len(texts))

    def encode_one(self, text: str) -> np.ndarray:
        return self._vec(text)[None, :]

    def encode_each(self, texts, progress: bool = False):
        return self.encode(texts)


class SentenceSplitHashEncoder(HashEncoder):
    """``HashEncoder`` splitting texts into sentences like ``SentenceEncoder(split="sentence")``."""

    split = "sentence"

    def chunks(self, text: str) -> list[str]:
        return split_sentences(text)

    def encode(self, texts, batch_size: int = 64, progress: bool = False):
        pieces = [(i, c) for i, t in enumerate(texts) for c in self.chunks(t)]
        return (
            np.stack([self._vec(c) for _, c in pieces]),
            np.array([i for i, _ in pieces], dtype=np.int64),
        )

    def encode_one(self, text: str) -> np.ndarray:
        return np.stack([self._vec(c) for c in self.chunks(text)])


class ScriptedClassifier(Pass1Classifier):
    """A pass-1 classifier whose message scores are looked up in a dict (default 0.01)."""

    def __init__(self, scores: dict[str, float], threshold: float = 0.3, session=None):
        super().__init__(
            HashEncoder(),
            np.zeros((2, 64)),
            np.zeros(2),
            np.array([False, True]),
            (1.0, 0.0),
            threshold,
            session or SessionParams(),
        )
        self.scores = scores

    def score_message(self, text: str) -> float:
        return 1.0 if self.unreadable(text) else self.scores.get(text, 0.01)


class RaisingVerifier:
    name = "raising"

    def probs(self, message, draft):
        raise RuntimeError("verifier crashed")


class SlowVerifier:
    name = "slow"

    def probs(self, message, draft):
        time.sleep(5)
        return {"allow": 1.0, "replace": 0.0, "block": 0.0}


class SlowInProcessVerifier:
    """Declares it cannot block (runs in the caller's thread) but takes longer than 0.3 s."""

    name = "slow-in-process"
    in_process = True

    def probs(self, message, draft):
        time.sleep(0.5)
        return {"allow": 1.0, "replace": 0.0, "block": 0.0}


class GarbageVerifier:
    name = "garbage"

    def probs(self, message, draft):
        return {"yes": 1.0}


class FixedVerifier:
    def __init__(self, decision: str):
        self.name = f"fixed-{decision}"
        self.decision = decision

    def probs(self, message, draft):
        return {d: float(d == self.decision) for d in ("allow", "replace", "block")}


def make_guardrail(
    scores, verifier, queue: Path | None = None, threshold: float = 0.3, session=None
):
    """A Guardrail over scripted scores, the given verifier and the shipped crisis resources."""
    from mhai.safety.escalation import ReviewQueue

    resources = load_resources(TEST_CONFIG["escalation"]["resources"], 100000)
    return Guardrail(
        ScriptedClassifier(scores, threshold, session),
        verifier,
        resources,
        TEST_CONFIG,
        ReviewQueue(queue) if queue else None,
    )
