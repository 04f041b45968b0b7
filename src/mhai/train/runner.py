"""Plumbing shared by SFT and DPO: loading the base, checkpoints and resuming, launching.

Checkpoints go to a work folder next to the outputs (``save_steps`` in the recipe). A
fingerprint of everything that shapes the run except ``max_steps`` (recipe, data, base model,
starting adapter, seed) is stored with them: a rerun with the same fingerprint resumes from
the last complete checkpoint (so a longer ``max_steps`` continues training), a changed one
starts afresh. Training jobs run in-process (``launcher: python``) or under
``accelerate launch --num_processes N`` (``launcher: accelerate``, GPU clusters).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mhai.train.recipes import Recipe

log = logging.getLogger(__name__)

CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
FINGERPRINT_FILE = "fingerprint.json"


def is_main_process() -> bool:
    """True on the rank-0 process (or when not distributed)."""
    return int(os.environ.get("RANK", "0")) == 0


def load_base_model(base_dir: str | Path, recipe: Recipe):
    """The base causal LM with the recipe's dtype and attention implementation."""
    import torch
    from transformers import AutoModelForCausalLM

    from mhai.models import load_causal_lm

    kwargs = {}
    if recipe.model.get("attn_implementation"):
        kwargs["attn_implementation"] = recipe.model["attn_implementation"]
    if not kwargs:
        return load_causal_lm(base_dir, dtype=recipe.model["dtype"])
    return AutoModelForCausalLM.from_pretrained(
        base_dir, dtype=getattr(torch, recipe.model["dtype"]), use_safetensors=True, **kwargs
    )


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _folder_stamp(folder: Path) -> list:
    """Cheap identity of a model folder: small files by content, weights by size and mtime."""
    stamp = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        stat = path.stat()
        if stat.st_size < 1 << 20:
            stamp.append([str(path.relative_to(folder)), _file_digest(path)])
        else:
            stamp.append([str(path.relative_to(folder)), stat.st_size, stat.st_mtime_ns])
    return stamp


def fingerprint(recipe: Recipe, *, data: list[Path], models: list[Path], seed: int) -> str:
    """A hash of what shapes a training run, leaving out ``max_steps`` so runs can be extended."""
    training = {k: v for k, v in recipe.training.items() if k != "max_steps"}
    parts = {
        "recipe": {**recipe.as_dict(), "training": training},
        "data": [_file_digest(Path(p)) for p in data],
        "models": [_folder_stamp(Path(p)) for p in models],
        "seed": seed,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def last_checkpoint(work_dir: Path) -> Path | None:
    """The highest-numbered complete checkpoint (one with ``trainer_state.json``)."""
    if not work_dir.is_dir():
        return None
    found = []
    for path in work_dir.iterdir():
        match = CHECKPOINT.match(path.name)
        if match and path.is_dir() and (path / "trainer_state.json").is_file():
            found.append((int(match.group(1)), path))
    return max(found)[1] if found else None


def resume_point(work_dir: str | Path, run_fingerprint: str) -> Path | None:
    """The checkpoint to resume from, or None; clears checkpoints of a different run."""
    work_dir = Path(work_dir)
    stamp = work_dir / FINGERPRINT_FILE
    if stamp.is_file() and json.loads(stamp.read_text()).get("fingerprint") == run_fingerprint:
        checkpoint = last_checkpoint(work_dir)
        if checkpoint is not None:
            log.info("resuming from %s", checkpoint)
        return checkpoint
    stale = [p for p in work_dir.glob("checkpoint-*") if p.is_dir()] if work_dir.is_dir() else []
    if stale:
        log.warning(
            "recipe, data or base changed: removing %d old checkpoint(s) in %s",
            len(stale),
            work_dir,
        )
        for path in stale:
            shutil.rmtree(path)
    work_dir.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps({"fingerprint": run_fingerprint}))
    return None


def step_of(checkpoint: Path | None) -> int | None:
    """The global step of a checkpoint folder name (None for no checkpoint)."""
    return int(CHECKPOINT.match(checkpoint.name).group(1)) if checkpoint else None


def evaluated_at(state) -> bool:
    """Whether the trainer already evaluated at its last step (so no extra evaluation)."""
    return any("eval_loss" in h and h.get("step") == state.global_step for h in state.log_history)


def save_adapter(model, tokenizer, out_dir: str | Path) -> Path:
    """Save only the trained ("default") LoRA adapter and the tokenizer."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir, selected_adapters=["default"])
    tokenizer.save_pretrained(out_dir)
    return out_dir


@dataclass
class TrainResult:
    """What a training run did: its log history, where it resumed from, rows used and dropped."""

    history: list[dict]
    resumed_from_step: int | None
    global_step: int
    train_rows: int
    eval_rows: int
    dropped: list[str]
    tokens_seen: int
    train_runtime: float

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def run_trainer(trainer, checkpoint, tokenizer, adapter_out, *, train, held_out, dropped):
    """Train (resuming from ``checkpoint``), evaluate once if the last step did not, save the
    adapter on the main process and summarise the run; shared by SFT and DPO."""
    output = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    if held_out is not None and not evaluated_at(trainer.state):
        trainer.evaluate()
    if trainer.is_world_process_zero():
        save_adapter(trainer.model, tokenizer, adapter_out)
    return TrainResult(
        history=trainer.state.log_history,
        resumed_from_step=step_of(checkpoint),
        global_step=trainer.state.global_step,
        train_rows=len(train),
        eval_rows=len(held_out or []),
        dropped=dropped,
        tokens_seen=int(trainer.state.num_input_tokens_seen),
        train_runtime=float(output.metrics.get("train_runtime", 0.0)),
    )


def write_json(payload: dict, path: str | Path) -> Path:
    """Write a JSON file (creating its folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path


def launch(job: dict[str, Any], *, launcher: str, num_processes: int, job_file: Path) -> None:
    """Run a training job in this process, or under ``accelerate launch`` on N processes."""
    if launcher == "python":
        from mhai.train.entry import run_job

        run_job(job)
        return
    if launcher != "accelerate":
        raise ValueError(f"train.launcher must be 'python' or 'accelerate', got {launcher!r}")
    write_json(job, job_file)
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--num_processes",
        str(max(1, num_processes)),
        "--num_machines",
        "1",
        "-m",
        "mhai.train.entry",
        str(job_file),
    ]
    log.info("launching: %s", " ".join(command))
    sys.stdout.flush()
    subprocess.run(command, check=True, stdout=sys.stdout, stderr=sys.stderr)
