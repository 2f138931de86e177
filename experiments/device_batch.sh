#!/usr/bin/env bash
# Run experiment tables on one GPU machine inside a time limit, packing every finished run's
# results.json (and every run's progress.json: how far an unfinished run got, at what rate)
# into $OUT/runs.tgz (one file: the device returns at most 8) as it goes; at the end it
# prints, for every run the limit stopped, its step, rate and loss.
#
#   bash experiments/device_batch.sh SECONDS TABLE[:TASK,TASK]:JOBS[:OPTIONS] ...
#   e.g. bash experiments/device_batch.sh 480 table3:parity:8 init::6 table3:mod_arith:6:--skip-mamba
# ST_TABLE_ARGS adds options to every table (e.g. "--protocol smoke" for a CPU try); ST_RUNS
# moves the runs' folder (default experiments/results/runs of this checkout).
#
# The tables run at the same time (each with its JOBS processes); a table still running at
# SECONDS is stopped (its finished runs are kept, unfinished ones are lost: the machine is
# bare at the next call). Runs live in experiments/results/runs (git-ignored): name it in the
# device call's `carry` and the runs finished at earlier calls are skipped. Aggregate and plot
# afterwards, here, with
#   tar xzf runs.tgz -C experiments/results/runs
#   python -m experiments.tables --table NAME
# (every run is found finished, so nothing is trained again). Where the MPS daemon exists it
# is started, so the runs' small kernels share the GPU instead of taking turns.
set -u
limit=$1; shift
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
runs=${ST_RUNS:-$PWD/experiments/results/runs}
mkdir -p "$runs" "$OUT"
pack() { (cd "$runs" && find . -name results.json -o -name progress.json -o -name profile.json -o -name '*.log' | tar czf "$OUT/runs.tgz.tmp" -T - \
          && mv "$OUT/runs.tgz.tmp" "$OUT/runs.tgz") 2>/dev/null; }
set -m        # the packer in its own process group, so stopping it stops its sleep too
( while sleep 20; do pack; done ) >/dev/null 2>&1 & packer=$!
set +m
if command -v nvidia-cuda-mps-control >/dev/null && nvidia-cuda-mps-control -d 2>/dev/null; then
  echo "MPS daemon started"; mps=1; else echo "no MPS daemon"; mps=0; fi
pids=()
for spec in "$@"; do
  IFS=: read -r table tasks jobs opts <<<"$spec"
  args=(--table "$table" --jobs "${jobs:-4}" --out "$runs/$table-reduced" --no-plots
        --results "$runs/tables-$table")
  [ -n "$tasks" ] && args+=(--tasks "$tasks")
  # shellcheck disable=SC2206
  args+=(${ST_TABLE_ARGS:-} ${opts:-})
  # timeout signals the table's whole process group: its training runs stop with it
  timeout "$limit" python3 -m experiments.tables "${args[@]}" >"$runs/$table-${tasks:-all}.log" 2>&1 &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
kill -- "-$packer" 2>/dev/null; pack
[ "$mps" = 1 ] && echo quit | nvidia-cuda-mps-control
(cd "$runs" && find . -name results.json | wc -l | xargs echo "finished runs:"; tail -n 12 ./*.log)
# runs the limit stopped: how far each got, and at what rate (from its progress.json)
echo
python3 - "$runs" <<'PY'
import json, sys
from pathlib import Path
for p in sorted(Path(sys.argv[1]).glob("**/progress.json")):
    if not (p.parent / "results.json").exists():
        d = json.loads(p.read_text())
        print(f"unfinished: {p.parent.name}: step {d['step']} of {d['steps']}, "
              f"{d['steps_per_second']:.2f} steps/s, loss {d['loss']:.4f}")
PY
