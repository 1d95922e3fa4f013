#!/usr/bin/env bash
# End-to-end speed of two brushwork builds side by side, on real weights, in one run (A B A B):
#   - `run --preset quick` on the README's pair (Tübingen + The Starry Night): seconds, final loss,
#     evaluations per iteration (the line search's extra ones included);
#   - `video --preset video` (256 px) on the first FRAMES frames of the shipped clip, cut losslessly
#     first so both builds see the same pixels: seconds per warm-started frame (frames 2..FRAMES,
#     from the per-frame `seconds` of `--json`), evaluations per frame.
# Usage: scripts/speed_check.sh BEFORE AFTER [FRAMES] [ROUNDS]   (BEFORE, AFTER: brushwork binaries)
# Needs the installed VGG-16 weights (`brushwork weights fetch`), ffmpeg and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { sed -n 2,9p "$0" >&2; exit 2; }
before=$(realpath "$1"); after=$(realpath "$2"); frames=${3:-8}; rounds=${4:-2}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
clip="$work/clip.mkv"
ffmpeg -y -nostdin -loglevel error -i media/video/tears_of_steel_10s_640x360.mp4 -frames:v "$frames" -an -c:v ffv1 "$clip"
content=media/content/tubingen_neckarfront.jpg
style=media/style/van_gogh_the_starry_night.jpg

# One JSON summary line per job, read from the job's --json lines.
summary() { python3 -c '
import json, sys
kind, name = sys.argv[1], sys.argv[2]
events = [json.loads(l) for l in sys.stdin if l.startswith("{")]
prog = [e for e in events if e.get("event") == "progress"]
if kind == "image":
    last = prog[-1]
    print(json.dumps({"build": name, "job": "quick", "seconds": last["seconds"], "loss": last["loss"],
                      "evaluations_per_iteration": last.get("evaluations", 0) / last["iteration"]}))
else:
    frames = [e for e in prog if "frame" in e and e["frame"] > 1]
    times = [b["seconds"] - a["seconds"] for a, b in zip(prog, prog[1:]) if b.get("frame", 0) > 1]
    print(json.dumps({"build": name, "job": "video", "frames": len(frames),
                      "seconds_per_frame": sum(times) / max(len(times), 1),
                      "evaluations_per_frame": sum(e.get("evaluations", 0) for e in frames) / max(len(frames), 1),
                      "iterations_per_frame": sum(e["iteration"] for e in frames) / max(len(frames), 1),
                      "loss_last_frame": prog[-1]["loss"]}))
' "$@"; }

results="$work/results.jsonl"
for round in $(seq "$rounds"); do
  for side in before after; do
    bin=$([ $side = before ] && echo "$before" || echo "$after")
    echo "round $round: $side, quick ..." >&2
    (cd "$work" && "$bin" run "$OLDPWD/$content" --style "$OLDPWD/$style" --preset quick -o "quick-$side.png" \
       --workspace "$work/ws-$side" --json) | summary image "$side" | tee -a "$results" >&2
    echo "round $round: $side, video ..." >&2
    (cd "$work" && "$bin" video "$clip" --style "$OLDPWD/$style" --preset video -o "video-$side.mp4" \
       --workspace "$work/ws-$side" --json) | summary video "$side" | tee -a "$results" >&2
  done
done

python3 - "$results" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def pick(build, job, key):
    return [r[key] for r in rows if r["build"] == build and r["job"] == job]
def med(v): return statistics.median(v) if v else float("nan")
print(f"{'':34} {'before':>10} {'after':>10} {'after/before':>13}")
for job, key in [("quick", "seconds"), ("quick", "loss"), ("quick", "evaluations_per_iteration"),
                 ("video", "seconds_per_frame"), ("video", "evaluations_per_frame"), ("video", "loss_last_frame")]:
    b, a = med(pick("before", job, key)), med(pick("after", job, key))
    ratio = f"{a / b:.3f}" if b else "n/a"
    print(f"{job + ' ' + key:34} {b:>10.4g} {a:>10.4g} {ratio:>13}")
EOF
