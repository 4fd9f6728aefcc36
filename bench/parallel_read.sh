#!/usr/bin/env bash
# One data file read on 1 and 2 ranks (mpirun, loopback): a CSV by byte slices and the same
# rows as HDF5 by row blocks; rank 0's "load data" stage and the run's wall time, with a
# byte-for-byte check that the runs agree. Writes results/parallel_read.md.
# Usage: bench/parallel_read.sh [build dir] [rows]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
rows=${2:-2000000}
report=$root/results/parallel_read.md
work=$(mktemp -d /tmp/clusteralloc_read.XXXXXX)
trap 'rm -rf "$work"' EXIT
command -v mpirun > /dev/null || { echo "parallel_read: mpirun is not on the PATH"; exit 1; }

echo "parallel_read: writing a $rows-row CSV"
python3 - "$rows" "$work/rct.csv" "$work/csv.json" "$work/h5.json" "$work/rct.h5" <<'PY'
import json, random, sys
rows, path = int(sys.argv[1]), sys.argv[2]
rng = random.Random(7)
channels = ["web", "phone", "multichannel", "store"]
with open(path, "w") as out:
    out.write("user,treatment,conversion,visit," +
              ",".join("f%d" % f for f in range(12)) + ",channel,region\n")
    for i in range(rows):
        t = rng.random() < 0.5
        f = [rng.random() for _ in range(12)]
        visit = rng.random() < 0.2 + 0.3 * t * f[0]
        conversion = visit and rng.random() < 0.3 + 0.4 * f[1]
        out.write("%d,%d,%d,%d,%s,%s,r%d\n" % (
            i, t, conversion, visit, ",".join("%.5f" % v for v in f),
            channels[i % 4], rng.randrange(50)))
features = [{"column": "f%d" % f} for f in range(12)]
features += [{"column": "channel", "type": "categorical"},
             {"column": "region", "type": "categorical"}]
config = {"name": "parallel_read",
          "data": {"source": "csv", "path": path, "id_column": "user",
                   "treatment": {"column": "treatment", "arms": ["0", "1"]},
                   "value": {"column": "conversion"}, "cost": {"column": "visit"},
                   "features": features},
          "network": {"max_epochs": 1, "patience": 1},
          "evaluation": {"seeds": 1, "budget_levels": 5, "methods": ["random"]},
          "distillation": {"enabled": False}}
json.dump(config, open(sys.argv[3], "w"), indent=2)
config["data"] = {"source": "hdf5", "path": sys.argv[5]}
json.dump(config, open(sys.argv[4], "w"), indent=2)
PY
"$build/clusteralloc" convert --quiet --config "$work/csv.json" --out "$work/rct.h5"

mpi_options=(--oversubscribe --allow-run-as-root --bind-to none --mca btl self,vader
             --mca mpi_yield_when_idle 1 --mca oob_tcp_if_include lo
             -x PMIX_MCA_ptl_tcp_if_include=lo)

run_case() {  # source ranks
    local out=$work/$1-$2
    local launch=()
    [ "$2" -gt 1 ] && launch=(mpirun "${mpi_options[@]}" -np "$2" -x OMP_NUM_THREADS)
    echo "parallel_read: $1 on $2 rank(s)" >&2
    OMP_NUM_THREADS=1 "${launch[@]}" "$build/clusteralloc" run --config "$work/$1.json" \
        --out "$out" --quiet > /dev/null
    python3 - "$out/run_info.json" "$1" "$2" <<'PY'
import json, sys
info = json.load(open(sys.argv[1]))
print("| %s | %s | %.2f | %.1f |" % (sys.argv[2], sys.argv[3],
      info["stage_seconds"]["load data"], info["seconds"]))
PY
}

same() { cmp -s "$work/$1/budget_curve.csv" "$work/$2/budget_curve.csv" && echo yes || echo NO; }

{
    echo "# Reading one file on 1 and 2 ranks"
    echo
    echo "Command: \`bench/parallel_read.sh build $rows\`; revision" \
         "$(git -C "$root" rev-parse --short HEAD); $(nproc) cores; load at start" \
         "$(cut -d' ' -f1 /proc/loadavg); $rows users, 12 numeric and 2 categorical" \
         "features; CSV $(du -m "$work/rct.csv" | cut -f1) MiB, HDF5" \
         "$(du -m "$work/rct.h5" | cut -f1) MiB (page cache warm after the first read)."
    echo
    echo "| file | ranks | load data s (rank 0) | run s |"
    echo "|---|---|---|---|"
    run_case csv 1
    run_case csv 2
    run_case h5 1
    run_case h5 2
    echo
    echo "Budget curves identical: CSV 1 vs 2 ranks $(same csv-1 csv-2);" \
         "HDF5 1 vs 2 ranks $(same h5-1 h5-2); CSV vs HDF5 $(same csv-1 h5-1)."
} > "$work/report.md"
mv "$work/report.md" "$report"
cat "$report"
