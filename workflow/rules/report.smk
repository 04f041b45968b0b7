# Last stage: a provenance manifest of every result (commit, config hash, packages, SHA-256).


rule provenance_manifest:
    input:
        all_targets(),
    output:
        "results/provenance.json",
    log:
        log_path("report", "provenance_manifest"),
    benchmark:
        bench_path("report", "provenance_manifest")
    conda:
        "../envs/mhai.yaml"
    script:
        "../scripts/provenance_manifest.py"
