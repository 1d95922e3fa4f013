#!/usr/bin/env bash
# Installs the CUDA 13.4 toolkit pieces brushwork's `--features cuda` build needs, from NVIDIA's PyPI
# wheels, into one prefix (no root, no GPU, no driver needed), and writes an env file to source.
#
#   bash scripts/install-cuda.sh            # compiler + headers: enough for `cargo check/clippy --features cuda`
#   bash scripts/install-cuda.sh --libs     # also cuBLAS, cuRAND, NVRTC and a libcuda link stub: `cargo build`
#   . "$(bash scripts/install-cuda.sh --print-prefix)/env.sh"
#
# Prefix: $BRUSHWORK_CUDA_PREFIX, else ~/.cache/brushwork/cuda-13.4. Idempotent: a second run with the same
# package list installs nothing. The compute capability cannot be queried without a GPU, so env.sh sets
# CUDA_COMPUTE_CAP (default 90: H100/H200; override by exporting CUDA_COMPUTE_CAP before sourcing).
#
# Versions: CUDA 13.4 because cudarc 0.19 (candle 0.11.1) knows 13.0-13.4 and reads the version from
# `nvcc --version`; the cuBLAS/cuRAND/CCCL versions are the ones released with 13.4.92.
#
# The lint wrapper bin/nvcc-lint (used by CI through NVCC=...) compiles candle's run-time kernels (PTX) with
# the same nvcc on the same sources, optimising device code lightly (-Xcicc -O1; -O0 trips an intrinsic in
# quantized.cu), and leaves the objects of candle's static MoE library empty (only a linked binary uses
# them; clippy links nothing): candle-kernels' build script then takes about a minute instead of about 25
# CPU-minutes. Its output is for type-checking only; a build meant to run on a GPU uses the real nvcc.
set -euo pipefail

prefix=${BRUSHWORK_CUDA_PREFIX:-$HOME/.cache/brushwork/cuda-13.4}
libs=0
for a in "$@"; do
  case $a in
    --libs) libs=1 ;;
    --print-prefix) echo "$prefix"; exit 0 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "install-cuda.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done

pkgs=(nvidia-cuda-nvcc==13.4.92 nvidia-cuda-crt==13.4.92 nvidia-nvvm==13.4.92
  nvidia-cuda-runtime==13.4.92 nvidia-cuda-cccl==13.3.4.3.1)
[ $libs -eq 1 ] && pkgs+=(nvidia-cuda-nvrtc==13.4.92 nvidia-cublas==13.8.0.4 nvidia-curand==10.4.4.72)

root=$prefix/nvidia/cu13
stamp=$prefix/.installed
have=$(cat "$stamp" 2>/dev/null || true)
# Done when the stamp lists these packages (a --libs install also serves a plain one).
if [ -x "$root/bin/nvcc" ] && [ "${have#"${pkgs[*]}"}" != "$have" ]; then
  echo "CUDA toolkit already installed in $prefix"
else
  t0=$SECONDS
  python3 -m pip --version >/dev/null 2>&1 || { echo "install-cuda.sh: python3 -m pip is needed" >&2; exit 1; }
  mkdir -p "$prefix"
  # --target: a private prefix (PEP 668 does not apply); --no-deps: the list above is complete. All the
  # wheels share the top-level nvidia/ folder, which --upgrade replaces: always install the whole list.
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-cache-dir --no-deps --upgrade \
    --target "$prefix" "${pkgs[@]}"
  echo "${pkgs[*]}" >"$stamp"
  echo "installed ${pkgs[*]} into $prefix ($((SECONDS - t0))s)"
fi

# Unversioned names for the linker (the wheels ship only libfoo.so.13 and the like).
for so in "$root"/lib/lib*.so.*; do
  [ -e "$so" ] || continue
  base=${so##*/}; base=${base%%.so.*}.so
  [ -e "$root/lib/$base" ] || ln -s "${so##*/}" "$root/lib/$base"
done

# libcuda comes with the driver, which a build machine need not have. For linking only, a stub with every
# cu* entry point cuda.h names (soname libcuda.so.1, so the driver's library is used at run time). The
# folder always exists: cudarc's build script adds it to the link search only if it does when it runs.
mkdir -p "$root/lib/stubs"
if [ $libs -eq 1 ] && [ ! -e "$root/lib/stubs/libcuda.so" ]; then
  grep -ohE '\bcu[A-Z][A-Za-z0-9_]*\b' "$root"/include/cuda.h | sort -u |
    sed 's/.*/int &(void) { return 999; }/' >"$root/lib/stubs/libcuda_stub.c"
  cc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$root/lib/stubs/libcuda.so" "$root/lib/stubs/libcuda_stub.c"
fi
# The same stub under its run-time name, in a folder of its own, for running a cuda build where no driver
# is installed (its GPU tests then print "no CUDA device: skipped"): put it on LD_LIBRARY_PATH only
# there, never on a GPU machine, where it would hide the driver's library.
if [ -e "$root/lib/stubs/libcuda.so" ]; then
  mkdir -p "$root/lib/no-driver"
  ln -sf ../stubs/libcuda.so "$root/lib/no-driver/libcuda.so.1"
fi

cat >"$root/bin/nvcc-lint" <<'EOF'
#!/usr/bin/env bash
# nvcc for lint builds only (see scripts/install-cuda.sh). candle-kernels' build script makes two things:
# - PTX (--ptx) of the kernels candle loads at run time (brushwork's convolutions, reductions, casts...):
#   compiled by the real nvcc, device code lightly optimised (-Xcicc -O1);
# - objects (-c) for libmoe.a, candle's quantised mixture-of-experts kernels (GGUF matmuls), which only
#   a linked binary contains and brushwork never calls. clippy and check link nothing, so these are
#   empty objects here: they were 8 of the 11 minutes of a lint build on 2 cores.
# Anything else (--version, --lib) goes to the real nvcc as is.
real=$(dirname "$0")/nvcc
case " $* " in *".cu "*) ;; *) exec "$real" "$@" ;; esac
case " $* " in
  *" -c "*)
    out=; prev=
    for a in "$@"; do [ "$prev" = "-o" ] && out=$a; prev=$a; done
    exec cc -c -x c /dev/null -o "$out" ;;
esac
args=()
for a in "$@"; do args+=("${a//code=sm_/code=compute_}"); done
exec "$real" "${args[@]}" -Xcicc -O1
EOF
chmod +x "$root/bin/nvcc-lint"

cat >"$prefix/env.sh" <<EOF
# Source me: the CUDA 13.4 toolkit from PyPI (scripts/install-cuda.sh).
export CUDA_HOME=$root CUDA_PATH=$root CUDA_ROOT=$root CUDA_TOOLKIT_ROOT_DIR=$root
export PATH=$root/bin:\$PATH
export CUDA_COMPUTE_CAP=\${CUDA_COMPUTE_CAP:-90}
# candle-kernels' build script (cudaforge) uses half the cores by default.
export CUDAFORGE_THREADS=\${CUDAFORGE_THREADS:-\$(nproc)}
EOF
if grep -q nvidia-cublas "$stamp"; then
  # Run time: the wheels' libraries (libcuda itself comes from the driver, never from the stub).
  echo "export LD_LIBRARY_PATH=$root/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" >>"$prefix/env.sh"
fi
echo "# . $prefix/env.sh"
grep '^export' "$prefix/env.sh"
