"""Rule safety_train_verifier: fit the pass-2 verifier head on (message, draft) pairs."""

from pathlib import Path

import torch

from mhai.logs import setup_script_logging
from mhai.safety.pipeline import train_pass2

smk = snakemake  # noqa: F821
log = setup_script_logging(smk)
torch.set_num_threads(smk.threads)
meta = train_pass2(
    Path(smk.input.corpus),
    Path(smk.input.model),
    Path(smk.output[0]),
    smk.params.cfg,
    smk.params.seed,
)
log.info("verifier: %s", meta)
