"""Fast sentence embeddings for the guardrail (pass 1 and the fine-tuned verifier).

Wraps a sentence-transformers folder (MiniLM by default) but runs its transformer directly
with mean or CLS pooling, which saves the per-call overhead of ``SentenceTransformer.encode``
on single chat messages. On CPU the linear layers can be int8 dynamically quantized (about
3x faster for short inputs); training and inference use the same encoder, so scores stay
consistent. Texts are split into chunks that are embedded separately (one batch per
message): with ``split="sentence"`` (the default for pass 1) every sentence is a chunk, so one
risk sentence is not averaged away by the everyday sentences around it; with
``split="length"`` only texts longer than ``max_tokens`` are split, at sentence boundaries.
For a BERT encoder the one-message path packs the chunks into a single unpadded sequence
with block-diagonal attention, restarted positions and one fused QKV projection: in float32
the same embeddings as a padded batch, with none of the padding's compute (about a quarter
less time per message); with int8 the activation scale no longer sees padding rows.
"""

from __future__ import annotations

import copy
import re
import warnings
from pathlib import Path

import numpy as np

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")
SPLITS = ("sentence", "length")
_LEET = str.maketrans({"1": "i", "3": "e", "0": "o", "4": "a", "5": "s", "7": "t", "$": "s",
                       "!": "i", "@": "a", "|": "l"})  # fmt: skip
_MIXED = re.compile(r"(?<![\w$@!|])(?=[\w$@!|]*[a-zA-Z])(?=[\w$@!|]*[0-9$@!|][\w$@!|]*[a-zA-Z])"
                    r"[\w$@!|]+")  # fmt: skip
_TIME_OR_COUNT = re.compile(r"\d+(am|pm|st|nd|rd|th|s|h|hrs?|k|m|x|mg|kg|lbs?|yo)", re.IGNORECASE)
_SPACED = re.compile(r"\b(?:[a-zA-Z] ){3,}[a-zA-Z]\b")


def deobfuscate(text: str) -> str:
    """Undo common obfuscation of words: leetspeak inside words ("k1ll", "$uicide", "d!e")
    and letters spaced out ("s u i c i d e"). Times and counts ("3am", "10mg") stay."""

    def unleet(match: re.Match) -> str:
        word = match.group(0)
        return word if _TIME_OR_COUNT.fullmatch(word) else word.translate(_LEET)

    text = _MIXED.sub(unleet, text)
    return _SPACED.sub(lambda m: m.group(0).replace(" ", ""), text)


MIN_SENTENCE_WORDS = 4  # shorter fragments ("hey.", "idk.", "ok so") join a neighbour


def split_sentences(text: str, min_words: int = MIN_SENTENCE_WORDS) -> list[str]:
    """Sentences of ``text``; fragments under ``min_words`` words join their neighbour."""
    out: list[str] = []
    pending = ""
    for sentence in (s.strip() for s in _SENTENCE_END.split(text)):
        if not sentence:
            continue
        sentence = f"{pending} {sentence}".strip() if pending else sentence
        pending = ""
        if len(sentence.split()) < min_words:
            pending = sentence
        else:
            out.append(sentence)
    if pending:
        if out:
            out[-1] = f"{out[-1]} {pending}"
        else:
            out.append(pending)
    return out


def mean_pooled(model, batch):
    """Unit-length mean of the last hidden states over the real tokens of ``batch``."""
    import torch

    hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    return torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)


class SentenceEncoder:
    """Embeds texts into unit vectors; ``chunks`` splits long texts for chunk-level scoring."""

    def __init__(
        self,
        model_dir: str | Path,
        max_tokens: int = 128,
        quantize: bool = True,
        split: str = "length",
    ):
        import torch
        from sentence_transformers.sentence_transformer.modules import Normalize, Pooling

        from mhai.models import load_embedder

        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        self.model_dir = Path(model_dir)
        self.max_tokens = int(max_tokens)
        self.quantize = bool(quantize)
        self.split = split
        st = load_embedder(self.model_dir)
        pooling = next((m for m in st if isinstance(m, Pooling)), None)
        mode = str(pooling.pooling_mode) if pooling is not None else "mean"
        if mode not in ("mean", "cls"):
            raise ValueError(f"{model_dir}: pooling {mode!r} not supported (use mean or cls)")
        self.pooling = mode
        self.normalize = any(isinstance(m, Normalize) for m in st)
        self.tokenizer = st.tokenizer
        model = st[0].auto_model.eval()
        if getattr(model, "pooler", None) is not None:
            model.pooler = None  # the CLS pooler head is never used: one Linear less per call
        if self.quantize:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = torch.ao.quantization.quantize_dynamic(
                    model, {torch.nn.Linear}, dtype=torch.qint8
                )
        self.model = model
        self.dim = int(st.get_embedding_dimension())
        config = model.config
        self._packable = (
            config.model_type == "bert"
            and getattr(config, "position_embedding_type", "absolute") == "absolute"
        )
        self._qkv = (
            [_fused_qkv(layer.attention.self) for layer in model.encoder.layer]
            if self._packable
            else []
        )
        backend = getattr(self.tokenizer, "_tokenizer", None)  # the Rust tokenizer, if fast
        if backend is not None:
            backend = copy.deepcopy(backend)
            backend.no_padding()
            backend.enable_truncation(self.max_tokens)
        self._backend = backend

    def _token_ids(self, texts: list[str]) -> list[list[int]]:
        if self._backend is not None:
            return [e.ids for e in self._backend.encode_batch(texts)]
        return self.tokenizer(texts, truncation=True, max_length=self.max_tokens)["input_ids"]

    def _bert_forward(self, ids, positions, mask):
        """BERT encoder layers over one packed sequence (``mask``: additive, or None)."""
        import torch.nn.functional as F

        model = self.model
        emb = model.embeddings
        x = (
            emb.word_embeddings(ids)
            + emb.position_embeddings.weight[positions]
            + emb.token_type_embeddings.weight[0]
        )[None]
        x = emb.LayerNorm(x)
        n, heads = x.shape[1], model.config.num_attention_heads
        for layer, qkv in zip(model.encoder.layer, self._qkv, strict=True):
            q, k, v = qkv(x).view(1, n, 3, heads, -1).permute(2, 0, 3, 1, 4)
            context = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
            out = layer.attention.output
            x = out.LayerNorm(out.dense(context.transpose(1, 2).reshape(1, n, -1)) + x)
            hidden = layer.intermediate.intermediate_act_fn(layer.intermediate.dense(x))
            x = layer.output.LayerNorm(layer.output.dense(hidden) + x)
        return x[0]

    def _embed_packed(self, texts: list[str]) -> np.ndarray:
        """``_embed`` of one message's chunks as a single packed sequence (BERT only)."""
        import torch

        ids = self._token_ids(texts)
        lengths = torch.tensor([len(i) for i in ids])
        segment = torch.repeat_interleave(torch.arange(len(ids)), lengths)
        positions = torch.cat([torch.arange(len(i)) for i in ids])
        mask = None  # additive float mask: built once, not converted again in every layer
        if len(ids) > 1:
            same = segment[:, None] == segment[None, :]
            mask = torch.zeros(same.shape).masked_fill_(~same, float("-inf"))[None, None]
        with torch.inference_mode():
            hidden = self._bert_forward(torch.tensor([t for i in ids for t in i]), positions, mask)
            if self.pooling == "cls":
                pooled = hidden[torch.cumsum(lengths, 0) - lengths]
            else:
                pooled = torch.zeros(len(ids), hidden.shape[1]).index_add_(0, segment, hidden)
                pooled = pooled / lengths[:, None].to(hidden.dtype)
            if self.normalize:
                pooled = torch.nn.functional.normalize(pooled, dim=-1)
        return pooled.numpy()

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
        """Split ``text`` into sentences, or sentence groups of at most ``max_tokens`` tokens."""
        text = deobfuscate(str(text).strip()) or "(empty message)"
        if self.split == "sentence":
            return split_sentences(text)
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
        chunks = self.chunks(text)
        return self._embed_packed(chunks) if self._packable else self._embed(chunks)

    def encode_each(self, texts: list[str], progress: bool = False):
        """``encode`` through the guardrail's per-message path, one text at a time.

        Slower than batches, but with int8 dynamic quantization the activation scales are
        the ones the guardrail sees, so scores and thresholds fitted on these match it.
        """
        from tqdm.auto import tqdm

        parts = [self.encode_one(t) for t in tqdm(texts, desc="embed", disable=not progress)]
        owner = np.repeat(np.arange(len(parts)), [len(p) for p in parts])
        return np.vstack(parts) if parts else np.zeros((0, self.dim), np.float32), owner


def _fused_qkv(attention):
    """One Linear for the query, key and value projections of a BERT self-attention block.

    Int8 weights keep their exact values: the three per-tensor scales become one scale per
    output channel of the fused matrix, so outputs equal the three separate calls.
    """
    import torch

    parts = (attention.query, attention.key, attention.value)
    if all(isinstance(p, torch.nn.Linear) for p in parts):
        weight = torch.cat([p.weight for p in parts])
        bias = torch.cat([p.bias for p in parts])
        return lambda x: torch.nn.functional.linear(x, weight, bias)
    weights = [p.weight() for p in parts]
    if any(w.qscheme() != torch.per_tensor_affine for w in weights):
        return lambda x: torch.cat([p(x) for p in parts], dim=-1)
    scales = torch.cat(
        [torch.full((w.shape[0],), w.q_scale(), dtype=torch.double) for w in weights]
    )
    zeros = torch.cat(
        [torch.full((w.shape[0],), w.q_zero_point(), dtype=torch.long) for w in weights]
    )
    fused = torch.quantize_per_channel(
        torch.cat([w.dequantize() for w in weights]), scales, zeros, 0, weights[0].dtype
    )
    packed = torch.ops.quantized.linear_prepack(fused, torch.cat([p.bias() for p in parts]))
    # reduce_range=True as in torch's dynamic quantized Linear for qint8
    return lambda x: torch.ops.quantized.linear_dynamic(x, packed, True)


def pool_max(values: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    """Per-text maximum of chunk-level ``values`` (texts with one chunk keep their value)."""
    out = np.full(n, -np.inf)
    np.maximum.at(out, owner, values)
    return out
