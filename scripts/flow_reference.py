#!/usr/bin/env python3
"""Reference optical flow from OpenCV's DIS, to check brushwork's own DIS (src/flow) against.

    python3 scripts/flow_reference.py FIRST.png SECOND.png OUT.flo [--preset medium] [--patch 8 --stride 3]

Writes the flow from FIRST to SECOND (for each pixel x of FIRST, SECOND's match is x + (u, v)) as a
Middlebury .flo file. Needs `pip install opencv-python-headless numpy`.
"""
import argparse
import sys

import cv2
import numpy as np

PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


def grey(path):
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        sys.exit(f"flow_reference: cannot read {path}")
    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)


def write_flo(path, flow):
    h, w = flow.shape[:2]
    with open(path, "wb") as f:
        f.write(b"PIEH")
        np.array([w, h], dtype="<i4").tofile(f)
        flow.astype("<f4").tofile(f)  # (h, w, 2): u, v interleaved, row by row


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("first")
    ap.add_argument("second")
    ap.add_argument("out")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="medium")
    ap.add_argument("--patch", type=int, help="override the preset's patch size")
    ap.add_argument("--stride", type=int, help="override the preset's patch stride")
    args = ap.parse_args()
    a, b = grey(args.first), grey(args.second)
    if a.shape != b.shape:
        sys.exit(f"flow_reference: sizes differ: {a.shape} vs {b.shape}")
    dis = cv2.DISOpticalFlow_create(PRESETS[args.preset])
    if args.patch:
        dis.setPatchSize(args.patch)
    if args.stride:
        dis.setPatchStride(args.stride)
    flow = dis.calc(a, b, None)
    write_flo(args.out, flow)
    print(
        f"{args.out}: {a.shape[1]}x{a.shape[0]}, preset {args.preset}, patch {dis.getPatchSize()}, "
        f"stride {dis.getPatchStride()}, finest scale {dis.getFinestScale()}, "
        f"max |flow| {float(np.sqrt((flow ** 2).sum(-1)).max()):.2f}"
    )


if __name__ == "__main__":
    main()
