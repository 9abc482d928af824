#!/usr/bin/env bash
# A one-node SLURM on this machine, then a hullscope job through dask-jobqueue's SLURMCluster.
#
# Not run in CI. Needs root (it starts munged, slurmctld and slurmd) and Debian's packages:
#     apt-get update && apt-get install -y slurm-wlm munge
#     pip install dask-jobqueue
#
# What it does:
#   1. munge: a key (the package's /etc/munge/munge.key, created if missing) and munged, checked by
#      `munge -n | unmunge`;
#   2. slurm.conf in $STATE (default /tmp/hullscope-slurm) with this node's real CPUs and memory
#      (the NodeName line of `slurmd -C`), one partition "debug"; slurmctld and slurmd started as
#      daemons with that file (SLURM_CONF points the client commands at it; /etc/slurm is untouched);
#   3. `sinfo` must show the node idle;
#   4. python bench/slurm_run.py "$@": workers submitted with sbatch by SLURMCluster run a leave-one-out
#      sweep and a distance job on MNIST; results are compared bitwise with the local call and timed.
#   5. On exit the daemons it started are stopped (KEEP=1 leaves them running).
#
# Usage:
#     sudo bash bench/slurm_local.sh [slurm_run.py options, e.g. --queries 500 --loo 300]
#     sudo bash bench/slurm_local.sh up      # only bring SLURM up and leave it running; then
#         export SLURM_CONF=/tmp/hullscope-slurm/slurm.conf   # and run your own script
#     sudo bash bench/slurm_local.sh down    # stop the daemons that `up` started
set -euo pipefail

STATE=${STATE:-/tmp/hullscope-slurm}
HERE=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PYTHON:-python}

if [ "$(id -u)" != 0 ]; then echo "slurm_local.sh: run as root (it starts munged, slurmctld, slurmd)" >&2; exit 2; fi
for b in munged slurmctld slurmd sinfo sbatch; do
    command -v "$b" >/dev/null || { echo "slurm_local.sh: $b missing: apt-get install -y slurm-wlm munge" >&2; exit 2; }
done
"$PYTHON" -c "import dask_jobqueue" 2>/dev/null || { echo "slurm_local.sh: pip install dask-jobqueue" >&2; exit 2; }

if [ "${1:-}" = down ]; then
    SLURM_CONF="$STATE/slurm.conf" scancel --name=dask-worker 2>/dev/null || true
    for pidf in "$STATE/slurmd.pid" "$STATE/slurmctld.pid" /run/munge/munged.pid; do
        [ -s "$pidf" ] && kill "$(cat "$pidf")" 2>/dev/null && echo "stopped $(basename "$pidf" .pid)"
    done
    exit 0
fi
MODE=run
if [ "${1:-}" = up ]; then MODE=up; KEEP=1; shift; fi

mkdir -p "$STATE"/{spool,state,log,jobs}
CONF="$STATE/slurm.conf"
export SLURM_CONF="$CONF"

# ---- 1. munge ---------------------------------------------------------------------------------
if [ ! -s /etc/munge/munge.key ]; then
    install -d -o munge -g munge -m 0700 /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
fi
chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
install -d -o munge -g munge -m 0755 /run/munge
install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
started_munge=0
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    runuser -u munge -- /usr/sbin/munged
    started_munge=1
    sleep 1
fi
munge -n | unmunge >/dev/null || { echo "slurm_local.sh: munge does not work" >&2; exit 1; }
echo "munge: ok"

# ---- 2. slurm.conf with this node's real resources ---------------------------------------------
NODE_LINE=$(slurmd -C | head -1)        # NodeName=<host> CPUs=.. Boards=.. ... RealMemory=..
NODE=$(echo "$NODE_LINE" | sed -n 's/^NodeName=\([^ ]*\).*/\1/p')
cat > "$CONF" <<EOF
# written by bench/slurm_local.sh: one node, this machine
ClusterName=hullscope-local
SlurmctldHost=$NODE
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
StateSaveLocation=$STATE/state
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
$NODE_LINE State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
echo "slurm.conf: $CONF ($NODE_LINE)"

# ---- daemons ------------------------------------------------------------------------------------
started=()
stop() {
    if [ "${KEEP:-0}" = 1 ]; then echo "KEEP=1: daemons left running (SLURM_CONF=$CONF)"; return; fi
    scancel --name=dask-worker 2>/dev/null || true
    for pidf in "$STATE/slurmd.pid" "$STATE/slurmctld.pid"; do
        if [ -s "$pidf" ] && [[ " ${started[*]:-} " == *" $pidf "* ]]; then
            kill "$(cat "$pidf")" 2>/dev/null || true
        fi
    done
    if [ "$started_munge" = 1 ] && [ -s /run/munge/munged.pid ]; then kill "$(cat /run/munge/munged.pid)" 2>/dev/null || true; fi
}
trap stop EXIT

running() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
if ! running "$STATE/slurmctld.pid"; then
    slurmctld -f "$CONF"; started+=("$STATE/slurmctld.pid")
fi
if ! running "$STATE/slurmd.pid"; then
    slurmd -f "$CONF"; started+=("$STATE/slurmd.pid")
fi

# ---- 3. sinfo: the node must come up idle ---------------------------------------------------------
for _ in $(seq 1 30); do
    st=$(sinfo -h -N -o "%t" 2>/dev/null | head -1 || true)
    if [ "$st" = idle ] || [ "$st" = mix ]; then break; fi
    sleep 1
done
sinfo
[ "$st" = idle ] || [ "$st" = mix ] || { echo "slurm_local.sh: node state '$st', see $STATE/log" >&2; exit 1; }

if [ "$MODE" = up ]; then echo "SLURM is up: export SLURM_CONF=$CONF"; exit 0; fi

# ---- 4. the hullscope job -------------------------------------------------------------------------
cd "$STATE/jobs"
"$PYTHON" "$HERE/slurm_run.py" "$@"
