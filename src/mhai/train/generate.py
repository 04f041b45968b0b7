"""Batched chat generation for every later stage (evaluation, safety, pilot, the CLI).

``generate`` renders each conversation with the tokenizer's chat template and the
generation prompt, pads on the left so a batch ends where generation starts, seeds torch
before every batch and returns only the new text. ``backend="vllm"`` uses vLLM when it is
installed (cluster scale); the default ``"hf"`` backend runs anywhere.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

Conversation = Sequence[dict[str, str]]


def vllm_available() -> bool:
    """Whether the optional vLLM backend can be used."""
    return importlib.util.find_spec("vllm") is not None


def render_prompts(tokenizer, conversations: Sequence[Conversation]) -> list[str]:
    """Chat-template each conversation, ending with the assistant generation prompt."""
    prompts = []
    for i, conversation in enumerate(conversations):
        if not conversation or any("role" not in m or "content" not in m for m in conversation):
            raise ValueError(
                f"conversation {i}: needs a non-empty list of {{role, content}} messages"
            )
        prompts.append(
            tokenizer.apply_chat_template(
                list(conversation), tokenize=False, add_generation_prompt=True
            )
        )
    return prompts


def generate(
    model,
    tokenizer,
    conversations: Sequence[Conversation],
    *,
    max_new_tokens: int,
    seed: int,
    batch_size: int = 8,
    do_sample: bool = False,
    temperature: float = 0.7,
    backend: str = "hf",
) -> list[str]:
    """Generate one assistant reply per conversation; returns the decoded new text only.

    ``model`` is a loaded causal LM (``backend="hf"``) or a model directory (either backend).
    Greedy decoding is the default; with ``do_sample`` the ``seed`` makes sampling repeatable
    for a given batch size.
    """
    if max_new_tokens < 1 or batch_size < 1:
        raise ValueError("max_new_tokens and batch_size must be at least 1")
    if backend == "vllm":
        return _generate_vllm(
            model, tokenizer, conversations, max_new_tokens, seed, do_sample, temperature
        )
    if backend != "hf":
        raise ValueError(f"unknown generation backend {backend!r} (use 'hf' or 'vllm')")
    if isinstance(model, str | Path):
        from mhai.models import load_causal_lm

        model = load_causal_lm(model)
    return _generate_hf(
        model, tokenizer, conversations, max_new_tokens, seed, batch_size, do_sample, temperature
    )


def _generate_hf(
    model, tokenizer, conversations, max_new_tokens, seed, batch_size, do_sample, temperature
) -> list[str]:
    import torch
    from tqdm.auto import tqdm

    prompts = render_prompts(tokenizer, conversations)
    padding_side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    was_training = model.training
    model.eval()
    sampling = {"do_sample": True, "temperature": temperature, "top_p": 1.0, "top_k": 0}
    greedy = {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
    outputs: list[str] = []
    try:
        batches = range(0, len(prompts), batch_size)
        for start in tqdm(batches, desc="generate", unit="batch", disable=len(batches) < 2):
            torch.manual_seed(seed + start)
            batch = tokenizer(
                prompts[start : start + batch_size],
                return_tensors="pt",
                padding=True,
                add_special_tokens=False,
            ).to(model.device)
            with torch.no_grad():
                tokens = model.generate(
                    **batch,
                    max_new_tokens=max_new_tokens,
                    pad_token_id=tokenizer.pad_token_id,
                    eos_token_id=tokenizer.eos_token_id,
                    **(sampling if do_sample else greedy),
                )
            new = tokens[:, batch["input_ids"].shape[1] :]
            outputs.extend(
                text.strip() for text in tokenizer.batch_decode(new, skip_special_tokens=True)
            )
    finally:
        tokenizer.padding_side = padding_side
        model.train(was_training)
    return outputs


def _generate_vllm(
    model, tokenizer, conversations, max_new_tokens, seed, do_sample, temperature
) -> list[str]:
    if not vllm_available():
        raise ValueError("backend 'vllm' requested but vLLM is not installed (pip install vllm)")
    if not isinstance(model, str | Path):
        raise ValueError("backend 'vllm' needs a model directory, not a loaded model")
    import torch
    from vllm import LLM, SamplingParams

    # Tensor parallel over the GPUs the job was given (one on the shipped SLURM profile).
    llm = LLM(model=str(model), seed=seed, tensor_parallel_size=max(1, torch.cuda.device_count()))
    params = SamplingParams(
        max_tokens=max_new_tokens, temperature=temperature if do_sample else 0.0, seed=seed
    )
    results = llm.generate(render_prompts(tokenizer, conversations), params)
    return [result.outputs[0].text.strip() for result in results]
