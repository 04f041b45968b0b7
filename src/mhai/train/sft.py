"""Supervised fine-tuning of a LoRA adapter with ``trl.SFTTrainer`` (loss on the reply only)."""

from __future__ import annotations

import logging
from pathlib import Path

from mhai.train import chatdata, runner
from mhai.train.recipes import Recipe, lora_config, trainer_config

log = logging.getLogger(__name__)


def prepare_sft_data(recipe: Recipe, tokenizer, data_path: str | Path):
    """Train and held-out rows in trl's conversational prompt/completion format, fitted."""
    from datasets import Dataset

    fit = {
        "max_length": recipe.max_length,
        "min_completion_tokens": recipe.data["min_completion_tokens"],
        "overlong": recipe.data["overlong"],
        "source": str(data_path),
        "recipe": str(recipe.path),
    }
    train = chatdata.fit_to_length(
        tokenizer,
        chatdata.load_sft(data_path, recipe.data["train_split"], recipe.data["max_train_rows"]),
        **fit,
    )
    eval_rows = chatdata.load_sft(
        data_path, recipe.data["eval_split"], recipe.data["max_eval_rows"]
    )
    held_out = chatdata.fit_to_length(tokenizer, eval_rows, **fit) if eval_rows else None

    def to_dataset(rows):
        return Dataset.from_list(
            [{"prompt": r["prompt"], "completion": r["completion"]} for r in rows]
        )

    return (
        to_dataset(train.rows),
        to_dataset(held_out.rows) if held_out else None,
        train.dropped + (held_out.dropped if held_out else []),
    )


def build_sft_trainer(recipe: Recipe, model, tokenizer, train, held_out, output_dir, **config):
    """An ``SFTTrainer`` with a fresh LoRA adapter from the recipe."""
    from trl import SFTTrainer

    args = trainer_config(recipe, output_dir, **config)
    if held_out is None:
        args.eval_strategy = "no"
    return SFTTrainer(
        model=model,
        args=args,
        train_dataset=train,
        eval_dataset=held_out,
        processing_class=tokenizer,
        peft_config=lora_config(recipe),
    )


def train_sft(
    recipe: Recipe,
    *,
    base_dir: str | Path,
    data_path: str | Path,
    adapter_out: str | Path,
    work_dir: str | Path,
    seed: int,
    report_to: list[str],
    run_name: str,
) -> runner.TrainResult:
    """Train an SFT LoRA adapter, resuming from the last checkpoint in ``work_dir`` if any."""
    from mhai.models import load_tokenizer

    tokenizer = load_tokenizer(base_dir)
    train, held_out, dropped = prepare_sft_data(recipe, tokenizer, data_path)
    log.info("SFT: %d train rows, %d held-out rows", len(train), len(held_out or []))
    checkpoint = runner.resume_point(
        work_dir,
        runner.fingerprint(recipe, data=[Path(data_path)], models=[Path(base_dir)], seed=seed),
    )
    model = runner.load_base_model(base_dir, recipe)
    trainer = build_sft_trainer(
        recipe,
        model,
        tokenizer,
        train,
        held_out,
        work_dir,
        seed=seed,
        report_to=report_to,
        run_name=run_name,
    )
    return runner.run_trainer(
        trainer, checkpoint, tokenizer, adapter_out, train=train, held_out=held_out, dropped=dropped
    )
