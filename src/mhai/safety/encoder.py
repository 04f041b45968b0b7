"""Fast sentence embeddings for the guardrail (pass 1 and the fine-tuned verifier).

Wraps a sentence-transformers folder (MiniLM by default) but runs its transformer directly
with mean or CLS pooling, which saves the per-call overhead of ``SentenceTransformer.encode``
on single chat messages. On CPU the linear layers can be int8 dynamically quantized (about
3x faster for short inputs); training and inference use the same encoder, so scores stay
consistent. Texts longer than ``max_tokens`` are split at sentence boundaries into chunks,
each embedded separately, so a risk sentence late in a long post is never truncated away.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")


class SentenceEncoder:
    """Embeds texts into unit vectors; ``chunks`` splits long texts for chunk-level scoring."""

    def __init__(self, model_dir: str | Path, max_tokens: int = 128, quantize: bool = True):
        import torch
        from sentence_transformers.sentence_transformer.modules import Normalize, Pooling

        from mhai.models import load_embedder

        self.model_dir = Path(model_dir)
        self.max_tokens = int(max_tokens)
        self.quantize = bool(quantize)
        st = load_embedder(self.model_dir)
        pooling = next((m for m in st if isinstance(m, Pooling)), None)
        mode = str(pooling.pooling_mode) if pooling is not None else "mean"
        if mode not in ("mean", "cls"):
            raise ValueError(f"{model_dir}: pooling {mode!r} not supported (use mean or cls)")
        self.pooling = mode
        self.normalize = any(isinstance(m, Normalize) for m in st)
        self.tokenizer = st.tokenizer
        model = st[0].auto_model.eval()
        if self.quantize:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = torch.ao.quantization.quantize_dynamic(
                    model, {torch.nn.Linear}, dtype=torch.qint8
                )
        self.model = model
        self.dim = int(st.get_embedding_dimension())

    def _embed(self, texts: list[str]) -> np.ndarray:
        import torch

        batch = self.tokenizer(
            texts, return_tensors="pt", padding=True, truncation=True, max_length=self.max_tokens
        )
        with torch.inference_mode():
            hidden = self.model(**batch).last_hidden_state
            if self.pooling == "cls":
                pooled = hidden[:, 0]
            else:
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            if self.normalize:
                pooled = torch.nn.functional.normalize(pooled, dim=-1)
        return pooled.numpy()

    def chunks(self, text: str) -> list[str]:
        """Split ``text`` into sentence groups of at most ``max_tokens`` tokens each."""
        text = str(text).strip() or "(empty message)"
        if len(self.tokenizer.tokenize(text)) + 2 <= self.max_tokens:
            return [text]
        out: list[str] = []
        current: list[str] = []
        used = 0
        for sentence in (s for s in _SENTENCE_END.split(text) if s.strip()):
            n = len(self.tokenizer.tokenize(sentence))
            if current and used + n + 2 > self.max_tokens:
                out.append(" ".join(current))
                current, used = [], 0
            current.append(sentence)
            used += n
        if current:
            out.append(" ".join(current))
        return out

    def encode(self, texts: list[str], batch_size: int = 64, progress: bool = False):
        """Embed many texts; returns ``(embeddings, owner)`` with one row per chunk.

        ``owner[i]`` is the index of the text that chunk ``i`` came from.
        """
        from tqdm.auto import tqdm

        pieces: list[str] = []
        owner: list[int] = []
        for i, text in enumerate(texts):
            for chunk in self.chunks(text):
                pieces.append(chunk)
                owner.append(i)
        order = np.argsort([len(p) for p in pieces], kind="stable")
        out = np.zeros((len(pieces), self.dim), dtype=np.float32)
        starts = range(0, len(pieces), batch_size)
        for start in tqdm(starts, desc="embed", unit="batch", disable=not progress):
            idx = order[start : start + batch_size]
            out[idx] = self._embed([pieces[j] for j in idx])
        return out, np.asarray(owner, dtype=np.int64)

    def encode_one(self, text: str) -> np.ndarray:
        """Chunk embeddings of one message (the low-latency path of the guardrail)."""
        return self._embed(self.chunks(text))


def pool_max(values: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    """Per-text maximum of chunk-level ``values`` (texts with one chunk keep their value)."""
    out = np.full(n, -np.inf)
    np.maximum.at(out, owner, values)
    return out
