#!/usr/bin/env python3
"""Independent warping error of a stylised clip against its source, with OpenCV's DIS flow.

brushwork grades clips with its own DIS implementation (`brushwork eval OUT --content IN`). This
script is the outside instrument that checks it: the same definition (Lai et al. 2018; Ruder et
al. 2016's reliability mask), but OpenCV's flow (DIS, preset medium), OpenCV's decoder and
OpenCV's bilinear remap. It is a reference for comparisons, not a dependency of brushwork.

    python3 -m venv /tmp/cv && /tmp/cv/bin/pip install opencv-python-headless numpy
    /tmp/cv/bin/python scripts/warp_error_reference.py OUT.mp4 IN.mp4 [--json]

Per frame t >= 2: the flow from source frame t to t-1 and back, at the output's size; a pixel is
reliable where |w + w'(x + w)|^2 <= 0.01 (|w|^2 + |w'(x + w)|^2) + 0.5, |grad u|^2 + |grad v|^2 <=
0.01 |w|^2 + 0.002, and x + w lies inside the frame; the error is the mean over reliable pixels
of the squared RGB difference (channels summed, values in [0,1]) between frame t and frame t-1
warped by the flow. The same for the source frames is the floor.
"""

import argparse
import json
import sys

import cv2
import numpy as np


def frames(path, size=None):
    cap = cv2.VideoCapture(path)
    out = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        f = cv2.cvtColor(f, cv2.COLOR_BGR2RGB)
        if size is not None and (f.shape[1], f.shape[0]) != size:
            f = cv2.resize(f, size, interpolation=cv2.INTER_AREA)
        out.append(f)
    if not out:
        sys.exit(f"{path}: no frames")
    return out


def warp(img, flow):
    h, w = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(img, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def reliable(back, fwd):
    h, w = back.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    tx, ty = xs + back[..., 0], ys + back[..., 1]
    inside = (tx >= 0) & (tx <= w - 1) & (ty >= 0) & (ty <= h - 1)
    fwd_at = warp(fwd, back)
    s = back + fwd_at
    consistent = (s**2).sum(-1) <= 0.01 * ((back**2).sum(-1) + (fwd_at**2).sum(-1)) + 0.5
    du = np.gradient(back[..., 0])
    dv = np.gradient(back[..., 1])
    grad = du[0] ** 2 + du[1] ** 2 + dv[0] ** 2 + dv[1] ** 2
    smooth = grad <= 0.01 * (back**2).sum(-1) + 0.002
    return inside & consistent & smooth


def error(prev, cur, back, mask):
    if not mask.any():
        return None
    p = prev.astype(np.float32) / 255.0
    c = cur.astype(np.float32) / 255.0
    d = ((c - warp(p, back)) ** 2).sum(-1)
    return float(d[mask].mean())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("output")
    ap.add_argument("source")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    out = frames(a.output)
    size = (out[0].shape[1], out[0].shape[0])
    src = frames(a.source, size)
    n = min(len(out), len(src))
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in src[:n]]
    rows = []
    for t in range(1, n):
        back = dis.calc(gray[t], gray[t - 1], None)
        fwd = dis.calc(gray[t - 1], gray[t], None)
        mask = reliable(back, fwd)
        rows.append((t + 1, error(out[t - 1], out[t], back, mask), error(src[t - 1], src[t], back, mask)))
    mean = lambda v: float(np.mean([x for x in v if x is not None])) if any(x is not None for x in v) else None
    res = {
        "frames": n,
        "width": size[0],
        "height": size[1],
        "warp_error": mean([r[1] for r in rows]),
        "source_warp_error": mean([r[2] for r in rows]),
        "per_frame": [{"frame": f, "warp_error": o, "source_warp_error": s} for f, o, s in rows],
    }
    if a.json:
        print(json.dumps(res))
    else:
        print(f"{a.output}: {n} frames at {size[0]}x{size[1]}, OpenCV DIS medium")
        print(f"  warping error, output {res['warp_error']:.4e}")
        print(f"  warping error, source {res['source_warp_error']:.4e}")


if __name__ == "__main__":
    main()
