"""Rule analysis_trial: analyse the trial tables; write the tables, paper table and figures."""

from pathlib import Path

from mhai.analysis.stage import run_trial_stage
from mhai.logs import setup_script_logging

smk = snakemake  # noqa: F821
log = setup_script_logging(smk)
safety_ops = smk.input.safety_ops[0] if smk.input.safety_ops else None
trial_dir = Path(smk.input.trial[0]).parent  # pilot.trial_source
summary = run_trial_stage(trial_dir, safety_ops, dict(smk.output.items()), smk.config)
log.info("done: %s", summary)
