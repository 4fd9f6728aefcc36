#!/usr/bin/env bash
# Set-up, build, then the main job end to end on the embedded synthetic RCT (no file needed).
# Extra arguments go to `clusteralloc run` (e.g. --seeds 1, --out DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
exec build/clusteralloc run --config configs/synthetic.json "$@"
