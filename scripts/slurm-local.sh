#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, without systemd, for trying `brushwork video plan
# --emit slurm` and for the tests: munged, slurmctld and slurmd in the foreground-capable modes,
# with a slurm.conf written to a state folder. Needs Debian's slurmctld, slurmd, slurm-client and
# munge (scripts/install-deps.sh --slurm installs them) and root (slurmd runs jobs as their user).
#
#   scripts/slurm-local.sh up     start it (waits until the node is idle); prints the state folder
#   scripts/slurm-local.sh down   stop it and remove the state
#   scripts/slurm-local.sh status sinfo
#
# State lives in $BRUSHWORK_SLURM_DIR (default /tmp/brushwork-slurm).
set -euo pipefail
state=${BRUSHWORK_SLURM_DIR:-/tmp/brushwork-slurm}
conf=$state/slurm.conf

need() { command -v "$1" >/dev/null || { echo "slurm-local: $1 not found (apt-get install slurmctld slurmd slurm-client munge)" >&2; exit 1; }; }

up() {
  for c in munged slurmctld slurmd sinfo sbatch; do need "$c"; done
  [ "$(id -u)" -eq 0 ] || { echo "slurm-local: run as root (slurmd starts jobs as their owner)" >&2; exit 1; }
  if [ -f "$state/up" ] && SLURM_CONF=$conf sinfo -h >/dev/null 2>&1; then
    echo "$state"
    return
  fi
  mkdir -p "$state"/{spool,ctld,log,munge,run}
  chmod 700 "$state/munge"
  # munge: a key of our own, its socket in the state folder.
  if [ ! -f "$state/munge/munge.key" ]; then
    dd if=/dev/urandom of="$state/munge/munge.key" bs=1024 count=1 status=none
    chmod 400 "$state/munge/munge.key"
  fi
  local host cpus mem
  host=$(hostname -s)
  cpus=$(nproc)
  mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512 ))
  cat >"$conf" <<CONF
ClusterName=brushwork
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$state/munge/munge.socket
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/run/slurmctld.pid
SlurmdPidFile=$state/run/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
SlurmctldPort=${BRUSHWORK_SLURM_PORT:-16817}
SlurmdPort=$(( ${BRUSHWORK_SLURM_PORT:-16817} + 1 ))
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=5
Waittime=0
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
  munged --key-file="$state/munge/munge.key" --socket="$state/munge/munge.socket" \
    --pid-file="$state/run/munged.pid" --log-file="$state/log/munged.log" --seed-file="$state/munge/seed" --force
  export SLURM_CONF=$conf
  slurmctld -D -f "$conf" >>"$state/log/slurmctld.out" 2>&1 &
  echo $! >"$state/run/slurmctld.bg"
  slurmd -D -f "$conf" >>"$state/log/slurmd.out" 2>&1 &
  echo $! >"$state/run/slurmd.bg"
  for _ in $(seq 1 60); do
    if sinfo -h -o '%T' 2>/dev/null | grep -q '^idle'; then
      touch "$state/up"
      echo "$state"
      return
    fi
    sleep 1
  done
  echo "slurm-local: the node did not come up; logs:" >&2
  tail -n 20 "$state"/log/*.log "$state"/log/*.out >&2 || true
  exit 1
}

down() {
  for f in slurmd.bg slurmctld.bg; do
    [ -f "$state/run/$f" ] && kill "$(cat "$state/run/$f")" 2>/dev/null || true
  done
  [ -f "$state/run/munged.pid" ] && kill "$(cat "$state/run/munged.pid")" 2>/dev/null || true
  sleep 1
  rm -rf "$state"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) SLURM_CONF=$conf sinfo ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
