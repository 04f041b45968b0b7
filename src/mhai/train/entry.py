"""One training job (SFT or DPO round) as a function and as ``python -m mhai.train.entry JOB.json``.

The workflow script builds the job (paths, recipe, config) and either calls ``run_job`` or runs
this module under ``accelerate launch`` on several processes. Only rank 0 opens the W&B run,
where the training curves are logged from the trainer's history, and writes the history file.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from mhai.train import runner
from mhai.train.recipes import load_recipe


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Train one step (``job["method"]``: sft or dpo); returns and writes its summary."""
    from mhai.tracking import stage_run
    from mhai.train.dpo import train_dpo
    from mhai.train.sft import train_sft

    config = job["config"]
    recipe = load_recipe(job["recipe"], job["method"])
    common = {
        "base_dir": job["base"],
        "adapter_out": job["adapter_out"],
        "work_dir": job["work_dir"],
        "seed": int(config["seed"]),
        # transformers' per-step W&B callback slowed CPU training by ~60% (6 GM SFT steps:
        # 97 s with it, 51 s without); the curves are logged from the history afterwards.
        "report_to": ["none"],
        "run_name": job["name"],
    }
    main = runner.is_main_process()
    tracking = stage_run("train", config, name=job["name"]) if main else contextlib.nullcontext()
    with tracking as run:
        if recipe.method == "sft":
            result = train_sft(recipe, data_path=job["data"], **common)
        else:
            result = train_dpo(
                recipe, init_adapter=job["init_adapter"], pairs_path=job["data"], **common
            )
        summary = {
            "name": job["name"],
            "recipe": {"path": str(recipe.path), **recipe.as_dict()},
            "data": str(job["data"]),
            **result.as_dict(),
        }
        if run is not None:
            run.log_history(result.history, prefix=f"train/{job['name']}")
            run.log_metrics(
                {
                    "global_step": result.global_step,
                    "train_rows": result.train_rows,
                    "dropped_overlong": len(result.dropped),
                    "tokens_per_second": result.tokens_seen / max(result.train_runtime, 1e-9),
                },
                prefix=f"train/{job['name']}",
            )
    if main:
        runner.write_json(summary, job["history_out"])
    return summary


def main(argv: list[str] | None = None) -> int:
    """Run the job described by a JSON file (used under ``accelerate launch``)."""
    from mhai.logs import setup_logging

    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m mhai.train.entry JOB.json", file=sys.stderr)
        return 2
    setup_logging()
    run_job(json.loads(Path(argv[0]).read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
