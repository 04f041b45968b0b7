"""Rules train_sft / train_dpo / train_dpo2: one training job, in-process or via accelerate."""

from pathlib import Path

from mhai.logs import setup_script_logging
from mhai.train.runner import launch

smk = snakemake  # noqa: F821
log = setup_script_logging(smk)
job = {
    "method": smk.params.method,
    "name": f"{smk.wildcards.model}-{Path(smk.output.adapter).parent.name}",
    "recipe": smk.input.recipe,
    "base": smk.input.base,
    "data": smk.input.data,
    "init_adapter": smk.input.get("init_adapter"),
    "adapter_out": smk.output.adapter,
    "history_out": smk.output.history,
    "work_dir": smk.params.work_dir,
    "config": dict(smk.config),
}
log.info("training %s with recipe %s", job["name"], job["recipe"])
launch(
    job,
    launcher=smk.params.launcher,
    num_processes=int(getattr(smk.resources, "gpu", 0) or 0),
    job_file=Path(smk.params.work_dir) / "job.json",
)
