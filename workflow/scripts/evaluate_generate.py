"""Rule evaluate_generate: every system's responses to the held-out posts."""

from mhai.evaluate.pipeline import run_generation
from mhai.logs import setup_script_logging

smk = snakemake  # noqa: F821
log = setup_script_logging(smk)
responses = run_generation(
    smk.input.pairs,
    {"base": smk.input.base, "sft": smk.input.sft, "dpo": smk.input.dpo, "im": smk.input.im},
    smk.output[0],
    smk.params.cfg,
    seed=smk.params.seed,
    base_dir=smk.input.base,
)
log.info("%d responses -> %s", len(responses), smk.output[0])
