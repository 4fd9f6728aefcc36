#!/usr/bin/env bash
# One job on 1 rank x 1 thread, 1 rank x T threads and T ranks x 1 thread (mpirun on this
# machine, loopback and shared memory only): wall time, network training and distillation
# time, peak memory of the largest process, and whether every run wrote the same budget curve,
# cluster table and distillation results byte for byte.
# Writes results/rank_scaling.md, or with METHODS=all (every method: the baselines too)
# results/rank_scaling_all_methods.md.
# Usage: [METHODS=all] bench/rank_scaling.sh [build dir] [users] [threads]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
users=${2:-100000}
threads=${3:-2}
methods=${METHODS:-hrc}
report=$root/results/rank_scaling.md
[ "$methods" = all ] && report=$root/results/rank_scaling_all_methods.md
work=$(mktemp -d /tmp/clusteralloc_ranks.XXXXXX)
trap 'rm -rf "$work"' EXIT
command -v mpirun > /dev/null || { echo "rank_scaling: mpirun is not on the PATH"; exit 1; }

python3 - "$root/configs/synthetic.json" "$users" "$work/config.json" "$methods" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
config["name"] = "rank_scaling"
config["data"]["synthetic"]["rows"] = int(sys.argv[2])
config["network"]["max_epochs"] = 5
methods = ["HRC", "TSM-SL"]
if sys.argv[4] == "all":
    methods = ["HRC", "TSM-SL", "TSM-CF", "DRP", "DRM", "DFCL-PL", "DFCL-IFD", "random"]
config["evaluation"].update({"seeds": 1, "methods": methods, "oracle": False})
json.dump(config, open(sys.argv[3], "w"), indent=2)
PY

mpi_options=(--oversubscribe --allow-run-as-root --bind-to none --mca btl self,vader
             --mca mpi_yield_when_idle 1 --mca oob_tcp_if_include lo
             -x PMIX_MCA_ptl_tcp_if_include=lo)

run_case() {  # label ranks threads
    local label=$1 ranks=$2 threads_each=$3 out=$work/$1
    local launch=()
    [ "$ranks" -gt 1 ] && launch=(mpirun "${mpi_options[@]}" -np "$ranks" -x OMP_NUM_THREADS)
    OMP_NUM_THREADS=$threads_each OPENBLAS_NUM_THREADS=1 \
        /usr/bin/time -v -o "$work/$label.time" "${launch[@]}" "$build/clusteralloc" run \
        --config "$work/config.json" --out "$out" --quiet > /dev/null
    python3 - "$out/run_info.json" "$work/$label.time" "$label" <<'PY'
import json, sys
info = json.load(open(sys.argv[1]))
peak = 0
for line in open(sys.argv[2]):
    if "Maximum resident set size" in line:
        peak = int(line.split(":")[1]) / 1024
stages = info["stage_seconds"]
baselines = sum(stages.get("method " + name, 0.0)
                for name in ("TSM-CF", "DRP", "DRM", "DFCL-PL", "DFCL-IFD"))
print("| %s | %.1f | %.2f | %.2f | %.2f | %.0f |" % (sys.argv[3], info["seconds"],
      stages.get("train network", 0.0), stages.get("distillation", 0.0), baselines, peak))
PY
}

{
    echo "# Ranks and threads on one machine"
    echo
    prefix=""
    [ "$methods" = all ] && prefix="METHODS=all "
    echo "Command: \`${prefix}bench/rank_scaling.sh $build $users $threads\`; revision" \
         "$(git -C "$root" rev-parse --short HEAD); $(nproc) cores; load at start" \
         "$(cut -d' ' -f1 /proc/loadavg); synthetic RCT, $users users, 5 epochs, K = 64," \
         "$([ "$methods" = all ] && echo "every method" || echo "HRC and TSM-SL"), 1 seed," \
         "distilled student."
    echo
    echo "Peak RSS: the largest process of the launch (a rank, not their sum)."
    echo
    echo "| processes x threads | wall s | training s | distillation s | baselines s |" \
         "peak RSS MiB |"
    echo "|---|---|---|---|---|---|"
    run_case "1x1" 1 1
    run_case "1x$threads" 1 "$threads"
    run_case "${threads}x1" "$threads" 1
    echo
    same=yes
    for label in "1x$threads" "${threads}x1"; do
        for file in budget_curve.csv cluster_table.csv; do
            cmp -s "$work/1x1/$file" "$work/$label/$file" || same=no
        done
        python3 - "$work/1x1/metrics.json" "$work/$label/metrics.json" <<'PY' || same=no
import json, sys
def strip(node):  # wall times differ from run to run
    if isinstance(node, dict):
        return {k: strip(v) for k, v in node.items() if k != "seconds"}
    if isinstance(node, list):
        return [strip(v) for v in node]
    return node
a, b = (json.load(open(path)) for path in sys.argv[1:3])
sys.exit(0 if strip(a["distillation"]) == strip(b["distillation"]) else 1)
PY
    done
    echo "Budget curves, cluster tables and distillation results (timings aside) identical" \
         "across the three: $same."
} > "$report.tmp"
mv "$report.tmp" "$report"
cat "$report"
