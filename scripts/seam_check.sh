#!/usr/bin/env bash
# Do segment boundaries show? Cuts the first seconds of a shipped clip, plans it in segments with
# several --preroll values, renders every segment on this machine and stitches it, then scores
# the stitched clip with `brushwork eval` (the warping error of each frame against the previous
# one, moved along the *source's* flow: the same instrument for every run). For each preroll it
# prints the warping error at each segment's first frame over the clip's median, and the same for
# the one-machine render (`brushwork video`, no seams) at the same frames.
# Usage: scripts/seam_check.sh [PREROLL...] (default 0 2 4 8). Env: BRUSHWORK (default
# target/release/brushwork), OUT (default a temp dir), SECONDS_CUT (3), SEGMENTS (4), SIZE (128),
# PRESET (video), CLIP (media/video/tears_of_steel_10s_640x360.mp4).
set -euo pipefail
cd "$(dirname "$0")/.."
BW=$(realpath "${BRUSHWORK:-target/release/brushwork}")
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
CLIP=${CLIP:-media/video/tears_of_steel_10s_640x360.mp4}
CUT=${SECONDS_CUT:-3}
SEGMENTS=${SEGMENTS:-4}
SIZE=${SIZE:-128}
PRESET=${PRESET:-video}
PREROLLS=("$@")
[ ${#PREROLLS[@]} -gt 0 ] || PREROLLS=(0 2 4 8)
style=$(realpath media/style/van_gogh_the_starry_night.jpg)
export BRUSHWORK_WORKSPACE="$OUT/ws"
src="$OUT/source.mp4"
ffmpeg -y -nostdin -loglevel error -i "$CLIP" -t "$CUT" -c:v libx264 -pix_fmt yuv420p -c:a copy "$src"
common=(--style "$style" --preset "$PRESET" --size "$SIZE")

score() { # OUT.mp4 -> JSON per-frame warp errors
  "$BW" eval "$1" --content "$src" --json
}

"$BW" video "$src" "${common[@]}" -o "$OUT/single.mp4" >"$OUT/single.log" 2>&1
score "$OUT/single.mp4" >"$OUT/single.json"
for w in "${PREROLLS[@]}"; do
  dir="$OUT/plan-$w"
  "$BW" video plan "$src" "${common[@]}" --segments "$SEGMENTS" --preroll "$w" --workdir "$dir" \
    -o "$OUT/seams-$w.mp4" --json >"$OUT/plan-$w.json" 2>"$OUT/plan-$w.log"
  for ((i = 0; i < SEGMENTS; i++)); do
    "$BW" video render "$dir" --segment "$i" >>"$OUT/render-$w.log" 2>&1
  done
  "$BW" video stitch "$dir" >>"$OUT/render-$w.log" 2>&1
  score "$OUT/seams-$w.mp4" >"$OUT/seams-$w.json"
done

python3 - "$OUT" "${PREROLLS[@]}" <<'PY'
import json, statistics, sys
out, prerolls = sys.argv[1], sys.argv[2:]
def errors(path):
    e = json.loads(open(path).read().strip().splitlines()[-1])
    return {f["frame"]: f["warp_error"] for f in e["per_frame"] if f["warp_error"] is not None}
plan = json.loads(open(f"{out}/plan-{prerolls[0]}.json").read().strip().splitlines()[-1])
starts = [s["first"] for s in plan["segments"]][1:]
single = errors(f"{out}/single.json")
def row(name, e):
    med = statistics.median(e.values())
    ratios = [e[f] / med for f in starts if f in e]
    print(f"| {name} | {med:.5f} | " + " | ".join(f"{r:.2f}" for r in ratios) + f" | {max(ratios):.2f} |")
print(f"frames {plan['frames']}, seams at frames {starts}")
print("| run | median warp error | " + " | ".join(f"frame {f} / median" for f in starts) + " | worst |")
print("|---|---|" + "---|" * len(starts) + "---|")
row("one machine (no seams)", single)
for w in prerolls:
    row(f"--preroll {w}", errors(f"{out}/seams-{w}.json"))
PY
