#!/usr/bin/env bash
# Does BF16 change the picture? Runs one preset on the README's photo and painting three ways in one
# go: f32 products on 2 threads, the default (BF16 where the CPU has AMX) on 2 threads, and f32 on 1
# thread (the yardstick: the same arithmetic summed in another order). Each run reports its own final
# loss, computed by the network it ran with; then every result is scored again by one instrument
# none of them controls: the f32 network on 2 threads, one Adam step of 1e-9 from the saved PNG.
# Usage: scripts/precision_check.sh [PRESET] (default gatys). Env: BRUSHWORK (default
# target/release/brushwork), OUT (default a temp dir).
set -euo pipefail
cd "$(dirname "$0")/.."
BW=${BRUSHWORK:-target/release/brushwork}
PRESET=${1:-gatys}
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
[ -x "$BW" ] || { echo "missing $BW (cargo build --release)" >&2; exit 1; }
content=media/content/tubingen_neckarfront.jpg
style=media/style/van_gogh_the_starry_night.jpg
export BRUSHWORK_WORKSPACE="$OUT/ws"

# The last JSON object with "event":"done" (or the first "progress") -> loss and seconds.
field() { python3 -c 'import json,sys
ev, key = sys.argv[1], sys.argv[2]
for l in sys.stdin:
    try: o = json.loads(l)
    except Exception: continue
    if o.get("event") == ev: print(o[key]); break' "$1" "$2"; }

rows=()
for run in "f32 2" "auto 2" "f32 1"; do
  set -- $run
  name="$1-$2t"
  echo "$PRESET: $name ..." >&2
  log=$(RAYON_NUM_THREADS=$2 "$BW" run "$content" --style "$style" --preset "$PRESET" --precision "$1" \
        -o "$OUT/$name.png" --json 2>&1) || { echo "$name failed: $(tail -n 3 <<<"$log")" >&2; exit 1; }
  size=$(python3 -c 'import tomllib,sys; print(tomllib.load(open(sys.argv[1],"rb"))["size"])' "presets/$PRESET.toml")
  scored=$(RAYON_NUM_THREADS=2 "$BW" run "$content" --style "$style" --preset "$PRESET" --precision f32 \
        --scales 1 --size "$size" --init file --init-file "$OUT/$name.png" --iterations 1 --optimizer adam \
        --learning-rate 1e-9 -o "$OUT/score-$name.png" --json 2>&1 | field progress loss)
  rows+=("$name $(field done loss <<<"$log") $(field done seconds <<<"$log") $scored")
done
python3 - "${rows[@]}" <<'PY'
import sys
rows = [r.split() for r in sys.argv[1:]]
base = {r[0]: (float(r[1]), float(r[3])) for r in rows}["f32-2t"]
print(f"{'run':>8} {'own loss':>10} {'vs f32':>7} {'seconds':>8} {'f32 score':>10} {'vs f32':>7}")
for name, own, secs, score in rows:
    own, secs, score = float(own), float(secs), float(score)
    print(f"{name:>8} {own:>10.2f} {100 * (own / base[0] - 1):>+6.2f}% {secs:>8.1f} {score:>10.2f} {100 * (score / base[1] - 1):>+6.2f}%")
PY
echo "results in $OUT" >&2
