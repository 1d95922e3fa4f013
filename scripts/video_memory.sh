#!/usr/bin/env bash
# Does memory grow with the clip? Generates 1080p test clips (FFmpeg's testsrc2 and a tone) of 5 s
# and 60 s at 30 fps and stylises each with `brushwork video` at --size 256 with one iteration per
# frame, reporting the peak resident memory GNU time measures for each (the kernel's figure, not
# brushwork's). Usage: scripts/video_memory.sh [SHORT_S LONG_S]. Env: BRUSHWORK (default
# target/release/brushwork), OUT (default a temp dir), WEIGHTS (default: the installed VGG), RATE
# (frames per second of the clips, default 30).
set -euo pipefail
cd "$(dirname "$0")/.."
BW=$(realpath "${BRUSHWORK:-target/release/brushwork}")
SHORT=${1:-5}
LONG=${2:-60}
RATE=${RATE:-30}
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
[ -x "$BW" ] || { echo "missing $BW (cargo build --release)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "needs GNU time (apt-get install time)" >&2; exit 1; }
style=$(realpath media/style/van_gogh_the_starry_night.jpg)
export BRUSHWORK_WORKSPACE="$OUT/ws"
weights=()
[ -n "${WEIGHTS:-}" ] && weights=(--weights "$WEIGHTS")
printf '| clip | frames | peak RSS (MB) | seconds |\n|---|---|---|---|\n'
for s in "$SHORT" "$LONG"; do
  clip="$OUT/clip-${s}s-${RATE}fps.mp4"
  [ -f "$clip" ] || ffmpeg -y -nostdin -loglevel error -f lavfi -i "testsrc2=size=1920x1080:rate=$RATE" \
    -f lavfi -i "sine=frequency=440:sample_rate=48000" -t "$s" -c:v libx264 -preset veryfast -pix_fmt yuv420p \
    -c:a aac "$clip"
  frames=$(ffprobe -v error -count_packets -select_streams v:0 -show_entries stream=nb_read_packets -of csv=p=0 "$clip")
  start=$SECONDS
  /usr/bin/time -f '%M' -o "$OUT/rss-$s" "$BW" video "$clip" --style "$style" --preset video --size 256 \
    --iterations 1 --frame-iterations 1 "${weights[@]}" -o "$OUT/out-${s}s.mp4" >"$OUT/log-$s" 2>&1
  printf '| %s s 1080p at %s fps | %s | %.0f | %s |\n' "$s" "$RATE" "$frames" "$(awk '{print $1 / 1024}' "$OUT/rss-$s")" "$((SECONDS - start))"
done
