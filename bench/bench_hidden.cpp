// Hidden extraction (the trunk: Linear(12,256)-ReLU-Linear(256,128)-ReLU) in rows/s and GFLOP/s,
// against the machine's sgemm rate measured here at the same shapes: cblas_sgemm on the same
// row blocks, with OpenBLAS's own threads and with the rows split over OpenMP, the faster of
// the two. Usage: bench_hidden [rows] [repeats]; prints one JSON line.
#include <cblas.h>
#include <omp.h>

#include <random>

#include "bench/bench_util.h"
#include "core/log.h"
#include "core/mlp.h"
#include "core/multitask_network.h"
#include "kernels/backend.h"

namespace {

using namespace ca;

constexpr int kFeatures = 12, kHidden1 = 256, kHidden2 = 128;

// The two products of one block, as the trunk computes them (bias and ReLU left out).
void block_products(const float* x, int64_t rows, const std::vector<float>& w1,
                    const std::vector<float>& w2, std::vector<float>& h1, std::vector<float>& h2) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(rows), kHidden1, kFeatures, 1.0f, x,
                kFeatures, w1.data(), kHidden1, 0.0f, h1.data(), kHidden1);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(rows), kHidden2, kHidden1, 1.0f,
                h1.data(), kHidden1, w2.data(), kHidden2, 0.0f, h2.data(), kHidden2);
}

// Every block through OpenBLAS with its own threads.
double sgemm_blas_threads(const std::vector<float>& x, int64_t n, const std::vector<float>& w1,
                          const std::vector<float>& w2, int threads) {
    const int64_t block = MlpLayout::kInferenceBlockRows;
    std::vector<float> h1(size_t(block) * kHidden1), h2(size_t(block) * kHidden2);
    openblas_set_num_threads(threads);
    double seconds = bench::time_once([&] {
        for (int64_t start = 0; start < n; start += block)
            block_products(x.data() + start * kFeatures, std::min(block, n - start), w1, w2, h1,
                           h2);
    });
    openblas_set_num_threads(1);
    return seconds;
}

// Blocks handed out to OpenMP threads, each running single-threaded OpenBLAS.
double sgemm_openmp_split(const std::vector<float>& x, int64_t n, const std::vector<float>& w1,
                          const std::vector<float>& w2) {
    const int64_t block = MlpLayout::kInferenceBlockRows;
    openblas_set_num_threads(1);
    return bench::time_once([&] {
#pragma omp parallel
        {
            std::vector<float> h1(size_t(block) * kHidden1), h2(size_t(block) * kHidden2);
#pragma omp for schedule(static)
            for (int64_t start = 0; start < n; start += block)
                block_products(x.data() + start * kFeatures, std::min(block, n - start), w1, w2,
                               h1, h2);
        }
    });
}

}  // namespace

int main(int argc, char** argv) {
    const int64_t n = bench::argument(argc, argv, 1, 1000000);
    const int repeats = int(bench::argument(argc, argv, 2, 3));
    set_log_level(LogLevel::kWarning);
    std::mt19937_64 rng(1);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> x(size_t(n) * kFeatures);
    for (float& v : x) v = normal(rng);
    std::vector<float> w1(size_t(kFeatures) * kHidden1), w2(size_t(kHidden1) * kHidden2);
    for (float& v : w1) v = 0.3f * normal(rng);
    for (float& v : w2) v = 0.1f * normal(rng);

    MultiTaskNetworkParams params;
    MultiTaskNetwork network(params, kFeatures, 5, 0);
    std::vector<float> z(size_t(n) * kHidden2);
    Backend& backend = cpu_backend();
    network.hidden(x.data(), std::min<int64_t>(n, 8192), backend, z.data());  // warm-up

    const int threads = omp_get_max_threads();
    std::vector<double> ours, blas_threads, openmp_split;
    for (int r = 0; r < repeats; ++r) {
        ours.push_back(bench::time_once([&] { network.hidden(x.data(), n, backend, z.data()); }));
        blas_threads.push_back(sgemm_blas_threads(x, n, w1, w2, threads));
        openmp_split.push_back(sgemm_openmp_split(x, n, w1, w2));
    }
    const double flops = 2.0 * double(n) * (kFeatures * kHidden1 + kHidden1 * kHidden2);
    const double ours_gflops = flops / bench::median(ours) / 1e9;
    const double blas_gflops = flops / bench::median(blas_threads) / 1e9;
    const double split_gflops = flops / bench::median(openmp_split) / 1e9;
    const double sgemm_gflops = std::max(blas_gflops, split_gflops);
    bench::emit("hidden", "rows_per_s", double(n) / bench::median(ours), "rows/s",
                {{"rows", n},
                 {"threads", threads},
                 {"gflops", ours_gflops},
                 {"sgemm_gflops", sgemm_gflops},
                 {"sgemm_blas_threads_gflops", blas_gflops},
                 {"sgemm_openmp_split_gflops", split_gflops},
                 {"ratio", ours_gflops / sgemm_gflops},
                 {"block_rows", MlpLayout::kInferenceBlockRows}});
    return 0;
}
