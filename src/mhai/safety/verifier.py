"""Pass 2: the verifier reads a flagged turn (user message + draft reply) and decides
``allow`` (show the draft), ``replace`` (show the escalation message instead) or ``block``
(the draft itself is harmful; never show it).

Two backends:

- ``finetuned`` (default): heads trained on project data over the pass-1 sentence
  embeddings of the message and the draft (shared encoder): is the user at risk, is the
  draft harmful, does the draft answer risk adequately. Labels come from the message's risk
  label and the draft type (``drafts.yaml``); see :class:`FinetunedVerifier`.
- ``prompted``: an instruct causal LM asked for one word; the decision is read from the
  next-token probabilities of the option words (no sampling, no parsing).

:func:`decide_fail_closed` runs either backend with a timeout: an exception or a timeout
gives ``replace`` (and the guardrail escalates), so a failing verifier never lets a flagged
turn through.
"""

from __future__ import annotations

import json
import random
import threading
import time
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import yaml

from mhai.safety.corpus import fill, load_templates

DECISIONS = ("allow", "replace", "block")
VERIFIER_FILE = "verifier.json"
HEAD_FILE = "head.npz"


class VerifierBackend(Protocol):
    """Anything that maps (message, draft) to probabilities over :data:`DECISIONS`."""

    name: str
    # optional: ``in_process = True`` for a backend that cannot block (see decide_fail_closed)

    def probs(self, message: str, draft: str | None) -> dict[str, float]: ...


@cache
def load_drafts() -> dict[str, Any]:
    """Draft-reply templates by type (shipped with the package)."""
    text = resources.files("mhai.safety").joinpath("drafts.yaml").read_text("utf-8")
    return yaml.safe_load(text)["types"]


def decision_label(risk: int, draft_type: str | None) -> str:
    """The correct pass-2 decision for a message's risk label and a draft type."""
    if draft_type is not None and load_drafts()[draft_type]["harmful"]:
        return "block"
    if not risk:
        return "allow"
    if draft_type is not None and load_drafts()[draft_type]["safe_for_risk"]:
        return "allow"
    return "replace"


def decide(probs: dict[str, float], allow_min: float, block_min: float) -> str:
    """Recall-first rule: block if P(block) is high enough, allow only if P(allow) is high."""
    if probs["block"] >= block_min:
        return "block"
    if probs["allow"] >= allow_min:
        return "allow"
    return "replace"


def build_pairs(corpus: pd.DataFrame, seed: int, drafts_per_message: int) -> pd.DataFrame:
    """(message, draft) pairs with labels; draft templates are split like the messages.

    Each message is paired with ``drafts_per_message`` drafts of random types (one of them
    may be empty: no draft yet). Held-out messages only meet held-out draft templates.
    """
    rng = random.Random(seed)
    slots = load_templates()["slots"]
    types = load_drafts()
    split_templates: dict[tuple[str, str], list[str]] = {}
    for name, spec in types.items():
        order = list(spec["templates"])
        rng.shuffle(order)
        n_held = max(1, len(order) // 5)
        split_templates[(name, "test")] = order[:n_held]
        split_templates[(name, "calib")] = order[n_held : 2 * n_held]
        split_templates[(name, "train")] = order[2 * n_held :]
    names = [*types, None]
    rows = []
    for msg in corpus.itertuples():
        for draft_type in rng.sample(names, min(drafts_per_message, len(names))):
            draft = (
                ""
                if draft_type is None
                else fill(rng.choice(split_templates[(draft_type, msg.split)]), rng, slots)
            )
            rows.append(
                {
                    "message_id": msg.id,
                    "message": msg.text,
                    "draft": draft,
                    "draft_type": draft_type or "empty",
                    "risk": int(msg.label),
                    "category": msg.category,
                    "split": msg.split,
                    "decision": decision_label(int(msg.label), draft_type),
                }
            )
    return pd.DataFrame(rows)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


HEADS = ("risk", "harmful", "adequate")


class FinetunedVerifier:
    """Three logistic heads on frozen pass-1 embeddings, combined into decision probabilities.

    ``risk`` reads the message (is the user at risk?), ``harmful`` and ``adequate`` read the
    draft (does it carry harmful content? does it respond to risk with a safety check and
    resources?). ``P(block) = harmful``; ``P(allow) = (1 - harmful) * (1 - risk * (1 -
    adequate))``; ``P(replace)`` is the rest. An empty draft is neither harmful nor adequate.
    Weights live in ``head.npz`` (loaded without pickle).
    """

    name = "finetuned"
    in_process = True  # embeddings and three dot products: nothing that can block

    def __init__(
        self,
        encoder,
        heads: dict[str, tuple[np.ndarray, float]],
        thresholds: dict[str, float] | None = None,
    ):
        self.encoder = encoder
        self.heads = {k: (np.asarray(w, dtype=np.float32), float(b)) for k, (w, b) in heads.items()}
        self.thresholds = thresholds

    def _head(self, name: str, x: np.ndarray) -> np.ndarray:
        w, b = self.heads[name]
        return _sigmoid(x @ w + b)

    def _embed(self, text: str) -> np.ndarray:
        chunks = self.encoder.encode_one(text)
        mean = chunks.mean(axis=0)
        return mean / max(float(np.linalg.norm(mean)), 1e-12)

    def probs_batch(self, u: np.ndarray, v: np.ndarray, empty: np.ndarray | None = None):
        """Decision probabilities (columns in :data:`DECISIONS` order) for embedding pairs."""
        risk = self._head("risk", u)
        harmful = self._head("harmful", v)
        adequate = self._head("adequate", v)
        if empty is not None:
            harmful = np.where(empty, 0.0, harmful)
            adequate = np.where(empty, 0.0, adequate)
        allow = (1 - harmful) * (1 - risk * (1 - adequate))
        return np.stack([allow, 1 - harmful - allow, harmful], axis=1)

    def probs(self, message: str, draft: str | None) -> dict[str, float]:
        """Decision probabilities for one turn."""
        u = self._embed(message)[None, :]
        has_draft = bool(draft and draft.strip())
        v = self._embed(draft)[None, :] if has_draft else np.zeros_like(u)
        p = self.probs_batch(u, v, np.array([not has_draft]))[0]
        return {d: float(p[i]) for i, d in enumerate(DECISIONS)}

    def save(self, out_dir: str | Path, embedding_dir: str, meta: dict[str, Any]) -> Path:
        """Write ``verifier.json`` and ``head.npz``; ``embedding_dir`` is relative to out_dir."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        arrays = {f"{k}_w": w for k, (w, _) in self.heads.items()}
        arrays.update({f"{k}_b": np.array(b) for k, (_, b) in self.heads.items()})
        np.savez(out_dir / HEAD_FILE, **arrays)
        document = {
            "kind": "mhai.safety.verifier",
            "backend": self.name,
            "decisions": list(DECISIONS),
            "heads": list(self.heads),
            "thresholds": self.thresholds,
            "embedding": {
                "dir": embedding_dir,
                "max_tokens": self.encoder.max_tokens,
                "quantize": self.encoder.quantize,
            },
            "meta": meta,
        }
        (out_dir / VERIFIER_FILE).write_text(json.dumps(document, indent=1))
        return out_dir

    @classmethod
    def load(cls, verifier_dir: str | Path, encoder=None) -> FinetunedVerifier:
        """Load saved heads; the encoder is shared with pass 1 when given."""
        from mhai.safety.encoder import SentenceEncoder

        verifier_dir = Path(verifier_dir)
        path = verifier_dir / VERIFIER_FILE
        if not path.exists():
            raise FileNotFoundError(
                f"{verifier_dir}: no verifier here ({VERIFIER_FILE} missing); "
                "run the workflow's safety_train_verifier rule first"
            )
        document = json.loads(path.read_text())
        if encoder is None:
            emb = document["embedding"]
            encoder = SentenceEncoder(
                verifier_dir / emb["dir"], max_tokens=emb["max_tokens"], quantize=emb["quantize"]
            )
        with np.load(verifier_dir / HEAD_FILE, allow_pickle=False) as arrays:
            heads = {k: (arrays[f"{k}_w"], float(arrays[f"{k}_b"])) for k in document["heads"]}
        return cls(encoder, heads, document.get("thresholds"))


def train_finetuned(
    pairs: pd.DataFrame,
    message_emb: dict[str, np.ndarray],
    draft_emb: dict[str, np.ndarray],
    encoder,
    C: float,
    seed: int,
) -> FinetunedVerifier:
    """Fit the three heads on the ``train`` pairs' messages and (non-empty) drafts."""
    from sklearn.linear_model import LogisticRegression

    train = pairs[pairs["split"] == "train"]
    messages = train.drop_duplicates("message")
    drafts = train[train["draft"] != ""].drop_duplicates("draft")
    types = load_drafts()
    targets = {
        "risk": (messages["message"], messages["risk"], message_emb),
        "harmful": (
            drafts["draft"],
            drafts["draft_type"].map(lambda t: types[t]["harmful"]),
            draft_emb,
        ),
        "adequate": (
            drafts["draft"],
            drafts["draft_type"].map(lambda t: types[t]["safe_for_risk"]),
            draft_emb,
        ),
    }
    heads = {}
    for name, (texts, labels, emb) in targets.items():
        y = np.asarray(labels, dtype=int)
        if len(set(y)) < 2:
            raise ValueError(f"verifier head {name!r}: training pairs hold only one class")
        model = LogisticRegression(C=C, class_weight="balanced", max_iter=5000, random_state=seed)
        model.fit(np.stack([emb[t] for t in texts]), y)
        heads[name] = (model.coef_[0], float(model.intercept_[0]))
    return FinetunedVerifier(encoder, heads)


NEVER_ALLOW = 1.01  # an allow_min above every probability: nothing is allowed


def calibrate_thresholds(
    probs: np.ndarray, decisions: np.ndarray, max_unsafe_allow: float
) -> tuple[dict[str, float], float]:
    """Pick (allow_min, block_min) on held-out pairs: most accurate among the pairs of
    thresholds that allow at most ``max_unsafe_allow`` of the pairs that must not be allowed.
    Returns the thresholds and their accuracy. :data:`NEVER_ALLOW` is on the allow grid, so
    when no other allow_min keeps to the limit the verifier fails closed (it never allows)."""
    if not len(decisions):
        raise ValueError("verifier calibration: no (message, draft) pairs in the calib split")
    grid = np.round(np.arange(0.3, 0.951, 0.05), 2)
    must_not_allow = decisions != "allow"
    best, best_acc = {}, -1.0
    for allow_min in [*grid, NEVER_ALLOW]:
        for block_min in grid:
            pred = np.where(
                probs[:, 2] >= block_min,
                "block",
                np.where(probs[:, 0] >= allow_min, "allow", "replace"),
            )
            unsafe = (pred[must_not_allow] == "allow").mean() if must_not_allow.any() else 0.0
            acc = float((pred == decisions).mean())
            if unsafe <= max_unsafe_allow and acc > best_acc:
                best, best_acc = {"allow_min": float(allow_min), "block_min": float(block_min)}, acc
    return best, best_acc


class PromptedVerifier:
    """An instruct LM asked for one word; probabilities from the option tokens' logits."""

    name = "prompted"
    INSTRUCTION = (
        "You are a clinical safety reviewer for a mental-health support chat. Read the user's "
        "message and the assistant's draft reply. Answer with exactly one word:\n"
        "allow - the draft is safe and appropriate to send;\n"
        "replace - the user may be at risk and the draft does not respond to that risk "
        "(no safety check, no crisis resources);\n"
        "block - the draft is harmful (method details, agreeing with a delusion or with "
        "self-harm, encouraging violence or reckless acts)."
    )

    def __init__(self, model, tokenizer, max_tokens: int = 512):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.option_ids = {d: self._candidate_ids(d) for d in DECISIONS}

    def _candidate_ids(self, word: str) -> list[int]:
        ids = set()
        for variant in (word, " " + word, word.capitalize(), " " + word.capitalize()):
            tokens = self.tokenizer.encode(variant, add_special_tokens=False)
            if tokens:
                ids.add(tokens[0])
        return sorted(ids)

    def prompt(self, message: str, draft: str | None) -> str:
        """The chat-formatted prompt ending where the one-word answer starts."""
        content = (
            f"{self.INSTRUCTION}\n\nUser message:\n{message}\n\n"
            f"Draft reply:\n{draft or '(no draft)'}\n\nAnswer (allow, replace or block):"
        )
        return self.tokenizer.apply_chat_template(
            [{"role": "user", "content": content}], tokenize=False, add_generation_prompt=True
        )

    def probs(self, message: str, draft: str | None) -> dict[str, float]:
        """Softmax over the option words' (log-sum-exp) next-token logits."""
        import torch

        batch = self.tokenizer(
            self.prompt(message, draft),
            return_tensors="pt",
            add_special_tokens=False,
            truncation=True,
            max_length=self.max_tokens,
        ).to(self.model.device)
        with torch.inference_mode():
            logits = self.model(**batch).logits[0, -1].float()
        scores = torch.stack([torch.logsumexp(logits[self.option_ids[d]], 0) for d in DECISIONS])
        p = torch.softmax(scores, 0).tolist()
        return {d: float(p[i]) for i, d in enumerate(DECISIONS)}

    @classmethod
    def load(cls, model_dir: str | Path, max_tokens: int = 512) -> PromptedVerifier:
        """Load the instruct model and tokenizer from a saved folder."""
        from mhai.models import load_causal_lm, load_tokenizer

        model = load_causal_lm(model_dir, device="auto")
        return cls(model, load_tokenizer(model_dir), max_tokens)


def decide_fail_closed(
    backend: VerifierBackend,
    message: str,
    draft: str | None,
    timeout_s: float,
    allow_min: float,
    block_min: float,
) -> tuple[str, dict[str, float] | None, str]:
    """Run the backend with a timeout; returns ``(decision, probs, reason)``.

    Any exception or a timeout gives ``replace`` with the reason recorded: the guardrail then
    shows the escalation message, never the unverified draft. A backend runs in a worker
    thread that is abandoned at the timeout, unless it declares ``in_process = True`` (it
    cannot block, like the fine-tuned heads): then it runs in the caller's thread, which
    spares a thread start competing with torch's threads for the cores, and a call that took
    longer than the timeout still fails closed. A backend with its own calibrated
    ``thresholds`` uses them instead of ``allow_min``/``block_min``.
    """
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["probs"] = backend.probs(message, draft)
        except BaseException as exc:  # noqa: BLE001 - any failure must fail closed
            box["error"] = exc

    if getattr(backend, "in_process", False):
        start = time.perf_counter()
        run()
        if time.perf_counter() - start > timeout_s:
            return "replace", None, f"fail-closed: took longer than the {timeout_s:g}s timeout"
    else:
        worker = threading.Thread(target=run, name="pass2-verifier", daemon=True)
        worker.start()
        worker.join(timeout_s)
        if worker.is_alive():
            return "replace", None, f"fail-closed: timeout after {timeout_s:g}s"
    if "error" in box:
        exc = box["error"]
        return "replace", None, f"fail-closed: {type(exc).__name__}: {exc}"
    probs = box.get("probs")
    if not isinstance(probs, dict) or set(probs) != set(DECISIONS):
        return "replace", None, "fail-closed: backend returned no valid probabilities"
    own = getattr(backend, "thresholds", None)
    if own:
        allow_min, block_min = own["allow_min"], own["block_min"]
    return decide(probs, allow_min, block_min), probs, backend.name


def load_verifier(verifier_dir: str | Path, cfg: dict[str, Any], encoder=None) -> VerifierBackend:
    """The configured backend (``safety.verifier.backend``)."""
    backend = cfg["verifier"]["backend"]
    if backend == "finetuned":
        return FinetunedVerifier.load(verifier_dir, encoder=encoder)
    if backend == "prompted":
        return PromptedVerifier.load(cfg["verifier"]["prompted_model"])
    raise ValueError(f"safety.verifier.backend: unknown backend {backend!r}")
