#!/usr/bin/env python3
"""The seam table of scripts/seam_check.sh from its output folder.

Usage: python3 scripts/seam_table.py OUT PREROLL...

Per seam (a segment's first frame) and per run: the warping error of the seam frame over the
one-machine render's median, the worst frame of the seam's crossfade (the frames blended there by
the largest preroll, and the seam frame) over that median, and the worst frame of the crossfade
over the one-machine render's error at the same frame (1.00: no worse than without seams).
Every row is divided by the one-machine median (blending raises a run's own median). Frames where
the source itself does not follow its flow (a cut: its own warping error over ten times its
median) measure the cut, not the seam, in every run, and are left out.
"""
import json
import statistics
import sys

out, prerolls = sys.argv[1], [int(p) for p in sys.argv[2:]]


def last_json(path):
    return json.loads(open(path).read().strip().splitlines()[-1])


def errors(path):
    return {f["frame"]: f["warp_error"] for f in last_json(path)["per_frame"] if f["warp_error"] is not None}


plan = last_json(f"{out}/plan-{prerolls[0]}.json")
segs = [(s["first"], s["last"]) for s in plan["segments"]]
width = max(prerolls)
seams = []
for (pf, pl), (f, _) in zip(segs, segs[1:]):
    fade = min(width, pl - pf + 1)
    seams.append((f, list(range(f - fade, f + 1))))
src = last_json(f"{out}/single.json")["per_frame"]
src_err = {f["frame"]: f["source_warp_error"] for f in src if f["source_warp_error"] is not None}
src_med = statistics.median(src_err.values())
cuts = sorted(k for k, e in src_err.items() if e > 10 * src_med)
single = errors(f"{out}/single.json")
med = statistics.median(single.values())
print(f"frames {plan['frames']}, seams at frames {[f for f, _ in seams]}, crossfades up to {width} frames; "
      f"one-machine median warping error {med:.5f}; cuts left out: {cuts}")
head = " | ".join(f"seam {f}: frame / median, worst / median, worst / one machine" for f, _ in seams)
print(f"| run | {head} |")
print("|---|" + "---|" * len(seams))


def row(name, e):
    cells = []
    for f, frames in seams:
        frames = [k for k in frames if k in e and k not in cuts]
        worst = max(e[k] for k in frames) / med
        vs = max(e[k] / single[k] for k in frames)
        cells.append(f"{e[f] / med:.2f}, {worst:.2f}, {vs:.2f}")
    print(f"| {name} | " + " | ".join(cells) + " |")


row("one machine (no seams)", single)
for w in prerolls:
    row(f"--preroll {w}", errors(f"{out}/seams-{w}.json"))
last_first, last_frames = seams[-1]
fade = min(max(prerolls), last_frames[-1] - last_frames[0])
print(f"MID {last_first - 1 - fade // 2} SEAM {last_first}")
