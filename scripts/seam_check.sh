#!/usr/bin/env bash
# Do segment boundaries show? Cuts the first seconds of a shipped clip, plans it in segments with
# several --preroll values, renders every segment on this machine and stitches it, then scores
# the stitched clip with `brushwork eval` (the warping error of each frame against the previous
# one, moved along the *source's* flow: the same instrument for every run). For each preroll it
# prints, per seam, the worst warping error over the seam's crossfade (the frames blended there
# by the largest preroll, and the segment's first frame) over the clip's median, and the same for
# the one-machine render (`brushwork video`, no seams) at the same frames. Then what the blend
# costs the picture: the style and content losses (`brushwork eval`, the preset's layers) of the
# middle frame of the last crossfade, blended half and half, against the same frame of the
# one-machine render and the seam's own first frame.
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

python3 scripts/seam_table.py "$OUT" "${PREROLLS[@]}" >"$OUT/table.txt"
cat "$OUT/table.txt" | grep -v '^MID'
# What the blend costs: the middle frame of the last crossfade of the largest preroll (blended
# about half and half), that frame of the one-machine render, and the seam's first frame.
read -r _ mid _ seam < <(grep '^MID' "$OUT/table.txt")
w=${PREROLLS[-1]}
frame() { # CLIP N(1-based) PNG
  ffmpeg -y -nostdin -loglevel error -i "$1" -vf "select=eq(n\,$(($2 - 1)))" -frames:v 1 "$3"
}
frame "$src" "$mid" "$OUT/content-mid.png"
frame "$OUT/seams-$w.mp4" "$mid" "$OUT/blend-mid.png"
frame "$OUT/single.mp4" "$mid" "$OUT/single-mid.png"
frame "$src" "$seam" "$OUT/content-seam.png"
frame "$OUT/seams-$w.mp4" "$seam" "$OUT/seam-first.png"
frame "$OUT/single.mp4" "$seam" "$OUT/single-seam.png"
losses() { "$BW" eval "$1" --content "$2" --style "$style" --preset "$PRESET" --json | tail -n 1; }
echo "losses of frame $mid (crossfade middle, --preroll $w) and frame $seam (the segment's first):"
for f in blend-mid:content-mid single-mid:content-mid seam-first:content-seam single-seam:content-seam; do
  echo "$f $(losses "$OUT/${f%%:*}.png" "$OUT/${f##*:}.png")"
done
