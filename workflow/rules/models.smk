# Turn model specs (pkg:/hf:/local) into saved safetensors folders, once per workflow.


rule prepare_base_model:
    output:
        lm=directory("results/models/base_lm"),
        embedding=directory("results/models/embedding"),
    log:
        log_path("models", "prepare_base_model"),
    benchmark:
        bench_path("models", "prepare_base_model")
    conda:
        "../envs/mhai.yaml"
    resources:
        mem_mb=4000,
    params:
        base_lm=config["models"]["base_lm"],
        embedding=config["models"]["embedding"],
    script:
        "../scripts/prepare_base_model.py"
