#!/usr/bin/env bash
# A real single-node Slurm on localhost (Debian's slurm-wlm and munge, configured in a temporary
# folder), a 2-shard sweep submitted through the job script `sweep --slurm` writes, and its
# gathered experiment checked against an unsharded run of the same sweep.
# Usage: slurm_test.sh MERGESCOPE_CLI KIT.yaml. Exit 77 (ctest: skipped) where the daemons cannot
# start here, saying why; the shard and gather tests (msmodel_tests) run regardless.
set -uo pipefail
cli="$1"; kit="$2"
skip() { echo "SKIPPED: $*"; exit 77; }
for b in slurmctld slurmd munged mungekey sbatch squeue sinfo; do
  command -v "$b" >/dev/null || PATH="$PATH:/usr/sbin" command -v "$b" >/dev/null || skip "$b is not installed (apt install slurm-wlm munge)"
done
export PATH="$PATH:/usr/sbin"
[ "$(id -u)" -eq 0 ] || skip "slurmd launches jobs as their users: this test needs root"

tmp="$(mktemp -d)"
node="$(hostname -s)"
cleanup() {
  for p in slurmd slurmctld munged; do [ -f "$tmp/$p.pid" ] && kill "$(cat "$tmp/$p.pid")" 2>/dev/null; done
  sleep 1
  rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/state" "$tmp/spool" "$tmp/munge" "$tmp/work"
chmod 700 "$tmp/munge"

mungekey --create --keyfile="$tmp/munge/munge.key" >/dev/null 2>&1 || skip "mungekey cannot create a key"
munged --force --key-file="$tmp/munge/munge.key" --socket="$tmp/munge/munge.sock" --pid-file="$tmp/munged.pid" \
  --log-file="$tmp/munged.log" --seed-file="$tmp/munge/munge.seed" 2>"$tmp/munged.err" \
  || skip "munged does not start: $(tail -n 2 "$tmp/munged.err" "$tmp/munged.log" 2>/dev/null | tr '\n' ' ')"

port=$(( 20000 + RANDOM % 20000 ))
cat >"$tmp/slurm.conf" <<CONF
ClusterName=mergescope-test
SlurmctldHost=$node
SlurmctldPort=$port
SlurmdPort=$(( port + 1 ))
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$tmp/munge/munge.sock
CredType=cred/munge
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
NodeName=$node CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$tmp/slurm.conf"
slurmctld -c 2>"$tmp/slurmctld.err" || skip "slurmctld does not start: $(tail -n 3 "$tmp/slurmctld.err" "$tmp/slurmctld.log" 2>/dev/null | tr '\n' ' ')"
slurmd 2>"$tmp/slurmd.err" || skip "slurmd does not start: $(tail -n 3 "$tmp/slurmd.err" "$tmp/slurmd.log" 2>/dev/null | tr '\n' ' ')"
for _ in $(seq 60); do
  sinfo -h -o %t 2>/dev/null | grep -q idle && break
  sleep 0.5
done
sinfo -h -o %t 2>/dev/null | grep -q idle || skip "the node did not come up: $(sinfo 2>&1 | tail -n 2 | tr '\n' ' ') $(tail -n 3 "$tmp/slurmd.log" 2>/dev/null | tr '\n' ' ')"
echo "slurm up: node $node, port $port"
# Can this machine run a job at all? (A container may start the daemons yet not launch tasks.)
probe="$(sbatch --parsable --wrap 'echo ok' --output="$tmp/probe.out" 2>&1)" || skip "sbatch refuses a trivial job: $probe"
for _ in $(seq 60); do
  [ -z "$(squeue -h -j "$probe" 2>/dev/null)" ] && break
  sleep 0.5
done
grep -q ok "$tmp/probe.out" 2>/dev/null || skip "a trivial job did not run here: $(tail -n 3 "$tmp/slurmd.log" 2>/dev/null | tr '\n' ' ')"

fail() { echo "FAILED: $*"; for f in "$tmp"/*.log "$tmp"/work/exp.shards/*.out; do [ -f "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }; done; exit 1; }
cd "$tmp/work"
args=(sweep --kit "$kit" --grid lambda=0:1:4 --downstream frozen --no-feature-cache --probe-size 8)
"$cli" "${args[@]}" --out exp.h5 --slurm job.sbatch --shards 2 --partition debug --time 10 || fail "sweep --slurm"
bash job.sbatch || fail "submitting job.sbatch"
for _ in $(seq 240); do
  [ -z "$(squeue -h 2>/dev/null)" ] && break
  sleep 0.5
done
[ -f exp.h5 ] || fail "no gathered experiment after the jobs ended ($(squeue 2>&1 | tail -n 3 | tr '\n' ' '))"
"$cli" "${args[@]}" --out whole.h5 >/dev/null 2>&1 || fail "unsharded sweep"
g="$("$cli" report exp.h5 --json)" || fail "report exp.h5"
w="$("$cli" report whole.h5 --json)" || fail "report whole.h5"
python3 -c '
import json, sys
g, w = (json.loads(s)["sweeps"][0] for s in sys.argv[1:3])
assert g["status"] == "complete", g["status"]
assert len(g["points"]) == 4, len(g["points"])
for a, b in zip(g["points"], w["points"]):
    assert a["params"] == b["params"] and a["proxy"] == b["proxy"] and a["downstream"] == b["downstream"], (a, b)
print("gathered 4 points from 2 Slurm shards, equal to the unsharded sweep")
' "$g" "$w" || fail "gathered experiment differs from the unsharded one"
ls exp.shards/shard-1.h5 exp.shards/shard-2.h5 >/dev/null || fail "parts missing"
exit 0
