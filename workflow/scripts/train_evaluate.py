"""Rule train_evaluate: held-out metrics of base, SFT, DPO; metrics.json, table, figure."""

from pathlib import Path

from mhai.logs import setup_script_logging
from mhai.tracking import stage_run
from mhai.train.recipes import load_recipe
from mhai.train.runner import write_json
from mhai.train.summary import compute_metrics, metrics_frame, read_history, training_curves

smk = snakemake  # noqa: F821
log = setup_script_logging(smk)
model = smk.wildcards.model
steps = [Path(adapter).parent.name for adapter in smk.input.adapters]
recipes = {step: load_recipe(path) for step, path in zip(steps, smk.input.recipes, strict=True)}
histories = {
    step: read_history(path) for step, path in zip(steps, smk.input.histories, strict=True)
}
with stage_run("train", smk.config, name=f"{model}-evaluate") as run:
    metrics = compute_metrics(
        smk.input.base,
        dict(zip(steps, smk.input.adapters, strict=True)),
        recipes,
        sft_path=smk.input.sft_data,
        pairs_path=smk.input.pairs,
        eval_config=smk.params.eval,
    )
    for step, values in metrics.items():
        log.info("%s %s: %s", model, step, values)
    write_json(metrics, smk.output.metrics)
    run.log_metrics(metrics, prefix=f"train/{model}")
    run.log_table(f"{model}_metrics", metrics_frame(model, metrics))
    run.save_figure(training_curves(model, histories, metrics), f"{model}_curves")
