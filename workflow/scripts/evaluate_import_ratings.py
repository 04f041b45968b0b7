"""Rule evaluate_import_ratings: filled sheets -> agreement, human win rates, DPO2 pairs."""

from mhai.evaluate.pipeline import run_rating_import
from mhai.logs import setup_script_logging

smk = snakemake  # noqa: F821
log = setup_script_logging(smk)
results = run_rating_import(
    list(smk.input.sheets),
    smk.input.key,
    dict(smk.output.items()),
    smk.params.cfg,
    smk.config,
    seed=smk.params.seed,
)
log.info("alpha per dimension:\n%s", results["agreement"].to_string(index=False))
