// One dual pass of the individual solver (every user picks argmax_j value - lambda * cost) over
// N=10^7 users x M=5 arms of float value and cost, against a STREAM-like read of the same bytes
// in the same process: both as GB/s, and their ratio. Usage: bench_solver [N] [M] [repeats];
// prints one JSON line.
#include <omp.h>

#include <random>

#include "bench/bench_util.h"
#include "kernels/backend.h"

namespace {

// Sums both arrays with every thread: the bandwidth a pass that reads them could reach.
double read_sum(const float* value, const float* cost, int64_t count) {
    float total = 0.0f;
#pragma omp parallel for simd schedule(static) reduction(+ : total)
    for (int64_t i = 0; i < count; ++i) total += value[i] + cost[i];
    return double(total);
}

// Values filled in parallel, so each page lands near the thread that reads it later.
void fill(std::vector<float>& value, std::vector<float>& cost, int m) {
#pragma omp parallel
    {
        std::mt19937 rng(17u + unsigned(omp_get_thread_num()));
        std::uniform_real_distribution<float> unit(0.0f, 1.0f);
#pragma omp for schedule(static)
        for (int64_t i = 0; i < int64_t(value.size()); ++i) {
            const int arm = int(i % m);
            cost[size_t(i)] = arm == 0 ? 0.0f : float(arm) * (0.5f + unit(rng));
            value[size_t(i)] = cost[size_t(i)] * (1.0f + unit(rng)) + unit(rng);
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    using namespace ca;
    const int64_t n = bench::argument(argc, argv, 1, 10000000);
    const int m = int(bench::argument(argc, argv, 2, 5));
    const int repeats = int(bench::argument(argc, argv, 3, 5));
    std::vector<float> value(size_t(n) * m), cost(size_t(n) * m);
    fill(value, cost, m);
    Backend& backend = cpu_backend();
    const double lambda = 1.2;

    double sink = 0.0;
    std::vector<double> pass_seconds, read_seconds;
    for (int r = 0; r < repeats + 1; ++r) {
        double pass = bench::time_once([&] {
            sink += backend.dual_pass(value.data(), cost.data(), n, m, lambda, nullptr).value;
        });
        double read = bench::time_once([&] { sink += read_sum(value.data(), cost.data(), n * m); });
        if (r == 0) continue;  // first touch and frequency ramp-up
        pass_seconds.push_back(pass);
        read_seconds.push_back(read);
    }
    const double bytes = 2.0 * double(n) * m * sizeof(float);
    const double pass_gbs = bytes / bench::median(pass_seconds) / 1e9;
    const double read_gbs = bytes / bench::median(read_seconds) / 1e9;
    bench::emit("solver", "dual_pass_gb_per_s", pass_gbs, "GB/s",
                {{"n", n},
                 {"m", m},
                 {"threads", omp_get_max_threads()},
                 {"pass_seconds", bench::median(pass_seconds)},
                 {"read_gb_per_s", read_gbs},
                 {"ratio", pass_gbs / read_gbs},
                 {"checksum", sink}});
    return 0;
}
