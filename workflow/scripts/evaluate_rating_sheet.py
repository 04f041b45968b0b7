"""Rule evaluate_rating_sheet: the blinded human rating sheet and its private key."""

from mhai.evaluate.pipeline import run_rating_export
from mhai.logs import setup_script_logging

smk = snakemake  # noqa: F821
log = setup_script_logging(smk)
sheet = run_rating_export(
    smk.input.responses, smk.output.sheet, smk.output.key, smk.params.pairs, seed=smk.params.seed
)
log.info("%d items -> %s (key: %s)", len(sheet), smk.output.sheet, smk.output.key)
