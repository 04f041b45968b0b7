"""Training stage on a tiny random model with the real SmolLM2 tokenizer.

One SFT run and one DPO run (a few steps each) are shared by the tests through module
fixtures; resume, masking, evaluation, merging and generation build on them.
"""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest

from mhai.models import load_causal_lm, load_tokenizer, tiny_causal_lm
from mhai.train import runner
from mhai.train.chatdata import TrainingDataError
from mhai.train.dpo import train_dpo
from mhai.train.generate import generate
from mhai.train.recipes import RecipeError, load_recipe
from mhai.train.sft import build_sft_trainer, prepare_sft_data, train_sft

POSTS = [
    "I can't sleep and my thoughts race every night before work.",
    "My best friend stopped answering my messages and I feel alone.",
    "Exams are next week and I feel like I am drowning.",
    "I moved to a new city and I don't know anyone here.",
]
GOOD = [
    "That sounds exhausting. Writing worries down an hour before bed can quiet them a bit.",
    "I'm sorry, that hurts. A short, calm message asking how they are might open the door.",
    "That is a lot of pressure. Splitting revision into small blocks with breaks can help.",
    "Moving is hard. A weekly class or club is a gentle way to meet the same people again.",
]
BAD = ["Just sleep.", "Whatever.", "Study more.", "Go out then."]

SFT_RECIPE = """
method: sft
data: {max_eval_rows: 4}
lora: {r: 8, lora_alpha: 16, lora_dropout: 0.0, target_modules: all-linear}
training:
  max_steps: 3
  per_device_train_batch_size: 4
  per_device_eval_batch_size: 4
  learning_rate: 5.0e-3
  max_length: 96
  save_steps: 2
  eval_steps: 3
  logging_steps: 1
  bf16: false
  activation_checkpointing: true
  activation_checkpointing_kwargs: {use_reentrant: false}
"""
DPO_RECIPE = """
method: dpo
data: {max_eval_rows: 4}
training:
  max_steps: 3
  per_device_train_batch_size: 4
  per_device_eval_batch_size: 4
  learning_rate: 5.0e-3
  beta: 0.1
  max_length: 96
  save_steps: 2
  eval_steps: 3
  logging_steps: 1
  bf16: false
  activation_checkpointing: false
"""


def _rows(n: int = 24):
    sft, dpo = [], []
    for i in range(n):
        k = i % len(POSTS)
        split = "eval" if i >= n - 4 else "train"
        base = {"thread_id": f"t{i}", "split": split}
        sft.append(
            {
                "id": f"s{i}",
                **base,
                "messages": [
                    {"role": "user", "content": POSTS[k]},
                    {"role": "assistant", "content": GOOD[k]},
                ],
            }
        )
        dpo.append(
            {
                "id": f"d{i}",
                **base,
                "prompt": [{"role": "user", "content": POSTS[k]}],
                "chosen": [{"role": "assistant", "content": GOOD[k]}],
                "rejected": [{"role": "assistant", "content": BAD[k]}],
                "score_chosen": 12,
                "score_rejected": 1,
            }
        )
    return sft, dpo


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def env(tmp_path_factory, base_tokenizer_dir):
    """A tiny base model folder, SFT/DPO JSONL in the data stage's format, and recipes."""
    root = tmp_path_factory.mktemp("train")
    tokenizer = load_tokenizer(base_tokenizer_dir)
    base = root / "base"
    tiny_causal_lm(tokenizer, hidden_size=32, layers=2).save_pretrained(base)
    tokenizer.save_pretrained(base)
    sft, dpo = _rows()
    (root / "sft.yaml").write_text(SFT_RECIPE)
    (root / "dpo.yaml").write_text(DPO_RECIPE)
    return {
        "root": root,
        "base": base,
        "tokenizer": tokenizer,
        "sft_data": _write_jsonl(root / "sft_gm.jsonl", sft),
        "dpo_data": _write_jsonl(root / "dpo_gm.jsonl", dpo),
        "sft_recipe": root / "sft.yaml",
        "dpo_recipe": root / "dpo.yaml",
    }


def _train_sft(env, work, recipe=None, out=None):
    return train_sft(
        recipe or load_recipe(env["sft_recipe"]),
        base_dir=env["base"],
        data_path=env["sft_data"],
        adapter_out=out or env["root"] / "sft_adapter",
        work_dir=work,
        seed=7,
        report_to=["none"],
        run_name="test-sft",
    )


@pytest.fixture(scope="module")
def sft_run(env):
    return _train_sft(env, env["root"] / "sft_work")


@pytest.fixture(scope="module")
def dpo_run(env, sft_run):
    return train_dpo(
        load_recipe(env["dpo_recipe"]),
        base_dir=env["base"],
        init_adapter=env["root"] / "sft_adapter",
        pairs_path=env["dpo_data"],
        adapter_out=env["root"] / "dpo_adapter",
        work_dir=env["root"] / "dpo_work",
        seed=7,
        report_to=["none"],
        run_name="test-dpo",
    )


def _losses(history, key="loss"):
    return [h[key] for h in history if key in h]


def test_sft_loss_is_finite_and_moves(sft_run, env):
    losses = _losses(sft_run.history)
    assert len(losses) == 3 and all(math.isfinite(v) for v in losses)
    assert losses[-1] != losses[0]
    assert _losses(sft_run.history, "eval_loss"), "held-out loss was not evaluated"
    assert sft_run.global_step == 3 and sft_run.train_rows == 20 and sft_run.eval_rows == 4
    assert (env["root"] / "sft_adapter" / "adapter_model.safetensors").is_file()
    assert (env["root"] / "sft_work" / "checkpoint-2" / "trainer_state.json").is_file()


def test_sft_labels_cover_only_the_assistant_turn(env):
    tokenizer = env["tokenizer"]
    recipe = load_recipe(env["sft_recipe"])
    train, held_out, _ = prepare_sft_data(recipe, tokenizer, env["sft_data"])
    trainer = build_sft_trainer(
        recipe,
        tiny_causal_lm(tokenizer),
        tokenizer,
        train,
        held_out,
        env["root"] / "mask_check",
        seed=0,
        report_to=["none"],
        run_name="mask",
    )
    row = trainer.train_dataset[0]
    ids, labels = row["input_ids"], row["labels"]
    trained = [t for t, lab in zip(ids, labels, strict=True) if lab != -100]
    first = next(i for i, lab in enumerate(labels) if lab != -100)
    # Everything before the reply (system, user turn, assistant header) is masked.
    assert tokenizer.decode(ids[:first]).endswith("<|im_start|>assistant\n")
    assert POSTS[0] in tokenizer.decode(ids[:first])
    # The trained tokens are exactly the reply and one end-of-turn token.
    assert tokenizer.decode(trained) == GOOD[0] + "<|im_end|>\n"
    assert trained.count(tokenizer.eos_token_id) == 1
    assert all(lab != -100 for lab in labels[first:])
    # Padding is masked too, with a pad token that is not EOS.
    batch = trainer.data_collator([trainer.train_dataset[0], trainer.train_dataset[1]])
    pad = batch["input_ids"] == tokenizer.pad_token_id
    assert tokenizer.pad_token_id != tokenizer.eos_token_id
    assert pad.any() and (batch["labels"][pad] == -100).all()


def test_dpo_rows_end_with_one_end_of_turn(env, sft_run, tmp_path):
    import torch
    from trl import DPOTrainer

    from mhai.train.dpo import load_policy, prepare_pairs
    from mhai.train.recipes import trainer_config

    tokenizer = env["tokenizer"]
    recipe = load_recipe(env["dpo_recipe"])
    train, _, _ = prepare_pairs(recipe, tokenizer, env["dpo_data"])
    args = trainer_config(recipe, tmp_path, seed=0, report_to=["none"], run_name="eos")
    args.eval_strategy = "no"
    policy = load_policy(recipe, env["base"], env["root"] / "sft_adapter")
    trainer = DPOTrainer(
        model=policy, ref_model=None, args=args, train_dataset=train, processing_class=tokenizer
    )
    row = trainer.train_dataset[0]
    assert tokenizer.decode(row["prompt_ids"]).endswith(
        POSTS[0] + "<|im_end|>\n<|im_start|>assistant\n"
    )
    assert tokenizer.decode(row["chosen_ids"]) == GOOD[0] + "<|im_end|>\n"
    assert tokenizer.decode(row["rejected_ids"]) == BAD[0] + "<|im_end|>\n"
    for side in ("chosen_ids", "rejected_ids"):
        assert row[side].count(tokenizer.eos_token_id) == 1  # no doubled EOS
    # The reference is a frozen copy of the starting (SFT) adapter, not the bare base.
    model = trainer.model
    assert "ref" in model.peft_config
    ref = {n: p for n, p in model.named_parameters() if ".ref." in n}
    assert ref and not any(p.requires_grad for p in ref.values())
    default = dict(model.named_parameters())
    assert all(torch.equal(p, default[n.replace(".ref.", ".default.")]) for n, p in ref.items())


def test_dpo_loss_starts_at_log2_and_moves(dpo_run):
    losses = _losses(dpo_run.history)
    assert all(math.isfinite(v) for v in losses)
    # The reference is a frozen copy of the starting (SFT) adapter: the first loss is log 2.
    assert losses[0] == pytest.approx(math.log(2), abs=1e-4)
    assert losses[-1] != losses[0]
    assert _losses(dpo_run.history, "eval_rewards/accuracies")


def test_rerun_resumes_from_the_last_checkpoint(env, sft_run, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(env["root"] / "sft_work", work)
    recipe = load_recipe(env["sft_recipe"])
    recipe.training["max_steps"] = 4
    result = _train_sft(env, work, recipe, out=tmp_path / "adapter")
    assert result.resumed_from_step == 3
    assert result.global_step == 4
    steps = [h["step"] for h in result.history if "loss" in h]
    assert steps[:3] == [1, 2, 3] and steps[-1] == 4  # history carried over, one new step


def test_changed_recipe_discards_old_checkpoints(tmp_path, env):
    recipe = load_recipe(env["sft_recipe"])
    fingerprint = runner.fingerprint(recipe, data=[env["sft_data"]], models=[], seed=1)
    (tmp_path / "checkpoint-5").mkdir()
    (tmp_path / "checkpoint-5" / "trainer_state.json").write_text("{}")
    assert runner.resume_point(tmp_path, fingerprint) is None  # no stamp yet: fresh start
    assert not (tmp_path / "checkpoint-5").exists()
    (tmp_path / "checkpoint-7").mkdir()
    (tmp_path / "checkpoint-7" / "trainer_state.json").write_text("{}")
    (tmp_path / "checkpoint-9").mkdir()  # incomplete: no trainer_state.json
    assert runner.resume_point(tmp_path, fingerprint).name == "checkpoint-7"
    recipe.training["learning_rate"] = 1.0
    changed = runner.fingerprint(recipe, data=[env["sft_data"]], models=[], seed=1)
    assert changed != fingerprint
    assert runner.resume_point(tmp_path, changed) is None
    recipe.training["max_steps"] = 99  # max_steps alone does not change the fingerprint
    assert runner.fingerprint(recipe, data=[env["sft_data"]], models=[], seed=1) == changed


def test_held_out_metrics_match_dpo_trainer(env, dpo_run):
    from mhai.train.summary import compute_metrics

    recipes = {"sft": load_recipe(env["sft_recipe"]), "dpo": load_recipe(env["dpo_recipe"])}
    metrics = compute_metrics(
        env["base"],
        {"sft": str(env["root"] / "sft_adapter"), "dpo": str(env["root"] / "dpo_adapter")},
        recipes,
        sft_path=env["sft_data"],
        pairs_path=env["dpo_data"],
        eval_config={"max_rows": 4, "max_pairs": 4, "batch_size": 4, "normalise": "mean"},
    )
    assert list(metrics) == ["base", "sft", "dpo"]
    for values in metrics.values():
        for key in ("eval_loss", "pref_accuracy", "reward_margin"):
            assert math.isfinite(values[key])
        assert values["perplexity"] == pytest.approx(math.exp(values["eval_loss"]))
    assert metrics["sft"]["eval_loss"] != metrics["base"]["eval_loss"]
    # Our implicit DPO reward on the held-out pairs equals what DPOTrainer reported.
    final_eval = [h for h in dpo_run.history if "eval_rewards/margins" in h][-1]
    assert metrics["dpo"]["dpo_reward_margin"] == pytest.approx(
        final_eval["eval_rewards/margins"], rel=1e-3, abs=1e-5
    )
    assert metrics["dpo"]["dpo_reward_accuracy"] == pytest.approx(
        final_eval["eval_rewards/accuracies"]
    )


def test_sequence_scores_and_preference_metrics(env):
    import torch

    from mhai.train.preference_eval import encode, preference_metrics, score_completions

    tokenizer = env["tokenizer"]
    prompt = [{"role": "user", "content": POSTS[1]}]
    completion = [{"role": "assistant", "content": GOOD[1]}]
    ids, start = encode(tokenizer, prompt, completion, max_length=512)
    assert tokenizer.decode(ids[start:]) == GOOD[1] + "<|im_end|>\n"
    model = tiny_causal_lm(tokenizer)
    scores = score_completions(
        model, tokenizer, [prompt] * 2, [completion, completion[:1]], max_length=512, batch_size=2
    )
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0]
    manual = torch.log_softmax(logits[:-1], -1)[torch.arange(len(ids) - 1), torch.tensor(ids[1:])]
    assert scores.logp[0] == pytest.approx(manual[start - 1 :].sum().item(), rel=1e-4)
    assert scores.tokens[0] == len(ids) - start
    assert preference_metrics(np.array([1.0, 0.0, 2.0]), np.array([0.0, 0.0, 3.0])) == {
        "accuracy": pytest.approx(0.5),
        "margin": pytest.approx(0.0),
    }


def test_auto_device_puts_the_model_on_a_visible_gpu(env, dpo_run, tmp_path, monkeypatch):
    import torch

    from mhai.train.merge import merge_adapter

    out = merge_adapter(env["base"], env["root"] / "dpo_adapter", tmp_path / "merged")
    assert load_causal_lm(out, device="auto").device.type == "cpu"  # no GPU in CI
    moved = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.nn.Module, "to", lambda self, device: moved.append(device) or self)
    load_causal_lm(out, device="auto")
    load_causal_lm(out)  # the default stays on the CPU even when a GPU is visible
    assert moved == ["cuda", "cpu"]


def test_merged_model_reloads_and_generates(env, dpo_run, tmp_path):
    import torch

    from mhai.train.merge import load_trained, merge_adapter

    out = merge_adapter(env["base"], env["root"] / "dpo_adapter", tmp_path / "merged")
    merged = load_causal_lm(out)
    tokenizer = load_tokenizer(out)
    unmerged = load_trained(env["base"], env["root"] / "dpo_adapter", merge=False)
    ids = tokenizer(POSTS[2], return_tensors="pt")
    with torch.no_grad():
        assert torch.allclose(merged(**ids).logits, unmerged(**ids).logits, atol=1e-4)
    conversations = [[{"role": "user", "content": p}] for p in POSTS[:3]]
    one = generate(merged, tokenizer, conversations, max_new_tokens=6, seed=3, batch_size=1)
    batched = generate(merged, tokenizer, conversations, max_new_tokens=6, seed=3, batch_size=3)
    assert len(batched) == 3 and all(isinstance(t, str) for t in batched)
    assert one == batched  # left padding: greedy output does not depend on the batch
    assert tokenizer.padding_side == "right"  # restored
    sampled = [
        generate(
            merged, tokenizer, conversations, max_new_tokens=6, seed=3, batch_size=3, do_sample=True
        )
        for _ in range(2)
    ]
    assert sampled[0] == sampled[1]  # a fixed seed repeats sampling


def test_vllm_backend_renders_chat_prompts_and_keeps_order(env, monkeypatch):
    import importlib.machinery
    import sys
    import types

    import mhai.train.generate as gen

    monkeypatch.setattr(gen.importlib.util, "find_spec", lambda name: None)
    assert not gen.vllm_available()
    conversations = [[{"role": "user", "content": p}] for p in POSTS[:2]]
    with pytest.raises(ValueError, match="vLLM is not installed"):
        generate("some/dir", env["tokenizer"], conversations, max_new_tokens=4, seed=0,
                 backend="vllm")  # fmt: skip
    monkeypatch.undo()

    calls = {}

    class LLM:
        def __init__(self, model, seed, tensor_parallel_size):
            calls["init"] = (model, seed, tensor_parallel_size)

        def generate(self, prompts, params):
            calls["prompts"], calls["params"] = prompts, params
            out = types.SimpleNamespace
            return [out(outputs=[out(text=f" reply {i} ")]) for i in range(len(prompts))]

    fake = types.ModuleType("vllm")
    fake.__spec__ = importlib.machinery.ModuleSpec("vllm", None)
    fake.LLM, fake.SamplingParams = LLM, lambda **kw: kw
    monkeypatch.setitem(sys.modules, "vllm", fake)
    assert gen.vllm_available()
    texts = generate(env["base"], env["tokenizer"], conversations, max_new_tokens=5, seed=4,
                     backend="vllm")  # fmt: skip
    assert texts == ["reply 0", "reply 1"]
    assert calls["init"][:2] == (str(env["base"]), 4)
    assert calls["params"] == {"max_tokens": 5, "temperature": 0.0, "seed": 4}  # greedy
    prompt = calls["prompts"][1]
    assert prompt.endswith("<|im_start|>assistant\n") and POSTS[1] in prompt
    with pytest.raises(ValueError, match="needs a model directory"):
        generate(object(), env["tokenizer"], conversations, max_new_tokens=5, seed=4,
                 backend="vllm")  # fmt: skip


def test_generate_cli_writes_one_reply_per_row(env, dpo_run, tmp_path):
    from mhai.cli import main
    from mhai.train.merge import merge_adapter

    model_dir = merge_adapter(env["base"], env["root"] / "dpo_adapter", tmp_path / "merged")
    out = tmp_path / "replies.jsonl"
    args = ["generate", "--model", str(model_dir), "--input", str(env["sft_data"]),
            "--output", str(out), "--max-new-tokens", "4", "--batch-size", "8"]  # fmt: skip
    assert main(args) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == [f"s{i}" for i in range(24)]
    assert all(isinstance(r["response"], str) for r in rows)


def test_model_card_names_base_metrics_and_limits():
    from mhai.train.card import model_card

    metrics = {
        "base": {"eval_loss": 3.0, "pref_accuracy": 0.5},
        "dpo": {"eval_loss": 2.5, "pref_accuracy": 0.625},
    }
    card = model_card(
        "gm",
        base_spec="hf:x/y",
        data={"sft": "a.jsonl"},
        recipes={"sft": {"method": "sft"}},
        metrics=metrics,
        normalise="mean",
    )
    assert card.startswith("---\n") and "base_model: hf:x/y" in card
    assert "| dpo | 2.5000 | - | 0.6250 |" in card
    assert "not clinical advice" in card and "## Intended use and limits" in card
    assert "sft: a.jsonl" in card and "method: sft" in card  # data and recipe
    assert "trl 1." in card and "peft 0." in card  # software versions
    assert "DPO2" not in card
    with_dpo2 = model_card(
        "gm",
        base_spec="hf:x/y",
        data={"sft": "a.jsonl", "dpo2": "results/evaluation/dpo2_pairs.jsonl"},
        recipes={"sft": {"method": "sft"}, "dpo": {}, "dpo2": {"method": "dpo"}},
        metrics=metrics,
        normalise="mean",
    )
    assert "second DPO round (DPO2)" in with_dpo2 and "dpo2_pairs.jsonl" in with_dpo2


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (
            SFT_RECIPE.replace("max_steps: 3", "max_stepz: 3"),
            "unknown key(s) in 'training': max_stepz",
        ),
        (
            SFT_RECIPE.replace("method: sft", "method: sft\nextra: 1"),
            "unknown key(s) in '(top level)': extra",
        ),
        (SFT_RECIPE.replace("r: 8", "rank: 8"), "unknown key(s) in 'lora': rank"),
        (SFT_RECIPE.replace("max_steps: 3", "output_dir: x"), "may not set output_dir"),
        (
            SFT_RECIPE.replace("max_length: 96", "max_length: 8"),
            "max_length must be an integer >= 16",
        ),
        (SFT_RECIPE.replace("method: sft", "method: ppo"), "'method' must be one of"),
    ],
)
def test_bad_recipes_stop_with_a_clear_message(tmp_path, text, needle):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(RecipeError) as error:
        load_recipe(path)
    assert str(path) in str(error.value) and needle in str(error.value)


def test_missing_data_and_short_max_length_are_named(env, tmp_path):
    recipe = load_recipe(env["sft_recipe"])
    with pytest.raises(TrainingDataError, match="training data .*nope.jsonl not found"):
        prepare_sft_data(recipe, env["tokenizer"], tmp_path / "nope.jsonl")
    recipe.training["max_length"] = 40
    with pytest.raises(TrainingDataError) as error:
        prepare_sft_data(recipe, env["tokenizer"], env["sft_data"])
    message = str(error.value)
    assert "row id 's0'" in message and "max_length=40" in message and str(recipe.path) in message
    recipe.data["overlong"] = "drop"
    with pytest.raises(TrainingDataError, match="no row fits"):
        prepare_sft_data(recipe, env["tokenizer"], env["sft_data"])
    from mhai.train.dpo import prepare_pairs

    dpo_recipe = load_recipe(env["dpo_recipe"])
    with pytest.raises(TrainingDataError, match="training data .*nope.jsonl not found"):
        prepare_pairs(dpo_recipe, env["tokenizer"], tmp_path / "nope.jsonl")
    dpo_recipe.training["max_length"] = 40
    with pytest.raises(TrainingDataError, match=r"row id 'd0'.*max_length=40"):
        prepare_pairs(dpo_recipe, env["tokenizer"], env["dpo_data"])


def test_bad_rows_name_file_row_and_field(env, tmp_path):
    from mhai.train.chatdata import load_pairs, load_sft

    sft, dpo = _rows(4)
    sft[2]["messages"] = [{"role": "user", "content": "only a question"}]
    del dpo[1]["rejected"]
    with pytest.raises(TrainingDataError, match=r"row 3: field 'messages'"):
        load_sft(_write_jsonl(tmp_path / "s.jsonl", sft), "eval")
    with pytest.raises(TrainingDataError, match=r"row 2: field 'rejected'"):
        load_pairs(_write_jsonl(tmp_path / "d.jsonl", dpo), "eval")


def test_dpo_recipe_rejects_a_lora_section(env, tmp_path):
    from mhai.train.dpo import load_policy

    path = tmp_path / "dpo.yaml"
    path.write_text(DPO_RECIPE + "lora: {r: 4}\n")
    with pytest.raises(RecipeError, match="continues the SFT adapter"):
        load_policy(load_recipe(path), env["base"], env["root"] / "sft_adapter")


def test_shipped_recipes_load(repo):
    paths = sorted((repo / "recipes").glob("*/*/*.yaml"))
    assert len(paths) == 12
    for path in paths:
        recipe = load_recipe(path, path.stem)
        assert recipe.training["max_length"] >= 128


def test_accelerate_launcher_runs_one_process_per_gpu(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(runner.subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    job = {"method": "sft", "name": "gm-sft", "config": {"seed": 1}}
    runner.launch(job, launcher="accelerate", num_processes=4, job_file=tmp_path / "job.json")
    (command,) = calls
    assert command[1:4] == ["-m", "accelerate.commands.launch", "--num_processes"]
    assert command[4] == "4" and command[-3:] == [
        "-m",
        "mhai.train.entry",
        str(tmp_path / "job.json"),
    ]
    assert json.loads((tmp_path / "job.json").read_text()) == job
    with pytest.raises(ValueError, match="train.launcher"):
        runner.launch(job, launcher="torchrun", num_processes=1, job_file=tmp_path / "x.json")
