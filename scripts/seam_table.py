#!/usr/bin/env python3
"""The seam table of scripts/seam_check.sh from its output folder: python3 seam_table.py OUT PREROLL..."""
import json, statistics, sys
out, prerolls = sys.argv[1], [int(p) for p in sys.argv[2:]]
def errors(path):
    e = json.loads(open(path).read().strip().splitlines()[-1])
    return {f["frame"]: f["warp_error"] for f in e["per_frame"] if f["warp_error"] is not None}
plan = json.loads(open(f"{out}/plan-{prerolls[0]}.json").read().strip().splitlines()[-1])
segs = [(s["first"], s["last"]) for s in plan["segments"]]
# Seam i: frames (1-based) whose error measures a change inside the largest crossfade and into
# the segment's first frame.
width = max(prerolls)
seams = []
for (pf, pl), (f, _) in zip(segs, segs[1:]):
    fade = min(width, pl - pf + 1)
    seams.append((f, list(range(f - fade, f + 1))))
single = errors(f"{out}/single.json")
# Frames where the source itself does not follow its flow (a cut: its own warping error over ten
# times its median) measure the cut, not the seam, in every run; they are left out.
src = json.loads(open(f"{out}/single.json").read().strip().splitlines()[-1])
src_err = {f["frame"]: f["source_warp_error"] for f in src["per_frame"] if f["source_warp_error"] is not None}
src_med = statistics.median(src_err.values())
cuts = sorted(k for k, e in src_err.items() if e > 10 * src_med)
# Every row is divided by the one-machine render's median: blending raises a run's own median.
single_med = statistics.median(single.values())
def row(name, e):
    med = single_med
    worst = [max(e[k] for k in frames if k in e and k not in cuts) / med for _, frames in seams]
    print(f"| {name} | {med:.5f} | " + " | ".join(f"{r:.2f}" for r in worst) + f" | {max(worst):.2f} |")
print(f"frames {plan['frames']}, seams at frames {[f for f, _ in seams]}, each with the crossfade before it; cuts left out: {cuts}")
print("| run | median warp error | " + " | ".join(f"seam at {f} / median" for f, _ in seams) + " | worst |")
print("|---|---|" + "---|" * len(seams) + "---|")
row("one machine (no seams)", single)
for w in prerolls:
    row(f"--preroll {w}", errors(f"{out}/seams-{w}.json"))
last_first, last_frames = seams[-1]
fade = min(max(prerolls), last_frames[-1] - last_frames[0])
print(f"MID {last_first - 1 - fade // 2} SEAM {last_first}")
