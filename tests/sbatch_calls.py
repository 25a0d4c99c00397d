"""What sbatch received, call by call, against what the SLURM profile gives each rule (.ci/slurm_check.sh).

The check puts a logging stand-in for ``sbatch`` first on PATH: each call's arguments land NUL-separated in a
file of their own, then the real sbatch runs. This reads those files and holds every call to its rule's
resources: the account and partition of ``default-resources``, and the runtime and memory of
``set-resources`` (else the defaults, or what ``--expect`` says the rule itself asks for, e.g. the training
job's config values). A single-node SLURM with a default partition accepts a call without ``-A``/``-p``/``-t``,
so only this can see that a job lost them (profiles/default once replaced the SLURM profile's
default-resources). Group jobs (several rules in one submission) are held to the account and partition and
must carry a runtime and memory.

    python -m tests.sbatch_calls CALLS_DIR PROFILE.yaml [--expect RULE:key=value,...] [--rules RULE ...]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path


def read_calls(folder: str | Path) -> list[list[str]]:
    """Every logged call's argv (without the program), in the order they were written."""
    files = sorted(Path(folder).glob("*"), key=lambda p: (p.stat().st_mtime_ns, p.name))
    return [[a for a in p.read_bytes().decode("utf-8", "replace").split("\0")][:-1] for p in files]


def options(argv: list[str]) -> dict[str, str]:
    """sbatch's options of one call: ``-A x`` and ``--mem=4000`` alike; a flag without a value maps to ""."""
    out: dict[str, str] = {}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a.startswith("--") and "=" in a:
            k, _, v = a.partition("=")
            out[k] = v
        elif a in ("-A", "-p", "-t", "--mem", "--job-name", "--output", "--comment", "-D", "--mem-per-cpu",
                   "--clusters", "-C"):
            out[a] = argv[i + 1] if i + 1 < len(argv) else ""
            i += 1
        elif a.startswith("-"):
            out[a] = ""
        i += 1
    return out


def rule_of(opts: dict[str, str]) -> str:
    """The rule of a submission from its ``--comment`` (rule_<name>[_wildcards_...]); a group job's group id."""
    comment = opts.get("--comment", "")
    m = re.match(r"rule_(\w+?)(?:_wildcards_.*)?$", comment)
    return m.group(1) if m else comment


def expected(profile: dict, rule: str, expect: dict[str, dict[str, int]]) -> dict[str, int | str]:
    """The resources the profile (and what the rule asks itself, ``expect``) give ``rule``."""
    res = dict(profile.get("default-resources") or {})
    res.update((profile.get("set-resources") or {}).get(rule) or {})
    res.update(expect.get(rule) or {})
    return res


def check_calls(calls: list[list[str]], profile: dict, expect: dict[str, dict[str, int]],
                groups: set[str] = frozenset()) -> tuple[list[str], dict[str, list[str]]]:
    """(problems, rule -> the options shown for it) over every call."""
    problems: list[str] = []
    seen: dict[str, list[str]] = {}
    for argv in calls:
        o = options(argv)
        rule = rule_of(o)
        want = expected(profile, rule, expect)
        shown = [f"{k} {o[k]}".strip() for k in ("-A", "-p", "-t", "--mem", "--cpus-per-task", "--cpus-per-gpu",
                                                   "--gpus") if k in o]
        seen.setdefault(rule, shown)
        where = f"sbatch call of {rule}"
        for flag, key in (("-A", "slurm_account"), ("-p", "slurm_partition")):
            if o.get(flag) != str(want.get(key)):
                problems.append(f"{where}: {flag} {o.get(flag)!r}, the profile says {want.get(key)!r}")
        if any(rule == g or rule.startswith(f"{g}_") for g in groups):
            # a group job (named <group>_<rules>): resources combined over its jobs, present is what can be held to
            problems += [f"{where}: no {flag}" for flag in ("-t", "--mem") if not o.get(flag)]
            continue
        for flag, key in (("-t", "runtime"), ("--mem", "mem_mb")):
            if key in want and o.get(flag) != str(want[key]):
                problems.append(f"{where}: {flag} {o.get(flag)!r}, expected {want[key]!r}")
        gpus = int(want.get("gpu") or 0)
        if gpus and o.get("--gpus") != str(gpus):
            problems.append(f"{where}: --gpus {o.get('--gpus')!r}, expected {gpus}")
        if not gpus and "--gpus" in o:
            problems.append(f"{where}: asks for GPUs ({o['--gpus']}) but the rule needs none")
    if not calls:
        problems.append("no sbatch call was logged")
    return problems, seen


def _expect(specs: list[str]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for spec in specs:
        rule, _, pairs = spec.partition(":")
        for pair in pairs.split(","):
            k, _, v = pair.partition("=")
            out.setdefault(rule, {})[k] = int(v)
    return out


def main(argv: list[str] | None = None) -> int:
    import yaml

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("calls", help="the folder the sbatch stand-in logged into")
    p.add_argument("profile", help="the profile the run used (config.yaml)")
    p.add_argument("--expect", action="append", default=[], help="RULE:key=value,... the rule asks for itself")
    p.add_argument("--rules", nargs="*", default=[], help="rules that must have been submitted")
    p.add_argument("--groups", nargs="*", default=["unit"], help="group ids (several rules in one submission)")
    args = p.parse_args(argv)
    profile = yaml.safe_load(Path(args.profile).read_text())
    problems, seen = check_calls(read_calls(args.calls), profile, _expect(args.expect), set(args.groups))
    problems += [f"{r}: never submitted" for r in args.rules if r not in seen]
    for rule, shown in sorted(seen.items()):
        print(f"[slurm_check] sbatch {rule}: {' '.join(shown)}")
    if problems:
        print("\n".join(f"[slurm_check] WRONG: {x}" for x in problems))
        return 1
    print(f"[slurm_check] {len(read_calls(args.calls))} sbatch calls of {len(seen)} rules: each with the account, "
          "partition, runtime and memory the profile gives its rule")
    return 0


if __name__ == "__main__":
    sys.exit(main())
