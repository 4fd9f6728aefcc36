// One Lloyd iteration of k-means (N=10^6, d=128, K=256 by default) through kmeans_fit_from,
// timed as the difference between runs of 1 and 1 + extra iterations so that set-up and the
// first assignment drop out. Writes the points (float32, row-major) to a file for the faiss
// anchor (bench/kmeans_anchor.py), which times its iterations the same way on the same points.
// Usage: bench_kmeans points.f32 [N] [d] [K] [extra iterations] [repeats]; one JSON line.
#include <omp.h>

#include <fstream>
#include <random>

#include "bench/bench_util.h"
#include "core/kmeans.h"
#include "core/log.h"
#include "kernels/backend.h"

namespace {

using namespace ca;

// Points around K random centres with unit noise: Lloyd keeps moving labels for a while, as
// on real hidden representations, instead of converging in the first iterations.
std::vector<float> clustered_points(int64_t n, int d, int k, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> centres(size_t(k) * d);
    for (float& c : centres) c = 2.0f * normal(rng);
    std::vector<float> x(size_t(n) * d);
    for (int64_t i = 0; i < n; ++i) {
        const float* centre = centres.data() + size_t(rng() % uint64_t(k)) * d;
        for (int j = 0; j < d; ++j) x[size_t(i) * d + j] = centre[j] + 2.0f * normal(rng);
    }
    return x;
}

double fit_seconds(const std::vector<float>& x, int64_t n, int d, const KMeansParams& params) {
    // The first K points start every run: the same start for any iteration count.
    return bench::time_once(
        [&] { kmeans_fit_from(x.data(), n, d, x.data(), params, cpu_backend()); });
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: bench_kmeans points.f32 [N] [d] [K] [extra] [repeats]\n");
        return 2;
    }
    const std::string points_path = argv[1];
    const int64_t n = bench::argument(argc, argv, 2, 1000000);
    const int d = int(bench::argument(argc, argv, 3, 128));
    const int k = int(bench::argument(argc, argv, 4, 256));
    const int extra = int(bench::argument(argc, argv, 5, 3));
    const int repeats = int(bench::argument(argc, argv, 6, 3));
    set_log_level(LogLevel::kWarning);

    std::vector<float> x = clustered_points(n, d, k, 11);
    std::ofstream(points_path, std::ios::binary)
        .write(reinterpret_cast<const char*>(x.data()), std::streamsize(x.size() * sizeof(float)));

    KMeansParams one;
    one.k = k;
    one.max_iterations = 1;
    one.tolerance = 0.0;
    KMeansParams more = one;
    more.max_iterations = 1 + extra;
    std::vector<double> per_iteration;
    for (int r = 0; r < repeats; ++r) {
        double short_run = fit_seconds(x, n, d, one);
        double long_run = fit_seconds(x, n, d, more);
        per_iteration.push_back((long_run - short_run) / extra);
    }
    bench::emit("kmeans", "seconds_per_iteration", bench::median(per_iteration), "s",
                {{"n", n}, {"d", d}, {"k", k}, {"threads", omp_get_max_threads()},
                 {"runs", per_iteration}});
    return 0;
}
