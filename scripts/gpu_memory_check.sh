#!/usr/bin/env bash
# The memory plan on CUDA against the GPU memory each run really held: for each SIZE[:BUDGET], the
# plan's prediction (`run --plan --json --device cuda`) beside the peak of the run's process as
# nvidia-smi reports it (sampled every 50 ms: an instrument brushwork does not control; it counts
# the CUDA context too, as the plan does). A BUDGET (`2048:4G`) plans the run into that much GPU
# memory (tiles where a scale does not fit).
#
#   scripts/gpu_memory_check.sh [SIZE[:BUDGET]...]     (default: 256 512 1024 2048 2048:4G)
#
# Env: BRUSHWORK (default target/release/brushwork, built with --features cuda), ITERATIONS (3),
# PRESET (gatys; one scale), DEVICE (cuda), WEIGHTS (a --weights file; default the installed one).
# Prints a Markdown table; exits 1 when nvidia-smi does not run.
set -euo pipefail
cd "$(dirname "$0")/.."
BW=$(realpath "${BRUSHWORK:-target/release/brushwork}")
ITERATIONS=${ITERATIONS:-3}
PRESET=${PRESET:-gatys}
DEVICE=${DEVICE:-cuda}
nvidia-smi >/dev/null 2>&1 || { echo "gpu_memory_check.sh: nvidia-smi does not run (no GPU or no driver)" >&2; exit 1; }
OUT=$(mktemp -d)
export BRUSHWORK_WORKSPACE=$OUT/ws
JOBS=("$@")
[ ${#JOBS[@]} -gt 0 ] || JOBS=(256 512 1024 2048 2048:4G)
weights=()
[ -n "${WEIGHTS:-}" ] && weights=(--weights "$WEIGHTS")
common=(media/content/tubingen_neckarfront.jpg --style media/style/van_gogh_the_starry_night.jpg
  --preset "$PRESET" --scales 1 --iterations "$ITERATIONS" --device "$DEVICE" "${weights[@]}")

echo "| size | budget | tiles | predicted GiB | peak GPU GiB (nvidia-smi) | prediction error | s/iteration |"
echo "|---|---|---|---|---|---|---|"
for job in "${JOBS[@]}"; do
  size=${job%%:*}
  budget=()
  [ "$job" != "$size" ] && budget=(--max-memory "${job#*:}")
  plan=$("$BW" run "${common[@]}" --size "$size" "${budget[@]}" --plan --json)
  "$BW" run "${common[@]}" --size "$size" "${budget[@]}" --json -o "$OUT/$size.png" >"$OUT/run.json" 2>"$OUT/run.log" &
  pid=$!
  peak=0
  while kill -0 "$pid" 2>/dev/null; do
    used=$(nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits 2>/dev/null |
      awk -F', ' -v p="$pid" '$1 == p { print $2 }')
    [ -n "$used" ] && [ "$used" -gt "$peak" ] && peak=$used
    sleep 0.05
  done
  wait "$pid" || { echo "| $size | ${job#*:} | run failed: $(tail -1 "$OUT/run.log") |"; continue; }
  python3 - "$size" "${budget[1]:-free}" "$peak" "$OUT/run.json" "$plan" <<'PY'
import json, sys
size, budget, peak_mib, events, plan = sys.argv[1:6]
p = json.loads(plan)
s = p["scales"][-1]
peak = int(peak_mib) * 2**20
done = [json.loads(l) for l in open(events) if l.startswith("{")][-1]
tiles = f"{s['tiles']} of {s['core']} px" if s["core"] else "whole"
err = f"{p['bytes'] / peak - 1:+.0%}" if peak else "n/a"
print(f"| {size} | {budget} | {tiles} | {p['bytes'] / 2**30:.2f} | {peak / 2**30:.2f} | {err} | "
      f"{done['seconds'] / max(done.get('iterations') or 1, 1):.3f} |")
PY
done
rm -rf "$OUT"
