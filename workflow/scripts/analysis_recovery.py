"""Rule analysis_recovery: parameter recovery over simulated pilots with known truth."""

from mhai.analysis.stage import run_recovery_stage
from mhai.logs import setup_script_logging

smk = snakemake  # noqa: F821
log = setup_script_logging(smk)
run_recovery_stage(dict(smk.output.items()), smk.config, workers=smk.threads)
