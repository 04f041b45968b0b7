# Stage 2: GM (post -> reply) and IM (post + human draft -> better reply):
# LoRA SFT, then DPO (and an optional DPO2 round on pairs from human ratings),
# held-out metrics for base/SFT/DPO, merged models with model cards.
# Recipes: config train.recipe_dir/<model>/<step>.yaml. Training jobs run in the rule's
# process, or under `accelerate launch --num_processes <resources.gpu>` (train.launcher).

TARGETS += expand(
    "results/train/{model}/{output}",
    model=["gm", "im"],
    output=["metrics.json", "adapter", "merged"],
)


rule train_sft:
    input:
        data="results/data/sft_{model}.jsonl",
        base="results/models/base_lm",
        recipe=train_recipe("sft"),
    output:
        adapter=directory("results/train/{model}/sft/adapter"),
        history="results/train/{model}/sft/history.json",
    log:
        log_path("train", "{model}_sft"),
    benchmark:
        bench_path("train", "{model}_sft")
    wildcard_constraints:
        model="gm|im",
    conda:
        "../envs/mhai.yaml"
    threads: config["train"]["threads"]
    resources:
        mem_mb=6000,
        runtime=60,
    params:
        method="sft",
        work_dir="results/train/{model}/sft/checkpoints",
        launcher=config["train"]["launcher"],
    script:
        "../scripts/train_model.py"


rule train_dpo:
    input:
        data="results/data/dpo_{model}.jsonl",
        base="results/models/base_lm",
        init_adapter="results/train/{model}/sft/adapter",
        recipe=train_recipe("dpo"),
    output:
        adapter=directory("results/train/{model}/dpo/adapter"),
        history="results/train/{model}/dpo/history.json",
    log:
        log_path("train", "{model}_dpo"),
    benchmark:
        bench_path("train", "{model}_dpo")
    wildcard_constraints:
        model="gm|im",
    conda:
        "../envs/mhai.yaml"
    threads: config["train"]["threads"]
    resources:
        mem_mb=6000,
        runtime=60,
    params:
        method="dpo",
        work_dir="results/train/{model}/dpo/checkpoints",
        launcher=config["train"]["launcher"],
    script:
        "../scripts/train_model.py"


rule train_dpo2:
    input:
        data=config["train"]["dpo2"]["pairs"],
        base="results/models/base_lm",
        init_adapter="results/train/{model}/dpo/adapter",
        recipe=train_recipe("dpo2"),
    output:
        adapter=directory("results/train/{model}/dpo2/adapter"),
        history="results/train/{model}/dpo2/history.json",
    log:
        log_path("train", "{model}_dpo2"),
    benchmark:
        bench_path("train", "{model}_dpo2")
    wildcard_constraints:
        model="gm|im",
    conda:
        "../envs/mhai.yaml"
    threads: config["train"]["threads"]
    resources:
        mem_mb=6000,
        runtime=60,
    params:
        method="dpo",
        work_dir="results/train/{model}/dpo2/checkpoints",
        launcher=config["train"]["launcher"],
    script:
        "../scripts/train_model.py"


rule train_evaluate:
    input:
        base="results/models/base_lm",
        adapters=train_step_files("adapter"),
        histories=train_step_files("history.json"),
        recipes=train_recipes,
        sft_data="results/data/sft_{model}.jsonl",
        pairs="results/data/dpo_{model}.jsonl",
    output:
        metrics="results/train/{model}/metrics.json",
        figure=report(
            "results/figures/train_{model}_curves.png",
            category="Training",
            caption="../report/train_curves.rst",
            labels={"model": "{model}", "figure": "training curves"},
        ),
    log:
        log_path("train", "{model}_evaluate"),
    benchmark:
        bench_path("train", "{model}_evaluate")
    wildcard_constraints:
        model="gm|im",
    conda:
        "../envs/mhai.yaml"
    threads: config["train"]["threads"]
    resources:
        mem_mb=6000,
        runtime=30,
    params:
        eval=config["train"]["eval"],
    script:
        "../scripts/train_evaluate.py"


rule train_merge:
    input:
        base="results/models/base_lm",
        adapter=train_final_adapter,
        metrics="results/train/{model}/metrics.json",
        recipes=train_recipes,
        data_card="results/data/data_card.json",
    output:
        adapter=directory("results/train/{model}/adapter"),
        merged=directory("results/train/{model}/merged"),
    log:
        log_path("train", "{model}_merge"),
    benchmark:
        bench_path("train", "{model}_merge")
    wildcard_constraints:
        model="gm|im",
    conda:
        "../envs/mhai.yaml"
    resources:
        mem_mb=6000,
        runtime=30,
    params:
        base_spec=config["models"]["base_lm"],
        normalise=config["train"]["eval"]["normalise"],
        dpo2_pairs=config["train"]["dpo2"]["pairs"],
    script:
        "../scripts/train_merge.py"
