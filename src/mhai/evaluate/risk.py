"""Pass-1 risk of replies, from the safety stage's saved classifier."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def pass1_risk(texts: Sequence[str], classifier_dir: str | Path) -> list[float]:
    """Calibrated pass-1 risk probability of each text (message score, no session context).

    Empty texts get 0.0 (there is nothing to flag).
    """
    from mhai.safety.classifier import Pass1Classifier

    texts = [t if isinstance(t, str) else "" for t in texts]
    present = [i for i, t in enumerate(texts) if t.strip()]
    scores = [0.0] * len(texts)
    if present:
        classifier = Pass1Classifier.load(classifier_dir)
        values = classifier.score_texts([texts[i] for i in present], progress=len(present) > 256)
        for i, value in zip(present, values, strict=True):
            scores[i] = float(value)
    return scores
