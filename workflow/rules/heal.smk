# Heal foreign WebDataset shards (config heal.inputs: name -> directory); target results/healed/{name}.


rule heal:
    input:
        get_heal_input,
    output:
        directory(f"{RESULTS}/healed/{{name}}"),
    log:
        f"{RESULTS}/logs/heal/{{name}}.log",
    conda:
        "../envs/core.yaml"
    shell:
        "python -m sciclip heal {input:q} --out {output:q} 2> {log:q}"
