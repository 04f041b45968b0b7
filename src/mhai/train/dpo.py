"""Direct preference optimisation with ``trl.DPOTrainer``, continuing the SFT LoRA adapter.

The policy is the base model with the starting adapter (SFT, or DPO for the second round)
loaded as trainable. ``ref_model`` is left as None: with a peft model trl 1.16 keeps a frozen
copy of the starting adapter (named "ref") as the reference, so the implicit reward is measured
against the model DPO starts from; with a fresh adapter that reference would be the
adapter-disabled base. Only the trained adapter is saved.
"""

from __future__ import annotations

import logging
from pathlib import Path

from mhai.train import chatdata, runner
from mhai.train.recipes import Recipe, RecipeError, trainer_config

log = logging.getLogger(__name__)


def prepare_pairs(recipe: Recipe, tokenizer, pairs_path: str | Path):
    """Train and held-out preference pairs as datasets, fitted to ``max_length``."""
    from datasets import Dataset

    fit = {
        "max_length": recipe.max_length,
        "min_completion_tokens": recipe.data["min_completion_tokens"],
        "overlong": recipe.data["overlong"],
        "source": str(pairs_path),
        "recipe": str(recipe.path),
    }
    split = recipe.data
    train = chatdata.fit_to_length(
        tokenizer,
        chatdata.load_pairs(pairs_path, split["train_split"], split["max_train_rows"]),
        **fit,
    )
    eval_rows = chatdata.load_pairs(pairs_path, split["eval_split"], split["max_eval_rows"])
    held_out = chatdata.fit_to_length(tokenizer, eval_rows, **fit) if eval_rows else None

    def to_dataset(rows):
        keys = ("prompt", "chosen", "rejected")
        return Dataset.from_list([{k: r[k] for k in keys} for r in rows])

    return (
        to_dataset(train.rows),
        to_dataset(held_out.rows) if held_out else None,
        train.dropped + (held_out.dropped if held_out else []),
    )


def load_policy(recipe: Recipe, base_dir: str | Path, init_adapter: str | Path):
    """The base model with ``init_adapter`` loaded as the trainable "default" adapter."""
    from peft import PeftModel

    if recipe.lora:
        raise RecipeError(
            f"recipe {recipe.path}: a DPO recipe continues the SFT adapter, so it takes no "
            "'lora' section (set LoRA in the SFT recipe)"
        )
    model = runner.load_base_model(base_dir, recipe)
    return PeftModel.from_pretrained(model, str(init_adapter), is_trainable=True)


def train_dpo(
    recipe: Recipe,
    *,
    base_dir: str | Path,
    init_adapter: str | Path,
    pairs_path: str | Path,
    adapter_out: str | Path,
    work_dir: str | Path,
    seed: int,
    report_to: list[str],
    run_name: str,
) -> runner.TrainResult:
    """Train the adapter in ``init_adapter`` with DPO; resumes from ``work_dir`` checkpoints."""
    from trl import DPOTrainer

    from mhai.models import load_tokenizer

    tokenizer = load_tokenizer(base_dir)
    train, held_out, dropped = prepare_pairs(recipe, tokenizer, pairs_path)
    log.info("DPO: %d train pairs, %d held-out pairs", len(train), len(held_out or []))
    checkpoint = runner.resume_point(
        work_dir,
        runner.fingerprint(
            recipe, data=[Path(pairs_path)], models=[Path(base_dir), Path(init_adapter)], seed=seed
        ),
    )
    model = load_policy(recipe, base_dir, init_adapter)
    args = trainer_config(recipe, work_dir, seed=seed, report_to=report_to, run_name=run_name)
    if held_out is None:
        args.eval_strategy = "no"
    trainer = DPOTrainer(
        model=model,
        ref_model=None,
        args=args,
        train_dataset=train,
        eval_dataset=held_out,
        processing_class=tokenizer,
    )
    return runner.run_trainer(
        trainer, checkpoint, tokenizer, adapter_out, train=train, held_out=held_out, dropped=dropped
    )
