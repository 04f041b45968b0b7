"""Distilling pass 1's encoder: sentence selection, layer cutting, a student that learns."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mhai.config import load_config
from mhai.safety.distill import (
    RECORD_FILE,
    distill_encoder,
    distillation_sentences,
    keep_first_layers,
    length_batches,
)
from mhai.safety.encoder import SentenceEncoder


def test_sentences_are_split_deobfuscated_unique_and_capped():
    texts = ["I feel fine today. Work was long and boring.", "Work was long and boring."] * 3
    texts.append("I w4nt to d1e tonight honestly")
    extra = [
        "Work was long and boring. The bus was late again today.",
        "Cats sleep a lot, I think.",
    ]
    sentences = distillation_sentences(texts, extra, 100, seed=0)
    assert sentences == sorted(set(sentences))
    assert "I want to die tonight honestly" in sentences  # as the encoder will see it
    assert len(sentences) == 5
    # every sentence of texts first; extra fills what is left of the cap
    capped = distillation_sentences(texts, extra, 4, seed=0)
    assert len(capped) == 4 and set(capped) <= set(sentences)
    assert {"I feel fine today.", "Work was long and boring."} <= set(capped)
    assert capped == distillation_sentences(texts, extra, 4, seed=0)
    assert len(distillation_sentences(texts, extra, 2, seed=0)) == 2


def test_length_batches_cover_every_index_once():
    lengths = np.random.default_rng(0).integers(1, 200, 1000)
    batches = length_batches(lengths, 64, np.random.default_rng(1))
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(1000))
    assert max(len(b) for b in batches) == 64
    # sorted within each pool: a batch spans far less than the whole length range
    spread = np.median([np.ptp(lengths[b]) for b in batches if len(b) == 64])
    assert spread < 0.2 * np.ptp(lengths)


def test_keep_first_layers_checks_the_count():
    from transformers import BertConfig, BertModel

    model = BertModel(BertConfig(hidden_size=32, num_hidden_layers=4, num_attention_heads=2,
                                 intermediate_size=64))  # fmt: skip
    first = model.encoder.layer[0]
    keep_first_layers(model, 2)
    assert len(model.encoder.layer) == 2 and model.encoder.layer[0] is first
    assert model.config.num_hidden_layers == 2
    with pytest.raises(ValueError, match="1..2"):
        keep_first_layers(model, 3)


@pytest.mark.slow
def test_student_moves_towards_the_teacher(tmp_path):
    import torch

    from mhai.models import prepare_embedding
    from mhai.safety.corpus import generate_corpus

    torch.set_num_threads(2)
    teacher = prepare_embedding(load_config()["models"]["embedding"], tmp_path / "teacher")
    texts = generate_corpus(12, 0, {"train": 0.6, "calib": 0.2, "test": 0.2})["text"]
    sentences = distillation_sentences(texts, [], 400, seed=0)
    cfg = {"layers": 2, "epochs": 2, "learning_rate": 2e-4, "batch_size": 32, "holdout": 0.1}
    record = distill_encoder(teacher, tmp_path / "student", sentences, cfg, 64, seed=0)

    assert record["train_sentences"] + record["holdout_sentences"] == len(sentences)
    assert record["epoch_loss"][-1] < record["epoch_loss"][0]
    # sentences it never trained on: the student's embeddings come closer to the teacher's
    assert record["holdout_cosine_after"] > record["holdout_cosine_before"] + 0.02
    assert json.loads((tmp_path / "student" / RECORD_FILE).read_text()) == record
    student = SentenceEncoder(tmp_path / "student", 64, quantize=False, split="sentence")
    assert student.model.config.num_hidden_layers == 2
    full = SentenceEncoder(teacher, 64, quantize=False, split="sentence")
    text = "I have been thinking about ending my life."
    cosine = float(student.encode_one(text)[0] @ full.encode_one(text)[0])
    assert 0.5 < cosine <= 1.0
