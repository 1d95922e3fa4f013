#!/usr/bin/env bash
# Video steadiness side by side: the same clip, style and preset stylised as cold per-frame,
# `previous`, `warped`, `warped` + temporal and + long-term, in one run, each scored by
# `brushwork eval` (brushwork's DIS at its strongest setting) and, when PYTHON points at a Python
# with opencv-python-headless, by scripts/warp_error_reference.py (OpenCV's DIS: an instrument the
# method does not control). Prints a Markdown table.
#
#   scripts/video_quality.sh CLIP [FRAMES] [SIZE]
#   env: STYLE (default The Starry Night), BIN (default target/release/brushwork), PYTHON,
#        GAMMA (temporal weight, default the video preset's), LONG (default 1,10,20,40),
#        VARIANTS (default "cold previous warped temporal longterm"), OUT (work folder)
set -euo pipefail
cd "$(dirname "$0")/.."
clip=${1:?usage: scripts/video_quality.sh CLIP [FRAMES] [SIZE]}
frames=${2:-0}
size=${3:-256}
style=${STYLE:-media/style/van_gogh_the_starry_night.jpg}
bin=${BIN:-target/release/brushwork}
out=${OUT:-$(mktemp -d)}
long=${LONG:-1,10,20,40}
variants=${VARIANTS:-cold previous warped temporal longterm}
mkdir -p "$out"
export BRUSHWORK_WORKSPACE="$out/workspace"

src="$out/source.mkv"
if [ "$frames" -gt 0 ]; then
  # The first FRAMES frames, losslessly (FFV1), so every variant and the scorers see the same pixels.
  ffmpeg -y -nostdin -loglevel error -i "$clip" -frames:v "$frames" -an -c:v ffv1 "$src"
else
  ffmpeg -y -nostdin -loglevel error -i "$clip" -an -c:v ffv1 "$src"
fi

gamma_flag=()
[ -n "${GAMMA:-}" ] && gamma_flag=(--temporal-weight "$GAMMA")

flags_for() {
  case "$1" in
    cold) echo "--warm-start none --temporal-weight 0" ;;
    previous) echo "--warm-start previous --temporal-weight 0" ;;
    warped) echo "--warm-start warped --temporal-weight 0" ;;
    temporal) echo "--warm-start warped --temporal-frames 1" ;;
    longterm) echo "--warm-start warped --temporal-frames $long" ;;
    *) echo "unknown variant $1" >&2; exit 2 ;;
  esac
}

printf '| run | warping error (brushwork eval) | (OpenCV DIS) | s/frame | style | content |\n'
printf '|---|---|---|---|---|---|\n'
first=1
for v in $variants; do
  extra=()
  case "$v" in temporal | longterm) extra=("${gamma_flag[@]}") ;; esac
  # shellcheck disable=SC2046
  "$bin" video "$src" --style "$style" --preset video --size "$size" $(flags_for "$v") "${extra[@]}" \
    --json -o "$out/$v.mkv" > "$out/$v.jsonl"
  python3 - "$out/$v.jsonl" "$v" > "$out/$v.row" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
p = [e for e in ev if e.get("event") == "progress" and e.get("frame", 0) > 1]
secs = [b["seconds"] - a["seconds"] for a, b in zip(p, p[1:])]
mean = lambda k: sum(e[k] for e in p) / len(p)
print(f"{sum(secs) / max(len(secs), 1):.2f} {mean('style'):.1f} {mean('content'):.1f}")
PY
  read -r spf style_l content_l < "$out/$v.row"
  own=$("$bin" eval "$out/$v.mkv" --content "$src" --json)
  read -r ours floor < <(python3 -c 'import json,sys; e=json.loads(sys.argv[1]); print(e["warp_error"], e["source_warp_error"])' "$own")
  ref="-"
  ref_floor="-"
  if [ -n "${PYTHON:-}" ]; then
    r=$("$PYTHON" scripts/warp_error_reference.py "$out/$v.mkv" "$src" --json)
    read -r ref ref_floor < <(python3 -c 'import json,sys; e=json.loads(sys.argv[1]); print("%.3e %.3e" % (e["warp_error"], e["source_warp_error"]))' "$r")
  fi
  if [ $first = 1 ]; then
    printf '| source (floor) | %.3e | %s | | | |\n' "$floor" "$ref_floor"
    first=0
  fi
  printf '| %s | %.3e | %s | %s | %s | %s |\n' "$v" "$ours" "$ref" "$spf" "$style_l" "$content_l"
done
echo "(outputs and logs in $out)" >&2
