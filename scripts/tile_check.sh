#!/usr/bin/env bash
# Big pictures, side by side in one run: for each size, the same job whole and planned to fit a
# memory budget (`--max-memory`: tiles where a scale does not fit, exact), each run's peak
# resident memory measured by GNU time (an instrument brushwork does not control), its time per
# iteration and its final loss, with the plan's prediction beside the measured peak.
# Usage: scripts/tile_check.sh SIZE:BUDGET... (default 1024:1G 2048:2G). Env: BRUSHWORK (default
# target/release/brushwork), ITERATIONS (10), PRESET (gatys), OUT (a temp dir), WHOLE (1: also run
# each size whole; 0: only the budgeted run).
set -euo pipefail
cd "$(dirname "$0")/.."
BW=$(realpath "${BRUSHWORK:-target/release/brushwork}")
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
ITERATIONS=${ITERATIONS:-10}
PRESET=${PRESET:-gatys}
WHOLE=${WHOLE:-1}
export BRUSHWORK_WORKSPACE="$OUT/ws"
JOBS=("$@")
[ ${#JOBS[@]} -gt 0 ] || JOBS=(1024:1G 2048:2G)
content=media/content/tubingen_neckarfront.jpg
style=media/style/van_gogh_the_starry_night.jpg
common=(--style "$style" --preset "$PRESET" --scales 1 --iterations "$ITERATIONS")

one() { # NAME SIZE [FLAGS...] -> a table row
  local name=$1 size=$2
  shift 2
  local predicted
  predicted=$("$BW" run "$content" "${common[@]}" --size "$size" "$@" --plan --json | python3 -c \
    'import json,sys; p=json.loads(sys.stdin.read()); s=p["scales"][-1]; print(p["bytes"], s["tiles"], s["core"] or "whole")')
  /usr/bin/time -f "%M" -o "$OUT/$name.rss" "$BW" run "$content" "${common[@]}" --size "$size" "$@" \
    --json -o "$OUT/$name.png" >"$OUT/$name.json" 2>"$OUT/$name.log"
  python3 - "$name" "$size" "$OUT/$name.rss" "$OUT/$name.json" $predicted <<'PY'
import json, sys
name, size, rss_path, events, predicted, tiles, core = sys.argv[1:8]
rss = int(open(rss_path).read().split()[-1]) * 1024
done = [json.loads(l) for l in open(events) if l.startswith("{")][-1]
its = done.get("iterations") or 1
print(f"| {name} | {size} | {tiles} x {core} | {float(predicted) / 2**30:.2f} | {rss / 2**30:.2f} | "
      f"{float(predicted) / rss - 1:+.0%} | {done['seconds'] / its:.2f} | {done['loss']:.6g} |")
PY
}

echo "| run | size | tiles | predicted GiB | peak RSS GiB | prediction error | s/iteration | final loss |"
echo "|---|---|---|---|---|---|---|---|"
for job in "${JOBS[@]}"; do
  size=${job%%:*}
  budget=${job##*:}
  [ "$WHOLE" = 1 ] && one "whole-$size" "$size"
  one "tiled-$size-$budget" "$size" --max-memory "$budget"
done
