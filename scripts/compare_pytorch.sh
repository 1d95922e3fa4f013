#!/usr/bin/env bash
# Side-by-side time per Gatys iteration: `brushwork bench` vs the PyTorch CPU baseline.
# Usage: scripts/compare_pytorch.sh [SIZES...]   (default: 256 512)
# Env: TORCH_PYTHON (default /tmp/torchvenv/bin/python), BRUSHWORK (default target/release/brushwork),
# ROUNDS (default 2), BEFORE (another brushwork binary, e.g. an earlier build: timed in the same
# rounds, its own column).
# Per size, runs alternate A B A B ... (vgg19, 2 threads; N=5 at <=256 px, else 3; ROUNDS rounds) and
# the table keeps each side's lowest median of its runs: on a shared machine a run that another
# tenant slowed down is slower, never faster. Needs only python3 (no jq).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${TORCH_PYTHON:-/tmp/torchvenv/bin/python}
BW=${BRUSHWORK:-target/release/brushwork}
[ -x "$BW" ] || { echo "missing $BW (cargo build --release)" >&2; exit 1; }
[ -x "$PY" ] || { echo "missing $PY (set TORCH_PYTHON)" >&2; exit 1; }
[ $# -gt 0 ] || set -- 256 512

# Last JSON line of stdin -> its median_ms (empty if none parses).
median() { python3 -c 'import json,sys
for l in reversed(sys.stdin.read().splitlines()):
    try: print(json.loads(l)["median_ms"]); break
    except Exception: pass'; }
# Runs one side and prints its median (or nothing on failure, with the error on stderr).
run() { local out; out=$("$@" 2>&1) || { echo "FAILED: $* -> $(tail -n 3 <<<"$out")" >&2; return 0; }
        median <<<"$out"; }

rows=()
for s in "$@"; do
  n=$([ "$s" -le 256 ] && echo 5 || echo 3)
  common=(--arch vgg19 --size "$s" --iterations "$n" --threads 2 --json)
  bw=(); pt=(); bf=()
  for rep in $(seq "${ROUNDS:-2}"); do  # A B A B ...
    if [ -n "${BEFORE:-}" ]; then
      echo "size $s, round $rep: before ..." >&2; bf+=("$(run "$BEFORE" bench "${common[@]}")")
    fi
    echo "size $s, round $rep: brushwork ..." >&2; bw+=("$(run "$BW" bench "${common[@]}")")
    echo "size $s, round $rep: pytorch ..." >&2;   pt+=("$(run "$PY" scripts/pytorch_baseline.py "${common[@]}")")
    echo "  brushwork ${bw[-1]:-?} ms, pytorch ${pt[-1]:-?} ms" >&2
  done
  rows+=("$s ${bw[*]:-} | ${pt[*]:-} | ${bf[*]:-}")
done

# Table: lowest median per side, ratio = brushwork / pytorch.
python3 - "${rows[@]}" <<'EOF'
import sys
rows = []
for row in sys.argv[1:]:
    size, rest = row.split(None, 1)
    rows.append((size, *(min(map(float, side.split()), default=None) for side in rest.split("|"))))
before = any(r[3] for r in rows)
f = lambda v: "n/a" if v is None else f"{v:.1f}"
ratio = lambda a, b: f"{a / b:.2f}" if a and b else "n/a"
print(f"{'size':>6} {'brushwork ms':>13} {'pytorch ms':>11} {'ratio':>6}" + (f" {'before ms':>10} {'before/pt':>9}" if before else ""))
for size, b, p, bf in rows:
    extra = f" {f(bf):>10} {ratio(bf, p):>9}" if before else ""
    print(f"{size:>6} {f(b):>13} {f(p):>11} {ratio(b, p):>6}" + extra)
EOF
