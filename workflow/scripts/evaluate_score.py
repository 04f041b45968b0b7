"""Rule evaluate_score: five dimensions and linguistic measures for every response."""

from mhai.evaluate.pipeline import run_scoring
from mhai.logs import setup_script_logging

smk = snakemake  # noqa: F821
log = setup_script_logging(smk)
scores, measures = run_scoring(
    smk.input.responses,
    smk.input.embedding,
    smk.input.safety[0] if smk.input.safety else None,
    smk.output.dimensions,
    smk.output.linguistics,
    smk.params.cfg,
    judge_default=smk.input.base,
)
log.info("scored %d responses (%s backend)", len(scores), smk.params.cfg["scoring"]["backend"])
