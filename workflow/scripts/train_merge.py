"""Rule train_merge: the final adapter and the merged model with its model card."""

import json
import shutil
from pathlib import Path

from mhai.logs import setup_script_logging
from mhai.train.card import model_card
from mhai.train.merge import merge_adapter
from mhai.train.recipes import load_recipe

smk = snakemake  # noqa: F821
log = setup_script_logging(smk)
model = smk.wildcards.model
metrics = json.loads(Path(smk.input.metrics).read_text())
steps = [step for step in metrics if step != "base"]
recipes = {
    step: {"file": Path(path).name, **load_recipe(path).as_dict()}
    for step, path in zip(steps, smk.input.recipes, strict=True)
}
data_card = json.loads(Path(smk.input.data_card).read_text())
shutil.copytree(smk.input.adapter, smk.output.adapter)
log.info("merging %s into %s", smk.input.adapter, smk.output.merged)
merge_adapter(
    smk.input.base, smk.input.adapter, smk.output.merged, dtype=recipes["sft"]["model"]["dtype"]
)
card = model_card(
    model,
    base_spec=smk.params.base_spec,
    data={
        "sft": f"results/data/sft_{model}.jsonl",
        "dpo": f"results/data/dpo_{model}.jsonl",
        **({"dpo2": smk.params.dpo2_pairs} if "dpo2" in steps else {}),
        "rows_by_split": {
            name: counts
            for name, counts in data_card.get("outputs", {}).items()
            if name in (f"sft_{model}", f"dpo_{model}")
        },
    },
    recipes=recipes,
    metrics=metrics,
    normalise=smk.params.normalise,
)
(Path(smk.output.merged) / "README.md").write_text(card)
(Path(smk.output.adapter) / "README.md").write_text(card)
