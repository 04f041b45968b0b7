"""Rule provenance_manifest: record what made every file under results/."""

from pathlib import Path

from mhai.logs import setup_script_logging
from mhai.provenance import write_manifest

log = setup_script_logging(snakemake)  # noqa: F821
output = Path(snakemake.output[0])  # noqa: F821
manifest = write_manifest(snakemake.config, output.parent, output)  # noqa: F821
log.info("provenance of %d files at commit %s", len(manifest["files"]), manifest["git_commit"])
