#!/usr/bin/env python3
"""PyTorch baseline for one Gatys iteration, the same work as `brushwork bench` (CPU or CUDA).

VGG-16/19 with random weights of the real shapes, 2x2 average pooling, truncated after conv5_1;
content loss at conv4_2, style losses at conv1_1 .. conv5_1; gradient to the image only.
Usage: pytorch_baseline.py --arch vgg19 --size 256 --iterations 5 --threads 2 [--device cuda] [--json]
On CUDA each timed iteration ends in `loss.item()`, which waits for the GPU (as brushwork's does), and
the peak memory is torch's allocator high-water mark; PyTorch's defaults stand (cuDNN convolutions, which
may use TF32: reported as `cudnn_tf32`).
"""
import argparse
import json
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

BLOCKS = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
WIDTHS = (64, 128, 256, 512, 512)
CONTENT = "conv4_2"
STYLE = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
MEAN = torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)  # caffe BGR means, as brushwork


class Vgg(nn.Module):
    """The conv stack up to conv5_1; forward returns the ReLU'd activations named in `keep`."""

    def __init__(self, arch):
        super().__init__()
        self.names, self.convs, c_in = [], nn.ModuleList(), 3
        for b, (n, width) in enumerate(zip(BLOCKS[arch], WIDTHS), 1):
            for l in range(1, n + 1):
                self.names.append(f"conv{b}_{l}")
                self.convs.append(nn.Conv2d(c_in, width, 3, padding=1))  # default (random) init
                c_in = width
                if (b, l) == (5, 1):
                    return  # truncated after conv5_1

    def forward(self, x, keep):
        out, block = {}, 1
        for name, conv in zip(self.names, self.convs):
            b = int(name[4])
            if b != block:  # new block: 2x2 average pooling first
                x, block = F.avg_pool2d(x, 2), b
            x = F.relu(conv(x))
            if name in keep:
                out[name] = x
        return out


def preprocess(rgb01):
    """RGB in [0,1] -> caffe input (BGR, 0..255, mean-subtracted), like brushwork's default map."""
    return rgb01.flip(1) * 255.0 - MEAN


def gram(a):
    """G = F·Fᵀ / (H·W) of a [1,C,H,W] activation."""
    _, c, h, w = a.shape
    f = a.reshape(c, h * w)
    return f @ f.t() / (h * w)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", choices=sorted(BLOCKS), default="vgg19")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--iterations", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)

    dev = torch.device(a.device)
    global MEAN
    MEAN = MEAN.to(dev)
    net = Vgg(a.arch).eval().to(dev)
    for prm in net.parameters():  # frozen network
        prm.requires_grad_(False)
    keep = set(STYLE) | {CONTENT}
    img = lambda: torch.rand(1, 3, a.size, a.size).to(dev)

    with torch.no_grad():  # targets computed once, outside the timed loop (as brushwork does)
        content_t = net(preprocess(img()), keep)[CONTENT]
        style_t = {k: gram(v) for k, v in net(preprocess(img()), keep).items() if k in STYLE}
    x = img().requires_grad_(True)

    def iteration():
        x.grad = None
        acts = net(preprocess(x), keep)
        c = acts[CONTENT]
        loss = (c - content_t).pow(2).sum() / (4 * c.numel())  # content: Σ(a_G−a_C)²/(4·C·H·W)
        for k in STYLE:  # style: Σ(G−A)²/(4·C²), equal layer weights
            ch = acts[k].shape[1]
            loss = loss + 0.2 * (gram(acts[k]) - style_t[k]).pow(2).sum() / (4 * ch * ch)
        loss.backward()
        return loss.item(), x.grad

    iteration()  # warm-up
    times = []
    for _ in range(a.iterations):
        t0 = time.perf_counter()
        iteration()
        times.append(time.perf_counter() - t0)
    median_ms = statistics.median(times) * 1e3
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
    gpu = torch.cuda.max_memory_allocated(dev) if dev.type == "cuda" else None
    if a.json:
        print(json.dumps({"impl": "pytorch", "torch": torch.__version__, "arch": a.arch, "size": a.size,
                          "threads": a.threads, "device": a.device, "median_ms": round(median_ms, 2),
                          "min_ms": round(min(times) * 1e3, 2), "iterations": a.iterations, "peak_rss_bytes": rss,
                          "peak_gpu_bytes": gpu,
                          "cudnn_tf32": torch.backends.cudnn.allow_tf32 if dev.type == "cuda" else None}))
    else:
        where = f"{a.threads} thread(s)" if dev.type == "cpu" else f"on {a.device}"
        mem = f", peak GPU memory {gpu / 2**20:.0f} MiB" if gpu is not None else ""
        print(f"pytorch {torch.__version__} {a.arch} {a.size}x{a.size}, {where}: "
              f"median {median_ms:.1f} ms/iteration over {a.iterations}, peak RSS {rss / 2**20:.0f} MiB{mem}")


if __name__ == "__main__":
    sys.exit(main())
