#!/usr/bin/env bash
# Every GPU figure in one short run, on a machine with an NVIDIA GPU and its driver (see the README's
# "GPU build"): builds brushwork with `--features cuda` (release), runs the GPU tests, `bench --device
# cuda` at 256/512/1024 px, a full `gatys` run, the memory plan against nvidia-smi's peak
# (scripts/gpu_memory_check.sh), and the PyTorch baseline on the same GPU if torch is
# importable. Everything goes to one summary file (default gpu-check/summary.txt; the raw outputs beside it).
#
#   bash scripts/gpu-check.sh [OUT_DIR]
#
# Installs nothing it need not: a CUDA toolkit on PATH (or in $CUDA_HOME) is used as it is; else the one of
# scripts/install-cuda.sh if already installed; else that script installs it (from PyPI, with --libs).
# CUDA_COMPUTE_CAP is read from nvidia-smi unless set. Weights: $BRUSHWORK_WEIGHTS, else the installed
# default, else random weights of VGG-16's real shapes (same work and time, meaningless picture; said so).
# About 6-8 minutes on an H200 host with 16 cores, most of it the first release build.
set -uo pipefail
cd "$(dirname "$0")/.."
out=$(mkdir -p "${1:-gpu-check}" && cd "${1:-gpu-check}" && pwd)
summary=$out/summary.txt
: >"$summary"
say() { printf '%s\n' "$*" | tee -a "$summary"; }
fail() { say "FAILED: $*"; }
# `timed NAME LIMIT CMD...`: runs CMD with a time limit, output to OUT/NAME.log; says its wall time.
timed() {
  local name=$1 limit=$2 t0=$SECONDS rc
  shift 2
  timeout "$limit" "$@" >"$out/$name.log" 2>&1
  rc=$?
  say "$name: $((SECONDS - t0)) s (exit $rc)"
  return $rc
}

say "== brushwork GPU check, $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
if ! command -v nvidia-smi >/dev/null || ! nvidia-smi >/dev/null 2>&1; then
  fail "nvidia-smi does not run: no GPU or no driver here"
  exit 1
fi
say "GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader | head -1)"
say "CPU: $(nproc) cores"
if [ -z "${CUDA_COMPUTE_CAP:-}" ]; then
  CUDA_COMPUTE_CAP=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d .)
fi
export CUDA_COMPUTE_CAP

# The toolkit: one already here, else scripts/install-cuda.sh's.
if ! command -v nvcc >/dev/null && [ -x "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc" ]; then
  export PATH=${CUDA_HOME:-/usr/local/cuda}/bin:$PATH
fi
# cudarc 0.19 (under candle 0.11.1) builds against CUDA 11.4 to 13.4 only.
usable() {
  local v
  v=$(nvcc --version 2>/dev/null | grep -o 'release [0-9.]*' | cut -d' ' -f2)
  [ -n "$v" ] && [ "$(printf '11.4\n%s\n13.4\n' "$v" | sort -V | sed -n 2p)" = "$v" ]
}
if command -v nvcc >/dev/null && usable; then
  export CUDA_HOME=${CUDA_HOME:-$(dirname "$(dirname "$(command -v nvcc)")")}
  say "toolkit: $(command -v nvcc) (already here)"
else
  command -v nvcc >/dev/null && say "toolkit: $(command -v nvcc) is outside CUDA 11.4-13.4: using CUDA 13.4 from PyPI"
  t0=$SECONDS
  bash scripts/install-cuda.sh --libs >"$out/install-cuda.log" 2>&1 || { fail "scripts/install-cuda.sh --libs (see install-cuda.log)"; exit 1; }
  # shellcheck disable=SC1091
  . "$(bash scripts/install-cuda.sh --print-prefix)/env.sh"
  say "toolkit: PyPI CUDA 13.4 from scripts/install-cuda.sh ($((SECONDS - t0)) s)"
fi
toolkit_version=$(nvcc --version | grep -o 'release [0-9.]*' | cut -d' ' -f2)
driver_cuda=$(nvidia-smi | grep -o 'CUDA Version: [0-9.]*' | cut -d' ' -f3)
say "nvcc: release $toolkit_version; the driver runs CUDA up to ${driver_cuda:-?}; CUDA_COMPUTE_CAP=$CUDA_COMPUTE_CAP"
# candle loads its kernels as PTX, which the driver compiles: it must know the toolkit's PTX.
if [ -n "$driver_cuda" ] && [ "$(printf '%s\n%s\n' "$toolkit_version" "$driver_cuda" | sort -V | tail -1)" != "$driver_cuda" ]; then
  say "WARNING: toolkit $toolkit_version is newer than the driver's CUDA $driver_cuda: kernels may fail to load"
fi
export CUDAFORGE_THREADS=${CUDAFORGE_THREADS:-$(nproc)}

# FFmpeg's development libraries are needed for the default feature `ffmpeg` (video) only.
features=(--features cuda)
if ! pkg-config --exists libavformat libavcodec libswscale 2>/dev/null; then
  features=(--no-default-features --features cuda)
  say "no FFmpeg development libraries: building without video (--no-default-features)"
fi

# One cargo invocation builds the binary, the library and the test binary, all release.
if ! timed build 1200 cargo test --release "${features[@]}" --test it --no-run; then
  fail "release build with cuda (tail of build.log below)"
  tail -30 "$out/build.log" | tee -a "$summary"
  exit 1
fi
bin=target/release/brushwork

timed gpu-tests 300 cargo test --release "${features[@]}" --test it gpu:: -- --nocapture --test-threads=1 || fail "GPU tests"
grep -E 'relative gradient error|resumed at|skipped|test result|panicked' "$out/gpu-tests.log" | tee -a "$summary"

for size in 256 512 1024; do
  iters=$([ "$size" -le 512 ] && echo 20 || echo 10)
  extra=()
  [ "$size" = 512 ] && extra=(--compare)
  if timed "bench-$size" 300 "$bin" bench --device cuda --size "$size" --iterations "$iters" "${extra[@]}" --json; then
    python3 - "$out/bench-$size.log" <<'PY' | tee -a "$summary"
import json, sys
b = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")][-1]
gpu = b.get("peak_gpu_bytes")
print(f"  bench {b['arch']} {b['size']}px: {b['median_ms']:.2f} ms/iteration (min {b['min_ms']:.2f}), "
      f"{b['gflops']:.0f} GFLOP/s = {100 * b['ratio_to_peak']:.0f}% of the measured f32 matmul peak "
      f"{b['matmul_peak_gflops']:.0f} GFLOP/s; peak GPU memory "
      + (f"{gpu / 2**20:.0f} MiB" if gpu is not None else "n/a")
      + f"; 500 iterations ≈ {b['median_ms'] / 2:.1f} s")
for v in b["variants"][1:]:
    print(f"    {v['name']}: {v['median_ms']:.2f} ms ({v['median_ms'] / b['median_ms']:.2f}x)")
PY
  else
    fail "bench --size $size"
    tail -5 "$out/bench-$size.log" | tee -a "$summary"
  fi
done

# A full gatys run (3 scales: 128, 256, 512 px; 3 x 150 L-BFGS iterations), timed.
weights=()
if [ -n "${BRUSHWORK_WEIGHTS:-}" ]; then
  say "gatys weights: \$BRUSHWORK_WEIGHTS"
elif "$bin" weights list --json 2>/dev/null | grep -q '"vgg16"\|"vgg19"'; then
  say "gatys weights: the installed default"
else
  python3 - "$out/random-vgg16.safetensors" <<'PY'
# Random VGG-16 weights of the real shapes in the contract's format (He-uniform, as weights::random).
import json, math, random, struct, sys
from array import array
widths = [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 256),
          (256, 512), (512, 512), (512, 512), (512, 512), (512, 512), (512, 512)]
index = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]  # torchvision's features.{i}
rng, header, blobs, off = random.Random(3), {"__metadata__": {"arch": "vgg16", "preprocess": "caffe", "source": "random"}}, [], 0
for i, (cin, cout) in zip(index, widths):
    b = math.sqrt(6 / (cin * 9))
    for name, shape, bound in ((f"features.{i}.weight", [cout, cin, 3, 3], b), (f"features.{i}.bias", [cout], 0.05)):
        n = math.prod(shape)
        data = array("f", (rng.uniform(-bound, bound) for _ in range(n))).tobytes()
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [off, off + len(data)]}
        blobs.append(data); off += len(data)
h = json.dumps(header).encode(); h += b" " * (-len(h) % 8)
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<Q", len(h))); f.write(h)
    for d in blobs: f.write(d)
PY
  weights=(--weights "$out/random-vgg16.safetensors")
  say "gatys weights: none installed and no network assumed: RANDOM VGG-16 weights (timing only; the picture means nothing)"
fi
ws=$(mktemp -d)
if BRUSHWORK_WORKSPACE=$ws timed gatys 600 "$bin" run media/content/tubingen_neckarfront.jpg \
  --style media/style/van_gogh_the_starry_night.jpg --preset gatys --device cuda "${weights[@]}" \
  --json -o "$out/tubingen_starry_gatys_cuda.png"; then
  python3 - "$out/gatys.log" <<'PY' | tee -a "$summary"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
done = [e for e in ev if e.get("event") == "done"]
if done:
    d = done[-1]
    print(f"  gatys: {d.get('iterations')} iterations in {d.get('seconds')} s (the run's own clock), final loss {d.get('loss')}")
else:
    print("  gatys: no done event")
PY
else
  fail "gatys run"
  tail -5 "$out/gatys.log" | tee -a "$summary"
fi
rm -rf "$ws"

# The memory plan's GPU prediction against nvidia-smi's peak, whole and planned into 4 GB.
say "memory plan on CUDA (scripts/gpu_memory_check.sh):"
BRUSHWORK=$bin timeout 600 bash scripts/gpu_memory_check.sh 2>&1 | tee -a "$summary" || fail "gpu_memory_check.sh"

if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  for size in 256 512 1024; do
    iters=$([ "$size" -le 512 ] && echo 20 || echo 10)
    if timed "pytorch-$size" 300 python3 scripts/pytorch_baseline.py --device cuda --size "$size" --iterations "$iters" --json; then
      python3 - "$out/pytorch-$size.log" <<'PY' | tee -a "$summary"
import json, sys
p = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")][-1]
gpu = p.get("peak_gpu_bytes")
print(f"  pytorch {p['torch']} {p['arch']} {p['size']}px: {p['median_ms']:.2f} ms/iteration, peak GPU memory "
      + (f"{gpu / 2**20:.0f} MiB" if gpu is not None else "n/a") + f", cudnn_tf32={p.get('cudnn_tf32')}")
PY
    else
      fail "pytorch_baseline.py --size $size"
    fi
  done
else
  say "PyTorch with CUDA not importable: no PyTorch baseline"
fi
say "== total $SECONDS s; raw outputs in $out"
