"""Rule safety_train_classifier: fit, calibrate and save the pass-1 classifier."""

from pathlib import Path

import torch

from mhai.logs import setup_script_logging
from mhai.safety.pipeline import train_pass1

smk = snakemake  # noqa: F821
log = setup_script_logging(smk)
torch.set_num_threads(smk.threads)
train_pass1(
    Path(smk.input.corpus),
    Path(smk.input.embedding),
    Path(smk.output[0]),
    smk.params.cfg,
    smk.params.seed,
)
