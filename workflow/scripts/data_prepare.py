"""Rule prepare_data: stream the inputs into the SFT/DPO sets, safety messages and data card."""

from pathlib import Path

from mhai.data.prepare import Preparer, configured_sources
from mhai.logs import setup_script_logging

smk = snakemake  # noqa: F821
log = setup_script_logging(smk)
sources = configured_sources(smk.params.data, smk.params.repo)
preparer = Preparer(smk.params.data, smk.params.seed, Path(smk.output.card).parent)
card = preparer.run(sources)
log.info(
    "rows in %d, kept %d, dropped %d %s",
    card["rows_in"],
    card["rows_kept"],
    card["rows_dropped"],
    card["dropped"],
)
log.info("outputs: %s", {name: c["total"] for name, c in card["outputs"].items()})
log.info("timing: %s", {k: round(v, 2) for k, v in preparer.timing.items()})
