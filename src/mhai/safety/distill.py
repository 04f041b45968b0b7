"""A shallower pass-1 encoder distilled from the full one (layer reduction).

Pass 1 has a latency budget (p95 under 10 ms per message on one CPU core) that MiniLM's six
layers miss on long messages. The student is a copy of the teacher that keeps its first
``layers`` layers and is trained to reproduce the teacher's sentence embeddings (squared
distance between the unit vectors, i.e. ``2 - 2 cos``). Cutting layers without this step
changes the embedding enough to cost recall on adversarial messages; after it the student's
embedding space is the teacher's, up to the distillation loss. The loss needs no labels, so
the student sees every sentence the project has outside the held-out test split: the safety
corpus's training and calibration messages and training sentences, and the data stage's
de-identified Reddit messages. The result is an ordinary sentence-transformers folder with a
``distillation.json`` record (losses, and the teacher-student cosine on sentences kept out
of training, before and after).
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from mhai.safety.encoder import deobfuscate, mean_pooled, split_sentences

log = logging.getLogger(__name__)
RECORD_FILE = "distillation.json"


def distillation_sentences(
    texts: Iterable[str], extra: Iterable[str], max_sentences: int, seed: int
) -> list[str]:
    """Unique sentences as the encoder sees them: every one of ``texts``, then a seeded
    sample of those of ``extra`` up to ``max_sentences`` in all (a sample of ``texts``'
    own if they alone are more)."""
    rng = np.random.default_rng(seed)

    def unique(items: Iterable[str], skip: set[str]) -> list[str]:
        found = {s for t in items for s in split_sentences(deobfuscate(str(t).strip()))}
        return sorted(found - skip)

    def sample(items: list[str], n: int) -> list[str]:
        if len(items) <= n:
            return items
        return [items[i] for i in sorted(rng.choice(len(items), n, replace=False))]

    first = sample(unique(texts, set()), max_sentences)
    rest = sample(unique(extra, set(first)), max_sentences - len(first))
    return sorted(first + rest)


def length_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator):
    """Shuffled batches of indices, each cut from a run of similar lengths (little padding)."""
    order = rng.permutation(len(lengths))
    pool = batch_size * 16
    batches = []
    for start in range(0, len(order), pool):
        part = order[start : start + pool]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    return batches


def keep_first_layers(model, layers: int) -> None:
    """Cut a BERT-style encoder (``model.encoder.layer``) down to its first ``layers``."""
    stack = getattr(getattr(model, "encoder", None), "layer", None)
    if stack is None:
        raise ValueError(f"cannot cut layers of a {type(model).__name__} (no encoder.layer)")
    if not 1 <= layers <= len(stack):
        raise ValueError(f"distill.layers must be 1..{len(stack)}, got {layers}")
    model.encoder.layer = stack[:layers]
    model.config.num_hidden_layers = layers


def distill_encoder(
    teacher_dir: Path,
    out_dir: Path,
    sentences: list[str],
    cfg: dict[str, Any],
    max_tokens: int,
    seed: int,
) -> dict[str, Any]:
    """Train a ``cfg["layers"]``-layer student of ``teacher_dir`` on ``sentences``; save it.

    ``cfg`` is ``safety.classifier.distill`` (layers, epochs, learning_rate, batch_size,
    holdout). Returns the record also written to ``out_dir/distillation.json``.
    """
    import torch
    from tqdm.auto import tqdm

    from mhai.models import load_embedder

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    holdout = rng.random(len(sentences)) < cfg["holdout"]
    train = [s for s, h in zip(sentences, holdout, strict=True) if not h]
    check = [s for s, h in zip(sentences, holdout, strict=True) if h]
    if not train:
        raise ValueError("no sentences to distil the encoder on")
    teacher = load_embedder(teacher_dir)
    student = copy.deepcopy(teacher)
    tokenizer = teacher.tokenizer
    model = student[0].auto_model
    teacher_layers = model.config.num_hidden_layers
    keep_first_layers(model, cfg["layers"])
    batch_size = cfg["batch_size"]

    def tokens(texts):
        return tokenizer(
            texts, return_tensors="pt", padding=True, truncation=True, max_length=max_tokens
        )

    def embed(encoder, texts):
        with torch.inference_mode():
            rows = [
                mean_pooled(encoder, tokens(texts[i : i + batch_size]))
                for i in range(0, len(texts), batch_size)
            ]
        return torch.cat(rows) if rows else torch.zeros(0, model.config.hidden_size)

    def agreement() -> float | None:
        if not check:
            return None
        model.eval()
        cos = (embed(model, check) * check_target).sum(-1).mean()
        return round(float(cos), 4)

    teacher_model = teacher[0].auto_model.eval()
    target = embed(teacher_model, train)
    check_target = embed(teacher_model, check)
    before = agreement()
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg["learning_rate"])
    lengths = np.array([len(s) for s in train])
    losses = []
    for epoch in range(cfg["epochs"]):
        model.train()
        epoch_losses = []
        batches = length_batches(lengths, batch_size, rng)
        for idx in tqdm(batches, desc=f"distil encoder {epoch + 1}/{cfg['epochs']}", unit="step"):
            predicted = mean_pooled(model, tokens([train[i] for i in idx]))
            loss = ((predicted - target[idx]) ** 2).sum(-1).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            epoch_losses.append(loss.item())
        losses.append(round(float(np.mean(epoch_losses)), 4))
        log.info("distillation epoch %d: mean loss %.4f", epoch + 1, losses[-1])
    record = {
        "teacher": str(teacher_dir),
        "teacher_layers": teacher_layers,
        "layers": cfg["layers"],
        "train_sentences": len(train),
        "holdout_sentences": len(check),
        "epochs": cfg["epochs"],
        "learning_rate": cfg["learning_rate"],
        "epoch_loss": losses,
        "holdout_cosine_before": before,
        "holdout_cosine_after": agreement(),
    }
    model.eval()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    student.save(str(out_dir))
    (out_dir / RECORD_FILE).write_text(json.dumps(record, indent=2))
    log.info(
        "student of %d layers: teacher cosine on %d held-out sentences %s -> %s",
        cfg["layers"],
        len(check),
        before,
        record["holdout_cosine_after"],
    )
    return record
