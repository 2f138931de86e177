#!/usr/bin/env bash
# Per-instruction stall sampling (Nsight Compute's source page) of the latency-bound kernels
# of issue 12: where in the SASS the warps wait. Run on the GPU machine:
#   bash benchmarks/probes/source_stalls.sh $OUT
# Writes, per kernel, the report (.ncu-rep) and the source page as CSV (SASS with the
# sampled stall reasons per instruction); benchmarks/probes/source_stalls.py summarises them.
set -u
out=${1:?usage: source_stalls.sh OUTDIR}
mkdir -p "$out"
prof() {   # name workload kernel-regex
  local name=$1 wl=$2 kern=$3
  ncu --clock-control none --section SourceCounters --section WarpStateStats \
      --section LaunchStats --section Occupancy --section SpeedOfLight \
      -k "regex:$kern" --launch-skip 1 -c 1 --target-processes all -f -o "$out/$name" \
      python3 benchmarks/roofline.py --workload "$wl" --repeats 1 > "$out/$name.log" 2>&1
  echo "$name: ncu exit $?"
  ncu --import "$out/$name.ncu-rep" --page source --csv --print-source sass \
      > "$out/$name.source.csv" 2> "$out/$name.source.err"
  echo "$name: source page exit $? ($(wc -l < "$out/$name.source.csv") lines)"
  ncu --import "$out/$name.ncu-rep" --page details --csv > "$out/$name.details.csv" 2>&1
}
# the construction row's run pass: proj_kernel since session 23 (with its rows ahead since
# session 30; session 17 profiled cols_kernel, which these tables no longer run)
prof tabled_proj tabled_o_1024x4096 proj_kernel
prof bwd_wy_1u model_1u_fwd_bwd bwd_wy_kernel
prof wy_fwd_1u model_1u_fwd_bwd wy_fwd_kernel
