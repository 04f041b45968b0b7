"""Rule synthesize_corpus: write the seeded synthetic Reddit-format corpus (.zst NDJSON)."""

from mhai.data.synthetic import generate_corpus
from mhai.logs import setup_script_logging

smk = snakemake  # noqa: F821
log = setup_script_logging(smk)
counts = generate_corpus(
    smk.output.submissions, smk.output.comments, smk.params.synthetic, smk.params.seed
)
log.info("wrote %d submission and %d comment lines", counts["submissions"], counts["comments"])
