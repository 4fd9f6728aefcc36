"""faiss anchor of bench_kmeans: faiss.Kmeans on the points bench_kmeans wrote, with
max_points_per_centroid set so that faiss trains on every point instead of a 256-per-centroid
sample, timed as the difference between 1 and 1 + extra iterations (set-up and the first
assignment drop out). Usage: kmeans_anchor.py points.f32 N d K [extra] [repeats] [threads];
prints one JSON line."""
import json
import os
import sys
import time


def main():
    path = sys.argv[1]
    n, d, k = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    extra = int(sys.argv[5]) if len(sys.argv) > 5 else 3
    repeats = int(sys.argv[6]) if len(sys.argv) > 6 else 3
    threads = int(sys.argv[7]) if len(sys.argv) > 7 else 2
    import faiss
    import numpy
    faiss.omp_set_num_threads(threads)
    x = numpy.fromfile(path, dtype=numpy.float32).reshape(n, d)
    start_points = x[:k].copy()

    def fit_seconds(iterations):
        kmeans = faiss.Kmeans(d, k, niter=iterations, seed=1, verbose=False,
                              max_points_per_centroid=n // k + 1, min_points_per_centroid=1)
        begin = time.perf_counter()
        kmeans.train(x, init_centroids=start_points)
        return time.perf_counter() - begin

    runs = []
    for _ in range(repeats):
        short_run = fit_seconds(1)
        long_run = fit_seconds(1 + extra)
        runs.append((long_run - short_run) / extra)
    print(json.dumps({"bench": "kmeans", "figure": "anchor_seconds_per_iteration",
                      "value": sorted(runs)[len(runs) // 2], "unit": "s",
                      "anchor": "faiss %s CPU Kmeans, %d threads" % (faiss.__version__, threads),
                      "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "default"),
                      "runs": runs}))


if __name__ == "__main__":
    main()
