#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages brushwork needs to build and test, skipping those present:
# FFmpeg's development libraries (ffmpeg-next), libclang (bindgen), pkg-config, and the ffmpeg CLI
# (the video tests make their clips with it) and tmux (the dashboard test). Uses sudo when not root.
# With --slurm, also SLURM and munge for scripts/slurm-local.sh (the distributed-render test).
set -euo pipefail
need=()
if [ "${1:-}" = "--slurm" ]; then
  for pkg in slurmctld slurmd slurm-client munge; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || need+=("$pkg")
  done
fi
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v cc >/dev/null || need+=(build-essential)
[ -e /etc/ssl/certs/ca-certificates.crt ] || need+=(ca-certificates)
command -v python3 >/dev/null || need+=(python3 python3-pip)
for pkg in clang libclang-dev libavformat-dev libavcodec-dev libswscale-dev libavutil-dev \
  libswresample-dev libavfilter-dev libavdevice-dev ffmpeg tmux; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
