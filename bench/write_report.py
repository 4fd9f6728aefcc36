"""Writes results/benchmarks.md from the JSON lines bench/run_benchmarks.sh collected: the
command, the machine, and every figure beside its anchor with the ratio, as medians over the
rounds (each round measures a figure and its anchor back to back). Usage: write_report.py
results.jsonl --command TEXT --started TIME --load-start L --load-end L --out FILE."""
import argparse
import json
import os
import platform
import statistics
import subprocess


def load(path):
    with open(path) as lines:
        return [json.loads(line) for line in lines if line.strip()]


def rounds_of(rows, bench, figure):
    """Round -> the rows of one figure (a round can hold several anchor variants)."""
    found = {}
    for row in rows:
        if row["bench"] == bench and row["figure"] == figure:
            found.setdefault(row["round"], []).append(row)
    return found


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    return "%.2f-%.2f" % (min(values), max(values))


def number(value, digits=3):
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return "{:,.0f}".format(value)
    return "%.*g" % (digits, value)


def verdict(ratio, target):
    if ratio is None or target is None:
        return "-"
    return "met" if ratio >= target else "below"


def machine_lines():
    model, cores = "unknown", os.cpu_count()
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with open("/proc/meminfo") as info:
        for line in info:
            if line.startswith("MemTotal"):
                memory = "%.1f GiB" % (int(line.split()[1]) / 2**20)
    flags = open("/proc/cpuinfo").read()
    simd = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "SSE"
    return ["- CPU: %s, %d logical cores, %s; %s memory" % (model, cores, simd, memory),
            "- OS: %s %s" % (platform.system(), platform.release())]


def package_version(name):
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], capture_output=True,
                             text=True, check=False)
        return out.stdout.strip() or "not installed"
    except OSError:
        return "unknown"


def git_revision(root):
    try:
        revision = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                                  capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return revision + (" (with uncommitted changes in the tree)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def paired(rows, bench, ours_figure, anchor_figure, ours_of, anchor_of, ratio_of):
    """Per round: our figure, the best anchor variant, their ratio; medians over rounds."""
    ours, anchors = rounds_of(rows, bench, ours_figure), rounds_of(rows, bench, anchor_figure)
    values, anchor_values, ratios, anchor_rows = [], [], [], []
    for round_id in sorted(set(ours) & set(anchors)):
        our = ours_of(ours[round_id][0])
        best = anchor_of(anchors[round_id])
        values.append(our)
        anchor_values.append(best[0])
        anchor_rows.append(best[1])
        ratios.append(ratio_of(our, best[0]))
    return values, anchor_values, ratios, anchor_rows


def comparison_table(rows):
    lines = ["| Figure | clusteralloc | Anchor | Anchor figure | Ratio (median) | Ratio range "
             "| Target | Status |",
             "|---|---|---|---|---|---|---|---|"]

    # Training: samples/s against PyTorch (the faster of its thread settings), higher is better.
    v, a, r, anchor_rows = paired(
        rows, "training", "samples_per_s", "anchor_samples_per_s", lambda row: row["value"],
        lambda found: max((row["value"], row["anchor"], row) for row in found)[::2],
        lambda ours, anchor: ours / anchor)
    if v:
        names = sorted({row["anchor"] for row in anchor_rows})
        lines.append("| Network training, samples/s (D=12, 256-128, 2 heads 64-5, batch 4096, "
                     "Adam, MSE) | %s | %s (the faster per round: %s) | %s | %s | %s | >= 1.5 "
                     "| %s |"
                     % (number(median(v)), "PyTorch CPU", "; ".join(names), number(median(a)),
                        number(median(r)), spread(r), verdict(median(r), 1.5)))

    # Hidden extraction: achieved GFLOP/s over the sgemm GFLOP/s at the same shapes.
    hidden = rounds_of(rows, "hidden", "rows_per_s")
    if hidden:
        first = [found[0] for found in hidden.values()]
        lines.append("| Hidden extraction, rows/s (%s rows; %s GFLOP/s achieved) | %s | cblas_sgemm "
                     "at the same shapes (%d-row blocks) | %s GFLOP/s | %s | %s | - | - |"
                     % (number(first[0]["rows"]), number(median([x["gflops"] for x in first])),
                        number(median([x["value"] for x in first])), first[0]["block_rows"],
                        number(median([x["sgemm_gflops"] for x in first])),
                        number(median([x["ratio"] for x in first])),
                        spread([x["ratio"] for x in first])))

    # k-means: seconds per Lloyd iteration, lower is better; ratio = faiss time / ours.
    v, a, r, anchor_rows = paired(
        rows, "kmeans", "seconds_per_iteration", "anchor_seconds_per_iteration",
        lambda row: row["value"], lambda found: min((row["value"], row) for row in found),
        lambda ours, anchor: anchor / ours)
    if v:
        ours_row = rounds_of(rows, "kmeans", "seconds_per_iteration")
        shape = next(iter(ours_row.values()))[0]
        blas = sorted({str(row.get("blas_threads")) for row in anchor_rows})
        lines.append("| k-means, seconds per Lloyd iteration (N=%s, d=%d, K=%d) | %s | %s "
                     "(OpenBLAS threads of the faster run: %s) | %s | %s | %s | >= 1.0 | %s |"
                     % (number(shape["n"]), shape["d"], shape["k"], number(median(v)),
                        anchor_rows[0]["anchor"], "/".join(blas), number(median(a)),
                        number(median(r)), spread(r), verdict(median(r), 1.0)))

    # Solver: GB/s of one dual pass over GB/s of reading the same bytes.
    solver = rounds_of(rows, "solver", "dual_pass_gb_per_s")
    if solver:
        first = [found[0] for found in solver.values()]
        lines.append("| Dual solver pass, GB/s (%s users x %d arms, float value and cost) | %s "
                     "| STREAM-like read of the same bytes | %s GB/s | %s | %s | >= 0.8 | %s |"
                     % (number(first[0]["n"]), first[0]["m"],
                        number(median([x["value"] for x in first])),
                        number(median([x["read_gb_per_s"] for x in first])),
                        number(median([x["ratio"] for x in first])),
                        spread([x["ratio"] for x in first]),
                        verdict(median([x["ratio"] for x in first]), 0.8)))
    return lines


def end_to_end_table(rows):
    runs = sorted((row for row in rows if row["bench"] == "e2e"), key=lambda row: row["users"])
    if not runs:
        return ["No end-to-end runs in this report (E2E_ROWS was empty)."]
    lines = ["| Users | Data | Wall time, s | Peak RSS, MiB | CPU use | Time growth | "
             "Memory growth | Longest stages, s |", "|---|---|---|---|---|---|---|---|"]
    previous = None
    for run in runs:
        growth_time = growth_memory = "-"
        if previous and run["value"] and previous["value"]:
            factor = run["users"] / previous["users"]
            growth_time = "x%.1f for x%g users" % (run["value"] / previous["value"], factor)
            growth_memory = "x%.1f" % (run["peak_rss_mib"] / previous["peak_rss_mib"])
        stages = sorted(run.get("stages", {}).items(), key=lambda item: -item[1])[:3]
        lines.append("| %s | %s | %s | %s | %s%% | %s | %s | %s |"
                     % (number(run["users"]), run["label"], number(run["value"]),
                        number(run["peak_rss_mib"]), number(run["cpu_percent"]), growth_time,
                        growth_memory,
                        ", ".join("%s %s" % (name, number(sec)) for name, sec in stages) or "-"))
        previous = run
    return lines


def storage_table(rows):
    runs = [row for row in rows if row["bench"] == "storage"]
    if not runs:
        return []
    lines = ["| Rows | Chunk rows | Generate + write, rows/s | File, MiB | Peak RSS, MiB "
             "| Slice reads, rows/s (MB/s) |", "|---|---|---|---|---|---|"]
    for run in runs:
        lines.append("| %s | %s | %s | %s | %s | %s (%s) |"
                     % (number(run["rows"]), number(run["chunk_rows"]), number(run["value"]),
                        number(run["file_mib"]), number(run["generate_peak_rss_mib"]),
                        number(run["read_rows_per_s"]), number(run["read_mb_per_s"])))
    return lines


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("results")
    parser.add_argument("--command", required=True)
    parser.add_argument("--started", required=True)
    parser.add_argument("--load-start", required=True)
    parser.add_argument("--load-end", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--revision", help="git revision the run measured (default: HEAD now)")
    args = parser.parse_args()
    rows = load(args.results)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    rounds = max((row["round"] for row in rows), default=0)
    threads = next((row["threads"] for row in rows if "threads" in row), "?")

    text = ["# CPU benchmarks", "",
            "Written by `bench/run_benchmarks.sh`; do not edit by hand, run it again.", "",
            "- Command: `%s`" % args.command,
            "- Started %s at git revision %s" % (args.started,
                                                 args.revision or git_revision(root)),
            "- 1-minute load average: %s before, %s after (the machine is shared; figures move "
            "by 30-40%% between runs, ratios much less)" % (args.load_start, args.load_end)]
    text += machine_lines()
    text += ["- Threads: %s OpenMP threads for clusteralloc, torch.set_num_threads(%s) and "
             "faiss.omp_set_num_threads(%s); OPENBLAS_NUM_THREADS=1 unless stated"
             % (threads, threads, threads),
             "- Libraries: OpenBLAS %s, HDF5 %s, PyTorch and faiss as named in the table"
             % (package_version("libopenblas0-pthread"), package_version("libhdf5-103-1")),
             "", "## Kernels against anchors", "",
             "Medians over %d rounds; each round measures a figure and its anchor back to back "
             "on the same data. Ratios: higher is better for clusteralloc." % rounds, ""]
    loads = [row["value"] for row in sorted(rows, key=lambda row: row["round"])
             if row["bench"] == "load"]
    if loads:
        text += ["Load average at the start of each round: %s." % ", ".join(
            "%.2f" % load for load in loads), ""]
    text += comparison_table(rows)
    text += ["", "## End to end: `clusteralloc run`, synthetic config, 1 seed", ""]
    text += end_to_end_table(rows)
    storage = storage_table(rows)
    if storage:
        text += ["", "## Streaming generation into HDF5 and slice reads", "",
                 "Peak RSS is the whole process; it follows the chunk, not the row count.", ""]
        text += storage
    text.append("")
    temporary = args.out + ".tmp-%d" % os.getpid()
    with open(temporary, "w") as out:
        out.write("\n".join(text))
    os.replace(temporary, args.out)


if __name__ == "__main__":
    main()
