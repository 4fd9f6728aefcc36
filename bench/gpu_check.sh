#!/usr/bin/env bash
# One-off check on a GPU machine: builds with CUDA, runs the gpu-labelled tests and each bench
# whose source asks for the cuda device, keeping all output under $OUT (default ./gpu_out).
# Exit status is the tests'. Settings: OUT, BUILD_DIR, CUDA_ARCH (90), JOBS, BENCH_ARGS (for
# every bench but the budget grid, which runs at GRID_ARGS: K M budgets repeats).
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-./gpu_out}
build=${BUILD_DIR:-$root/build-gpu-check}
mkdir -p "$out"
out=$(cd "$out" && pwd)

nvidia-smi > "$out/nvidia_smi.txt" 2>&1 || echo "nvidia-smi failed; see $out/nvidia_smi.txt"
cmake -S "$root" -B "$build" -DCA_WITH_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCH:-90}" \
    > "$out/configure.log" 2>&1 || { echo "configure failed: $out/configure.log"; exit 2; }
cmake --build "$build" -j "${JOBS:-$(nproc)}" > "$out/build.log" 2>&1 ||
    { echo "build failed: $out/build.log"; exit 2; }

(cd "$build" && ctest -L gpu --output-on-failure) > "$out/ctest_gpu.log" 2>&1
tests_status=$?
# Parity tests skip only when the device is not visible to the test binary: say so loudly.
# (The no-device factory test skips wherever a device is present; that one is expected.)
skipped=$(grep -F "(Skipped)" "$out/ctest_gpu.log" | grep -cv "NoDeviceIsAConfigError" || true)
if [ "$skipped" -gt 0 ]; then
    echo "warning: $skipped gpu tests were skipped (no device visible?); see $out/ctest_gpu.log"
fi

for source in "$root"/bench/*.cpp; do
    [ -e "$source" ] || continue
    name=$(basename "$source" .cpp)
    grep -q '"cuda"' "$source" || continue
    [ -x "$build/$name" ] || continue
    [ "$name" = bench_budget_grid ] && continue  # below, with its own arguments
    # shellcheck disable=SC2086  # BENCH_ARGS is split into words on purpose
    "$build/$name" ${BENCH_ARGS:-} > "$out/$name.log" 2>&1 ||
        echo "$name exited with status $?; see $out/$name.log"
done

# The budget-grid pass at K=4096 clusters, M=5 arms, 256 budgets: CPU and device seconds.
if [ -x "$build/bench_budget_grid" ]; then
    # shellcheck disable=SC2086  # GRID_ARGS is split into words on purpose
    "$build/bench_budget_grid" ${GRID_ARGS:-4096 5 256 5} > "$out/bench_budget_grid.log" 2>&1 ||
        echo "bench_budget_grid exited with status $?; see $out/bench_budget_grid.log"
    grep -F '"budget_grid"' "$out/bench_budget_grid.log" || true
fi

grep -E "tests passed|tests failed" "$out/ctest_gpu.log" || tail -n 5 "$out/ctest_gpu.log"
echo "output in $out"
exit "$tests_status"
