"""Rule safety_corpus: generate the labelled safety corpus (+ optional data-stage rows)."""

from pathlib import Path

from mhai.logs import setup_script_logging
from mhai.safety.pipeline import build_corpus

smk = snakemake  # noqa: F821
log = setup_script_logging(smk)
data_stage = Path(smk.input.data_stage[0]) if smk.input.data_stage else None
corpus = build_corpus(smk.params.cfg, smk.params.seed, Path(smk.output[0]), data_stage)
log.info("wrote %d labelled messages to %s", len(corpus), smk.output[0])
