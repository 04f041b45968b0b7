"""Held-out metrics computed the same way for base, SFT and DPO models.

- ``eval_loss``: mean negative log-likelihood per response token of held-out SFT rows (the
  assistant turn only, prompt tokens masked), token-weighted; ``perplexity = exp(eval_loss)``.
- ``pref_accuracy``: share of held-out pairs whose chosen reply gets a higher implicit reward
  than the rejected one, the reward being the model's log-probability of the reply given the
  prompt, **length-normalised** (mean per token) by default or summed (``normalise="sum"``);
  ties count one half. ``reward_margin``: mean of (chosen - rejected) rewards.
- ``dpo_reward_accuracy`` / ``dpo_reward_margin`` (DPO rounds): DPO's own implicit reward,
  ``beta * (log pi(y|x) - log pi_ref(y|x))`` summed over tokens, against the model the round
  started from (its reference in training).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class SequenceScores:
    """Summed log-probability and token count of each completion."""

    logp: np.ndarray
    tokens: np.ndarray

    def reward(self, normalise: str) -> np.ndarray:
        if normalise == "mean":
            return self.logp / np.maximum(self.tokens, 1)
        if normalise == "sum":
            return self.logp
        raise ValueError(f"normalise must be 'mean' or 'sum', got {normalise!r}")


def encode(tokenizer, prompt: list[dict], completion: list[dict], max_length: int):
    """Token ids of prompt + completion and the index where the completion starts.

    The completion's tokens are what the chat template adds after the generation prompt
    (reply text, end-of-turn token); the sequence is cut to ``max_length`` from the end.
    """
    prompt_ids = _ids(
        tokenizer.apply_chat_template(prompt, tokenize=True, add_generation_prompt=True)
    )
    full_ids = _ids(tokenizer.apply_chat_template(prompt + completion, tokenize=True))
    start = 0
    for a, b in zip(prompt_ids, full_ids, strict=False):
        if a != b:
            break
        start += 1
    return full_ids[:max_length], min(start, max_length)


def _ids(value) -> list[int]:
    if hasattr(value, "keys"):
        value = value["input_ids"]
    return list(value)


def score_completions(
    model,
    tokenizer,
    prompts,
    completions,
    *,
    max_length: int,
    batch_size: int,
    desc: str = "score",
) -> SequenceScores:
    """Summed log-probabilities of each completion given its prompt (no gradients)."""
    import torch
    import torch.nn.functional as F
    from tqdm.auto import tqdm

    encoded = [
        encode(tokenizer, p, c, max_length) for p, c in zip(prompts, completions, strict=True)
    ]
    pad = tokenizer.pad_token_id
    logps, counts = [], []
    model.eval()
    device = next(model.parameters()).device
    for start in tqdm(range(0, len(encoded), batch_size), desc=desc, unit="batch"):
        batch = encoded[start : start + batch_size]
        width = max(len(ids) for ids, _ in batch)
        input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
        attention = torch.zeros((len(batch), width), dtype=torch.long)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)
        for row, (ids, begin) in enumerate(batch):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            attention[row, : len(ids)] = 1
            labels[row, begin : len(ids)] = torch.tensor(ids[begin:])
        with torch.no_grad():
            logits = model(
                input_ids=input_ids.to(device), attention_mask=attention.to(device)
            ).logits.float()
        targets = labels[:, 1:].to(device)
        nll = F.cross_entropy(
            logits[:, :-1].transpose(1, 2), targets, reduction="none", ignore_index=-100
        )
        logps.append((-nll.sum(dim=1)).cpu().numpy())
        counts.append((targets != -100).sum(dim=1).cpu().numpy())
    return SequenceScores(np.concatenate(logps), np.concatenate(counts))


def lm_metrics(scores: SequenceScores) -> dict[str, float]:
    """Token-weighted eval loss and perplexity of held-out responses."""
    loss = float(-scores.logp.sum() / max(int(scores.tokens.sum()), 1))
    return {"eval_loss": loss, "perplexity": math.exp(min(loss, 50.0))}


def preference_metrics(
    chosen: np.ndarray, rejected: np.ndarray, prefix: str = ""
) -> dict[str, float]:
    """Accuracy (ties count 1/2) and mean margin of chosen over rejected rewards."""
    diff = np.asarray(chosen, dtype=float) - np.asarray(rejected, dtype=float)
    accuracy = float(np.mean((diff > 0) + 0.5 * (diff == 0)))
    return {f"{prefix}accuracy": accuracy, f"{prefix}margin": float(np.mean(diff))}


def evaluate_model(
    model,
    tokenizer,
    sft_rows: list[dict],
    pairs: list[dict],
    *,
    max_length: int,
    batch_size: int,
    normalise: str = "mean",
    label: str = "model",
) -> tuple[dict[str, float], dict[str, SequenceScores]]:
    """All held-out metrics of one model, plus the raw pair scores (for DPO rewards)."""
    lm = score_completions(
        model,
        tokenizer,
        [r["prompt"] for r in sft_rows],
        [r["completion"] for r in sft_rows],
        max_length=max_length,
        batch_size=batch_size,
        desc=f"{label}: held-out replies",
    )
    prompts = [p["prompt"] for p in pairs]
    scores = {
        side: score_completions(
            model,
            tokenizer,
            prompts,
            [p[side] for p in pairs],
            max_length=max_length,
            batch_size=batch_size,
            desc=f"{label}: {side}",
        )
        for side in ("chosen", "rejected")
    }
    pref = preference_metrics(
        scores["chosen"].reward(normalise), scores["rejected"].reward(normalise)
    )
    metrics = {
        **lm_metrics(lm),
        "pref_accuracy": pref["accuracy"],
        "reward_margin": pref["margin"],
        "n_eval_rows": len(sft_rows),
        "n_eval_pairs": len(pairs),
    }
    return metrics, scores


def dpo_reward_metrics(
    policy: dict[str, SequenceScores], reference: dict[str, SequenceScores], beta: float
) -> dict[str, float]:
    """DPO's implicit-reward accuracy and margin of a policy against its reference."""
    chosen = beta * (policy["chosen"].logp - reference["chosen"].logp)
    rejected = beta * (policy["rejected"].logp - reference["rejected"].logp)
    return preference_metrics(chosen, rejected, prefix="dpo_reward_")


def evaluate_steps(
    base_dir,
    adapters: dict[str, str],
    *,
    sft_rows: list[dict],
    pairs: list[dict],
    max_length: int,
    batch_size: int,
    normalise: str = "mean",
    betas: dict[str, float] | None = None,
    dtype: str = "float32",
) -> dict[str, dict[str, float]]:
    """Metrics for the base model and each adapter, in order (e.g. sft, dpo, dpo2).

    The base model is loaded once; adapters are switched in turn. In float32 each adapter is
    merged into the weights while it is scored and unmerged after (exact to rounding, and the
    forward pass costs what the base model's does, about half of an unmerged LoRA forward on
    CPU); in half precision adapters stay unmerged, so rounding cannot accumulate. For every
    adapter with a ``beta`` in ``betas`` (the DPO rounds), DPO's implicit reward is measured
    against the step before it. Runs on the GPU when there is one.
    """
    import torch
    from peft import PeftModel

    from mhai.models import load_causal_lm, load_tokenizer

    tokenizer = load_tokenizer(base_dir)
    model = load_causal_lm(base_dir, dtype=dtype)
    if torch.cuda.is_available():
        model = model.to("cuda")
    names = list(adapters)
    if not names:
        raise ValueError("evaluate_steps needs at least one adapter (e.g. sft)")
    model = PeftModel.from_pretrained(model, adapters[names[0]], adapter_name=names[0])
    for name in names[1:]:
        model.load_adapter(adapters[name], adapter_name=name)
    kwargs = {"max_length": max_length, "batch_size": batch_size, "normalise": normalise}
    results: dict[str, dict[str, float]] = {}
    with model.disable_adapter():
        results["base"], previous = evaluate_model(
            model, tokenizer, sft_rows, pairs, label="base", **kwargs
        )
    merge = next(model.parameters()).dtype == torch.float32
    for name in names:
        model.set_adapter(name)
        if merge:
            model.merge_adapter([name])
        results[name], scores = evaluate_model(
            model, tokenizer, sft_rows, pairs, label=name, **kwargs
        )
        if merge:
            model.unmerge_adapter()
        if betas and name in betas:
            results[name].update(dpo_reward_metrics(scores, previous, betas[name]))
        previous = scores
    return results
