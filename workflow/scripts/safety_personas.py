"""Rule safety_personas: VERA-MH-style persona conversations, rated on five dimensions."""

from pathlib import Path

import torch

from mhai.logs import setup_script_logging
from mhai.safety.pipeline import personas_stage

smk = snakemake  # noqa: F821
log = setup_script_logging(smk)
torch.set_num_threads(smk.threads)
ratings = personas_stage(
    Path(smk.input.model).parent,
    Path(smk.input.gm),
    dict(smk.output.items()),
    smk.config,
    smk.params.seed,
)
log.info("persona ratings:\n%s", ratings.groupby(["arm", "rating"]).size().to_string())
