#!/usr/bin/env bash
# Runs the CPU benchmarks side by side with their anchors (PyTorch, faiss, sgemm, a STREAM-like
# read) and the end-to-end runs, then writes results/benchmarks.md: the command, the machine and
# every figure with its anchor and ratio. Each round runs every pair back to back, so a ratio
# compares figures taken under the same load; the report gives medians over rounds.
#
# Settings (environment): BUILD_DIR (default build-bench), ROUNDS (3), THREADS (nproc),
# QUIET_LOAD (2.5) and QUIET_WAIT (seconds to wait for the 1-minute load to fall below it; 900),
# E2E_ROWS ("100000 1000000": synthetic users per `clusteralloc run`; empty skips them),
# E2E_HDF5_ROWS (empty: rows of a generated HDF5 file to run from, e.g. 10000000), SMALL=1
# (tiny sizes: a smoke test of this script, figures meaningless), WORK (scratch folder),
# REPORT (default results/benchmarks.md).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build-bench}
rounds=${ROUNDS:-3}
threads=${THREADS:-$(nproc)}
quiet_load=${QUIET_LOAD:-2.5}
quiet_wait=${QUIET_WAIT:-900}
e2e_rows=${E2E_ROWS-100000 1000000}
e2e_hdf5_rows=${E2E_HDF5_ROWS:-}
work=${WORK:-$(mktemp -d /tmp/ca-bench.XXXXXX)}
report=${REPORT:-$root/results/benchmarks.md}
python=/usr/bin/python3  # Debian's interpreter, the one that sees python3-torch and -faiss
mkdir -p "$work" "$(dirname "$report")"
results=$work/results.jsonl
: > "$results"

# Sizes: the published shapes, or tiny ones for SMALL=1.
if [ "${SMALL:-0}" = 1 ]; then
    train_rows=16384 train_epochs=1 hidden_rows=65536 km_n=20000 km_d=32 km_k=16
    solver_n=1000000 storage_rows=100000 storage_chunk=30000
else
    train_rows=262144 train_epochs=3 hidden_rows=1000000 km_n=1000000 km_d=128 km_k=256
    solver_n=10000000 storage_rows=10000000 storage_chunk=1000000
fi

# OpenBLAS single-threaded everywhere: the C++ backend splits products over OpenMP itself, and
# PyTorch with its own two threads on top of two OpenBLAS threads runs about 2x slower here.
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=$threads

load_now() { cut -d' ' -f1 /proc/loadavg; }

wait_for_quiet() {
    local waited=0
    while awk -v l="$(load_now)" -v q="$quiet_load" 'BEGIN { exit !(l >= q) }'; do
        if [ "$waited" -ge "$quiet_wait" ]; then
            echo "run_benchmarks: load $(load_now) still >= $quiet_load after ${waited}s; going on"
            return
        fi
        sleep 30
        waited=$((waited + 30))
    done
}

# Appends a command's JSON lines to the results, tagged with the round.
record() {
    local round=$1
    shift
    "$@" | sed "s/^{/{\"round\": $round, /" >> "$results"
}

echo "run_benchmarks: building in $build"
cmake --build "$build" -j "$threads" --target clusteralloc bench_training bench_hidden \
    bench_kmeans bench_solver bench_storage > "$work/build.log" 2>&1 ||
    { tail -30 "$work/build.log"; exit 1; }

wait_for_quiet
load_start=$(load_now)
start_time=$(date -u +%Y-%m-%dT%H:%M:%SZ)
revision=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$root" diff --quiet HEAD 2>/dev/null || revision+=" (with uncommitted changes in the tree)"
for round in $(seq 1 "$rounds"); do
    # Other work on the machine slows OpenMP teams far more than single threads: every round
    # waits for quiet again, and its starting load goes into the report.
    [ "$round" = 1 ] || wait_for_quiet
    echo "run_benchmarks: round $round of $rounds (load $(load_now))"
    echo "{\"round\": $round, \"bench\": \"load\", \"figure\": \"load\", \"value\": $(load_now)}" \
        >> "$results"
    record "$round" "$build/bench_training" "$train_rows" "$train_epochs"
    # PyTorch with the same threads, and with one (which can be faster here): the report takes
    # the faster as the anchor.
    for torch_threads in "$threads" 1; do
        record "$round" "$python" "$root/bench/training_anchor.py" "$train_rows" "$train_epochs" \
            "$torch_threads"
    done
    record "$round" "$build/bench_hidden" "$hidden_rows" 3
    record "$round" "$build/bench_kmeans" "$work/points.f32" "$km_n" "$km_d" "$km_k" 3 1
    # faiss calls sgemm outside its OpenMP loops, so it may gain from OpenBLAS threads: both
    # settings run and the report takes the faster one as the anchor.
    for blas_threads in 1 "$threads"; do
        OPENBLAS_NUM_THREADS=$blas_threads record "$round" "$python" \
            "$root/bench/kmeans_anchor.py" "$work/points.f32" "$km_n" "$km_d" "$km_k" 3 1 "$threads"
    done
    record "$round" "$build/bench_solver" "$solver_n" 5 5
done
rm -f "$work/points.f32"

echo "run_benchmarks: streaming generation into HDF5 ($storage_rows rows)"
record 1 "$build/bench_storage" "$work/storage.h5" "$storage_rows" "$storage_chunk"
record 1 "$build/bench_storage" "$work/storage_small_chunks.h5" "$storage_rows" \
    $((storage_chunk / 10))
rm -f "$work/storage.h5" "$work/storage_small_chunks.h5"

# End to end: the synthetic config at each size, one seed, wall time and peak memory.
e2e_config() {  # rows source out.json [hdf5 path]
    "$python" - "$root/configs/synthetic.json" "$@" <<'PY'
import json, sys
template, rows, source, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
config = json.load(open(template))
config["name"] = "bench_e2e_%d" % rows
config["data"]["synthetic"]["rows"] = rows
config["evaluation"]["seeds"] = 1
if source == "hdf5":
    config["data"] = {"source": "hdf5", "path": sys.argv[5]}
json.dump(config, open(out, "w"), indent=2)
PY
}

run_e2e() {  # rows config label
    local rows=$1 config=$2 label=$3
    wait_for_quiet
    echo "run_benchmarks: clusteralloc run, $rows users ($label, load $(load_now))"
    /usr/bin/time -v "$build/clusteralloc" run --config "$config" --seeds 1 --quiet \
        --out "$work/e2e_$label" > "$work/e2e_$label.log" 2> "$work/e2e_$label.time" ||
        { echo "run failed: $work/e2e_$label.time"; return 0; }
    "$python" "$root/bench/time_to_json.py" "$work/e2e_$label.time" "$rows" "$label" \
        "$work/e2e_$label/run_info.json" >> "$results"
}

for rows in $e2e_rows; do
    e2e_config "$rows" synthetic "$work/e2e_$rows.json"
    run_e2e "$rows" "$work/e2e_$rows.json" "synthetic_$rows"
done
if [ -n "$e2e_hdf5_rows" ]; then
    record 1 "$build/bench_storage" "$work/e2e.h5" "$e2e_hdf5_rows" 1000000
    e2e_config "$e2e_hdf5_rows" hdf5 "$work/e2e_hdf5.json" "$work/e2e.h5"
    run_e2e "$e2e_hdf5_rows" "$work/e2e_hdf5.json" "hdf5_$e2e_hdf5_rows"
fi

command="bench/run_benchmarks.sh (ROUNDS=$rounds THREADS=$threads E2E_ROWS=\"$e2e_rows\""
command+=" E2E_HDF5_ROWS=\"$e2e_hdf5_rows\" SMALL=${SMALL:-0})"
"$python" "$root/bench/write_report.py" "$results" --command "$command" \
    --started "$start_time" --revision "$revision" --load-start "$load_start" \
    --load-end "$(load_now)" --out "$report"
echo "run_benchmarks: wrote $report (raw figures in $results)"
