#!/usr/bin/env bash
# A tiled run's resume stays inside its memory budget: a SIZE px `gatys` run planned into BUDGET
# (tiles, a shorter L-BFGS history) checkpointing every iteration is killed with SIGKILL after
# iteration 2, then `sessions resume` finishes it. Prints the budget, the plan's prediction and the
# peak RSS of the first run and of the resume (GNU time: an instrument brushwork does not control),
# and whether the resumed loss curve equals an uninterrupted run's (RUN_REFERENCE=1, twice the time).
#
#   scripts/resume_memory_check.sh [SIZE] [BUDGET]      (default 2048 2G)
#
# Env: BRUSHWORK (default target/release/brushwork), ITERATIONS (4).
set -euo pipefail
cd "$(dirname "$0")/.."
BW=$(realpath "${BRUSHWORK:-target/release/brushwork}")
SIZE=${1:-2048}
BUDGET=${2:-2G}
ITERATIONS=${ITERATIONS:-4}
OUT=$(mktemp -d)
export BRUSHWORK_WORKSPACE=$OUT/ws
# Top-level keys go before the preset's first table.
sed -e "s/^size = .*/size = $SIZE/" -e 's/^scales = .*/scales = 1/' -e "s/^iterations = .*/iterations = $ITERATIONS/" \
  -e "s/^version = 1$/version = 1\ncheckpoint_every = 1\ncheckpoint_seconds = 0.0\nmax_memory = \"$BUDGET\"/" \
  presets/gatys.toml >"$OUT/resume.toml"
args=(run media/content/tubingen_neckarfront.jpg --style media/style/van_gogh_the_starry_night.jpg
  --preset "$OUT/resume.toml")
predicted=$("$BW" "${args[@]}" --plan --json | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["bytes"])')
/usr/bin/time -f "%M" -o "$OUT/first.rss" "$BW" "${args[@]}" --json -o "$OUT/out.png" >"$OUT/first.json" 2>"$OUT/first.log" &
timer=$!
# Kill the brushwork process (GNU time's child) once iteration 2 is logged.
until grep -q '"iteration":2,' "$OUT/first.json" 2>/dev/null; do
  kill -0 "$timer" 2>/dev/null || { echo "the first run ended early: $(tail -2 "$OUT/first.log")" >&2; exit 1; }
  sleep 1
done
pkill -KILL -P "$timer" || true
wait "$timer" 2>/dev/null || true
id=$(ls "$BRUSHWORK_WORKSPACE/sessions")
/usr/bin/time -f "%M" -o "$OUT/resume.rss" "$BW" sessions resume "$id" --json >"$OUT/resume.json" 2>"$OUT/resume.log"
python3 - "$BUDGET" "$predicted" "$OUT" <<'PY'
import json, sys
budget, predicted, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
rss = lambda n: int(open(f"{out}/{n}.rss").read().split()[-1]) * 1024
events = [json.loads(l) for l in open(f"{out}/resume.json") if l.startswith("{")]
first = next(e["iteration"] for e in events if e.get("event") == "progress")
done = events[-1]
print(f"budget {budget}; predicted {predicted / 2**30:.2f} GiB; first run (killed after iteration 2) peak RSS "
      f"{rss('first') / 2**30:.2f} GiB; resume (from iteration {first}) peak RSS {rss('resume') / 2**30:.2f} GiB; "
      f"resumed run: {done.get('event')}, final loss {done.get('loss')}")
PY
echo "losses.csv: $(tail -n +2 "$BRUSHWORK_WORKSPACE/sessions/$id/losses.csv" | cut -d, -f1,3 | tr '\n' ' ')"
if [ "${RUN_REFERENCE:-0}" = 1 ]; then
  BRUSHWORK_WORKSPACE=$OUT/ref "$BW" "${args[@]}" --json -o "$OUT/ref.png" >/dev/null 2>&1
  ref=$(ls "$OUT/ref/sessions")
  if cmp -s <(cut -d, -f1,3 "$OUT/ref/sessions/$ref/losses.csv") <(cut -d, -f1,3 "$BRUSHWORK_WORKSPACE/sessions/$id/losses.csv"); then
    echo "the resumed loss curve equals the uninterrupted run's"
  else
    echo "DIFFERENT loss curves: resumed vs uninterrupted"
  fi
fi
rm -rf "$OUT"
