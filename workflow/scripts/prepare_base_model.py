"""Rule prepare_base_model: resolve model specs and save plain safetensors folders."""

from mhai.logs import setup_script_logging
from mhai.models import prepare_causal_lm, prepare_embedding

log = setup_script_logging(snakemake)  # noqa: F821
log.info("base LM %s -> %s", snakemake.params.base_lm, snakemake.output.lm)  # noqa: F821
prepare_causal_lm(snakemake.params.base_lm, snakemake.output.lm)  # noqa: F821
log.info("embedding %s -> %s", snakemake.params.embedding, snakemake.output.embedding)  # noqa: F821
prepare_embedding(snakemake.params.embedding, snakemake.output.embedding)  # noqa: F821
