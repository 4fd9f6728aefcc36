#!/usr/bin/env bash
# Set-up, build, then the test suite through ctest. The long cases (label "long") run only with
# --long; GPU tests (label "gpu") skip themselves where no device is present.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export OPENBLAS_NUM_THREADS=1
label_filter=(-LE long)
[ "${1:-}" = "--long" ] && label_filter=()
cd build
exec ctest --output-on-failure -j "$(nproc 2>/dev/null || echo 2)" "${label_filter[@]}"
