#!/usr/bin/env bash
# Regenerate every committed figure: run the fig* specs into ./results (raw results, not committed), then draw.
# Usage (from the repository root, venv active, a9a fetched):  THEORYCHECK_DATA=../shared/data bash figures/regenerate.sh
# Runs two `theorycheck run` processes side by side (one thread each: 2 cores), then `theorycheck figures`.
# Finished configurations are reused (fingerprinted), so an interrupted run resumes.
set -euo pipefail
cd "$(dirname "$0")/.."
RESULTS=${RESULTS:-results}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
BIG="fig_dev_a9a"  # 2 x 1000 seeds x 1000 iterations on a9a: about half of the work
REST="fig14_a9a_am1 fig15_a9a_am1_m fig15_compact_am1_m fig_dev_compact fig_thm2_a9a fig_thm2_a9a_m
      fig_tight_ls_am1 fig_tight_ls_am2 fig_options_a9a_am1 fig_options_a9a_am2 fig_options_a9a_am1_eta2
      fig_options_a9a_am2_eta2"
start=$(date +%s)
theorycheck run $BIG --out "$RESULTS" --no-progress &
pid=$!
theorycheck run $REST --out "$RESULTS" --no-progress
wait $pid
echo "results: $(( $(date +%s) - start )) s" >&2
theorycheck figures --results "$RESULTS" --out figures
