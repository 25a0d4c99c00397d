#!/usr/bin/env bash
# A real single-node SLURM, and the demo workflow run through it with profiles/slurm:
#   1. install slurm-wlm + munge (Debian), write slurm.conf sized from this machine, start munged, slurmctld,
#      slurmd, wait for the node to be idle;
#   2. run `snakemake --profile <profiles/slurm with the placeholders filled>` on the demo config in a scratch
#      copy of the repository, its arXiv branch up to the per-unit shards and stats (selection, the units
#      checkpoint, one download+extract group job per tarball: the whole demo through SLURM took ~15 minutes);
#   3. check: jobs went through sbatch (SLURM job ids in the log and in .snakemake/slurm_logs), every shard
#      byte-identical to a local run's: the golden digests of tests/fixtures/golden_demo.json (the golden test
#      holds a local run to them, so a second local run here would only repeat it); what sbatch received, call
#      by call (a logging stand-in for sbatch first on PATH; tests/sbatch_calls.py): every rule's account,
#      partition, runtime and memory as the profile gives them (a one-node cluster with a default partition
#      takes calls without them, so only this shows they are there); the demo's tiny CPU training asks for no
#      GPU and the config's memory and time; a GPU training config's call requests a GPU (--gpus=1; its
#      submission is expected to be refused: this node has none);
#   4. always, even when a step fails (trap): stop the daemons it started (by their pids) and put back every
#      file it wrote or overwrote (slurm.conf, cgroup.conf, the munge key) and every folder it created. A
#      slurm.conf left behind makes each later `snakemake` on the machine ~11 s slower: the SLURM executor
#      plugin runs `scontrol show config`, which retries a controller that is gone.
# It refuses to run where slurmctld or slurmd already run (a real cluster's node). Packages it installs stay.
# Needs root. Usage: bash .ci/slurm_check.sh [PYTHON]   (PYTHON: the venv's python, default .venv/bin/python)
# SLURM_CHECK_ROOT (tests only) prefixes the system paths it touches.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
PY=${1:-$REPO/.venv/bin/python}
[ -x "$PY" ] || { echo "slurm_check: no python at $PY"; exit 2; }
BIN=$(dirname "$PY")
export PATH="$BIN:$PATH"
[ "$(id -u)" -eq 0 ] || { echo "slurm_check: needs root"; exit 2; }
R=${SLURM_CHECK_ROOT:-}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sciclip-slurm.XXXXXX")
STATE=$WORK/slurm
BACKUP=$WORK/backup
mkdir -p "$STATE"/{ctld,d,log} "$BACKUP"
log() { echo "[slurm_check] $*"; }

if pgrep -x slurmctld >/dev/null || pgrep -x slurmd >/dev/null; then
  log "slurmctld/slurmd already run here: this check needs a machine of its own"; exit 2
fi

# what the check may change, recorded before it does: files (content or absence) and folders (absence)
FILES=("$R/etc/slurm/slurm.conf" "$R/etc/slurm/cgroup.conf" "$R/etc/munge/munge.key")
DIRS=("$R/etc/slurm" "$R/etc/munge" "$R/run/munge" "$R/var/lib/munge" "$R/var/log/munge")
for f in "${FILES[@]}"; do
  if [ -e "$f" ]; then mkdir -p "$BACKUP$(dirname "$f")"; cp -a "$f" "$BACKUP$f"; fi
done
NEW_DIRS=()
for d in "${DIRS[@]}"; do [ -e "$d" ] || NEW_DIRS+=("$d"); done
MUNGED_BEFORE=$(pgrep -x munged >/dev/null && echo yes || echo no)
STARTED_PIDS=()

stop_daemons() {  # only what this check started, by pid
  local pid f
  for f in "$STATE/slurmctld.pid" "$STATE/slurmd.pid"; do
    [ -f "$f" ] && STARTED_PIDS+=("$(cat "$f")")
  done
  if [ "$MUNGED_BEFORE" = no ] && [ -f "$R/run/munge/munged.pid" ]; then
    STARTED_PIDS+=("$(cat "$R/run/munge/munged.pid")")
  fi
  for pid in "${STARTED_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for _ in $(seq 20); do
    local alive=0
    for pid in "${STARTED_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && return 0
    sleep 0.5
  done
  for pid in "${STARTED_PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
}

restore_files() {
  local f d
  for f in "${FILES[@]}"; do
    if [ -e "$BACKUP$f" ]; then cp -a "$BACKUP$f" "$f"; else rm -f "$f"; fi
  done
  for d in "${NEW_DIRS[@]}"; do rm -rf "$d"; done
}

cleanup() {
  local rc=$?
  trap - EXIT
  stop_daemons
  restore_files
  log "daemons stopped, files restored (exit $rc; logs kept in $WORK)"
  exit "$rc"
}
trap cleanup EXIT

need=()
command -v slurmctld >/dev/null || need+=(slurm-wlm)
command -v munged >/dev/null || need+=(munge)
command -v pgrep >/dev/null || need+=(procps)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

# munge: a key, and the daemon as the munge user (unless one already runs)
mkdir -p "$R/etc/munge" "$R/run/munge" "$R/var/lib/munge" "$R/var/log/munge"
if [ ! -s "$R/etc/munge/munge.key" ]; then
  dd if=/dev/urandom bs=1 count=1024 of="$R/etc/munge/munge.key" status=none
fi
chown -R munge:munge "$R/etc/munge" "$R/run/munge" "$R/var/lib/munge" "$R/var/log/munge"
chmod 400 "$R/etc/munge/munge.key"
if [ "$MUNGED_BEFORE" = no ]; then
  runuser -u munge -- munged --force
  sleep 1
fi
munge -n | unmunge >/dev/null

HOST=$(hostname -s)
CPUS=$(nproc)
MEM_MB=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 9 / 10 ))
mkdir -p "$R/etc/slurm"
cat > "$R/etc/slurm/slurm.conf" <<EOF
ClusterName=sciclip-ci
SlurmctldHost=$HOST
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
MinJobAge=300
NodeName=$HOST CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
rm -f "$R/etc/slurm/cgroup.conf"
log "starting slurmctld and slurmd ($CPUS CPUs, $MEM_MB MB)"
slurmctld
slurmd
for i in $(seq 60); do
  state=$(sinfo -h -o %t 2>/dev/null | head -1 || true)
  [ "$state" = "idle" ] && break
  [ "$i" = 60 ] && { log "node never became idle (state: $state)"; cat "$STATE"/log/*.log; exit 1; }
  sleep 1
done
srun -N1 hostname >/dev/null
log "node idle; srun works"

# sbatch as the executor calls it, each call's arguments logged NUL-separated to a file of its own
REAL_SBATCH=$(command -v sbatch)
mkdir -p "$WORK/bin"
cat > "$WORK/bin/sbatch" <<SBATCH
#!/bin/bash
printf '%s\0' "\$@" > "\$(mktemp "\$SBATCH_CALLS/call.XXXXXXXX")"
exec "$REAL_SBATCH" "\$@"
SBATCH
chmod +x "$WORK/bin/sbatch"
submit() {  # submit CALLS_DIR LOG SECONDS snakemake-args...: snakemake with the logging sbatch first on PATH
  local calls=$1 logfile=$2 seconds=$3; shift 3
  mkdir -p "$calls"
  ( cd "$WORK/slurm-run" && PATH="$WORK/bin:$PATH" SBATCH_CALLS="$calls" timeout "$seconds" snakemake \
      --profile "$WORK/profile" "$@" --verbose > "$logfile" 2>&1 )
}

checkout() {  # a scratch copy of the repository's workflow
  mkdir -p "$1"
  cp -r "$REPO"/Snakefile "$REPO"/workflow "$REPO"/config "$REPO"/profiles "$REPO"/src "$1"/
  find "$1" -name __pycache__ -prune -exec rm -rf {} +
  # arXiv only, without the metadata and variants: every other branch's rules go through sbatch like these, and
  # their chains of short jobs (SLURM polls every 10+ s) would be most of a SLURM run's time on one node (CI
  # time). The training job is checked separately below.
  off='cc:\n  enabled: false\ncommonpool:\n  enabled: false\ndocs:\n  enabled: false\npmc:\n  enabled: false\n'
  off="${off}metadata:\n  enabled: false\ncurate:\n  near_dup:\n    enabled: false\n  filters: []\n"
  printf "train:\n  enabled: false\n$off" > "$1/ci.yaml"
  # the demo's tiny CPU training, with the demo's 8000 MB or what this node can give
  printf "${off}train:\n  mem_mb: %s\n" "$TRAIN_MEM" > "$1/nocc.yaml"
  printf "${off}train:\n  device: null\n" > "$1/gpu.yaml"  # a GPU training config
}
TRAIN_MEM=$(( MEM_MB / 2 < 8000 ? MEM_MB / 2 : 8000 ))
checkout "$WORK/slurm-run"

# the SLURM profile with its placeholders filled and per-job CPUs/memory capped to this node
"$PY" - "$REPO/profiles/slurm/config.yaml" "$WORK/profile/config.yaml" "$CPUS" "$MEM_MB" <<'PYEOF'
import sys, yaml
src, dst, cpus, mem = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
p = yaml.safe_load(open(src))
p["default-resources"].update(slurm_partition="debug", slurm_account="root")
p["default-resources"]["cpus_per_task"] = min(p["default-resources"]["cpus_per_task"], cpus)
for rule, res in p.get("set-resources", {}).items():
    for k in ("cpus_per_task", "cpus_per_gpu"):
        if res.get(k):
            res[k] = min(res[k], cpus)
    if "mem_mb" in res:
        res["mem_mb"] = min(res["mem_mb"], mem // 2)
p["set-threads"] = {k: min(v, cpus) for k, v in p.get("set-threads", {}).items()}
# a group job's CPUs add up over its components: on a small node one tarball per group job
p["group-components"] = {k: max(1, min(v, cpus // 2)) for k, v in p.get("group-components", {}).items()}
p["jobs"] = 4
# poll soon: the plugin waits this long after each submission and adds 10 s per poll that finds nothing
# finished; with the profile's 10 s, the demo's ~15 levels of short jobs spent most of 11 minutes waiting
p["slurm-init-seconds-before-status-checks"] = 1
import os
os.makedirs(os.path.dirname(dst), exist_ok=True)
yaml.safe_dump(p, open(dst, "w"), sort_keys=False)
PYEOF

# The demo's arXiv branch up to its per-unit shards and stats goes through sbatch: selection, the units
# checkpoint, one download+extract group job per tarball, stats. (The whole demo through SLURM took ~15 minutes
# on one node, SLURM polling every 10+ s between its ~15 levels of short jobs: most of CI's time.)
log "running the demo's arXiv extraction through SLURM"
start=$(date +%s%N)
submit "$WORK/calls-demo" "$WORK/slurm-run.log" 900 results/stats/arxiv.json --configfile config/config.yaml ci.yaml || {
  log "SLURM run failed"; grep -v "No active jobs" "$WORK/slurm-run.log" | tail -40; squeue || true; exit 1; }
slurm_secs=$(( ($(date +%s%N) - start) / 1000000000 ))
( cd "$REPO" && "$PY" -m tests.sbatch_calls "$WORK/calls-demo" "$WORK/profile/config.yaml" \
    --rules sample_corpus arxiv_manifest arxiv_select units stats ) || {
  log "sbatch did not get the profile's resources"; exit 1; }

submitted=$(grep -cE "submitted with SLURM jobid [0-9]+|jobid [0-9]+ .*submitted|SLURM jobid [0-9]+" "$WORK/slurm-run.log" || true)
slurm_logs=$(find "$WORK/slurm-run/.snakemake/slurm_logs" -name "*.log" 2>/dev/null | wc -l)
log "sbatch submissions seen in the log: $submitted; SLURM log files: $slurm_logs"
[ "$submitted" -ge 5 ] || { log "too few SLURM submissions"; grep -m10 -i "jobid\|sbatch" "$WORK/slurm-run.log"; exit 1; }
[ "$slurm_logs" -ge 5 ] || { log "no per-job SLURM logs"; exit 1; }
grep -q "sbatch call: sbatch" "$WORK/slurm-run.log" || { log "no sbatch call in the verbose log"; exit 1; }

same=$(cd "$REPO" && "$PY" - "$WORK/slurm-run/results" <<'PYEOF'
import json, sys
from pathlib import Path
from tests.golden import artefact_digests
DATA = (".tar", ".npy", ".parquet")  # the data; stats JSON may record the profile's thread counts
ONLY = "arxiv/shards/"  # what the SLURM run made: the arXiv units' shards


def data(digests):
    return {k: v for k, v in digests.items() if k.endswith(DATA) and k.startswith(ONLY)}


golden = data(json.loads(Path("tests/fixtures/golden_demo.json").read_text()))
got = data(artefact_digests(Path(sys.argv[1])))
changed = sorted(k for k in golden if got.get(k) != golden[k]) + sorted(set(got) - set(golden))
if changed:
    sys.exit(f"{len(changed)} of {len(golden)} artefacts differ from the golden run: {changed[:10]}")
print(len(golden))
PYEOF
) || { log "SLURM and local artefacts differ: $same"; exit 1; }
log "$same artefacts byte-identical between the SLURM run and the local (golden) run"

# the training's data, made here without SLURM, so that only the training job goes through sbatch below
( cd "$WORK/slurm-run" && timeout 600 snakemake --cores "$CPUS" results/final/arxiv --configfile config/config.yaml \
    nocc.yaml > "$WORK/local.log" 2>&1 ) || { log "the local run to the training's data failed"; tail -30 "$WORK/local.log"; exit 1; }

log "submitting the demo's tiny CPU training (no GPU; the config's memory and time)"
# the target before --configfile, which takes every word after it as a file
submit "$WORK/calls-train-cpu" "$WORK/train-cpu.log" 300 results/train/web-papers/summary.json \
    --configfile config/config.yaml nocc.yaml || true
( cd "$REPO" && "$PY" -m tests.sbatch_calls "$WORK/calls-train-cpu" "$WORK/profile/config.yaml" --rules train \
    --expect "train:gpu=0,mem_mb=$TRAIN_MEM,runtime=60" ) || { log "the CPU training's sbatch call is wrong"; exit 1; }

log "submitting a GPU training config (a GPU request this node must refuse)"
submit "$WORK/calls-train-gpu" "$WORK/train.log" 300 results/train/web-papers/summary.json --forcerun train \
    --configfile config/config.yaml gpu.yaml && log "training unexpectedly ran" || true
( cd "$REPO" && "$PY" -m tests.sbatch_calls "$WORK/calls-train-gpu" "$WORK/profile/config.yaml" --rules train \
    --expect "train:gpu=1,mem_mb=8000,runtime=60" ) || { log "the GPU training's sbatch call is wrong"; exit 1; }
grep -m1 -E "sbatch call: .*--gpus=1" "$WORK/train.log" | sed 's/^/[slurm_check] train: /' || true
grep -qE "sbatch call: .*--gpus=1" "$WORK/train.log" || { log "train's sbatch call has no --gpus=1"; tail -30 "$WORK/train.log"; exit 1; }

grep -m3 "sbatch call: sbatch" "$WORK/slurm-run.log" | sed 's/^.*sbatch call: /[slurm_check] e.g.: /' || true
log "wall time: SLURM run ${slurm_secs}s"
trap - EXIT
stop_daemons
restore_files
for pid in "${STARTED_PIDS[@]}"; do
  kill -0 "$pid" 2>/dev/null && { log "daemon $pid still running"; exit 1; }
done
[ -e "$R/etc/slurm/slurm.conf" ] && [ ! -e "$BACKUP$R/etc/slurm/slurm.conf" ] && { log "slurm.conf left behind"; exit 1; }
rm -rf "$WORK"
log "files restored; daemons stopped; OK"
