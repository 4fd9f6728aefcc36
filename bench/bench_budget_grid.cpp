// The Lagrangian pass over a budget grid (K clusters x M arms, B budgets) on the CPU backend
// and, where a device is visible, on the "cuda" backend (one block per budget), with the
// largest disagreement between the two. Usage: bench_budget_grid [K] [M] [budgets] [repeats];
// prints one JSON line per backend.
#include <omp.h>

#include <cmath>
#include <memory>
#include <random>

#include "bench/bench_util.h"
#include "core/errors.h"
#include "kernels/backend.h"

namespace {

struct Grid {
    int k = 0;
    int m = 0;
    std::vector<double> value, cost, population, budgets;
};

// Costs rise with the arm, values with diminishing returns; budgets span the cheapest to the
// costliest policy.
Grid make_grid(int k, int m, int count) {
    std::mt19937_64 engine(23);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    Grid g{k,
           m,
           std::vector<double>(size_t(k) * m),
           std::vector<double>(size_t(k) * m),
           std::vector<double>(k),
           std::vector<double>(count)};
    double costliest = 0.0;
    for (int c = 0; c < k; ++c) {
        g.population[c] = std::floor(100.0 + 1000.0 * unit(engine));
        for (int j = 0; j < m; ++j) {
            g.cost[size_t(c) * m + j] = j * (0.5 + unit(engine));
            g.value[size_t(c) * m + j] = std::sqrt(double(j)) * (1.0 + unit(engine));
        }
        costliest += g.population[c] * g.cost[size_t(c) * m + m - 1];
    }
    for (int b = 0; b < count; ++b) g.budgets[b] = costliest * (b + 0.5) / count;
    return g;
}

// Median seconds of repeats calls, after one warm-up call whose results land in out.
double time_grid(ca::Backend& backend, const Grid& g, int repeats,
                 std::vector<ca::BudgetGridPoint>& out) {
    out.assign(g.budgets.size(), {});
    auto call = [&] {
        backend.budget_grid(g.value.data(), g.cost.data(), g.population.data(), g.k, g.m,
                            g.budgets.data(), int(g.budgets.size()), ca::BudgetGridSearch{},
                            out.data());
    };
    call();
    std::vector<double> seconds;
    for (int r = 0; r < repeats; ++r) seconds.push_back(ca::bench::time_once(call));
    return ca::bench::median(seconds);
}

}  // namespace

int main(int argc, char** argv) {
    using namespace ca;
    const int k = int(bench::argument(argc, argv, 1, 4096));
    const int m = int(bench::argument(argc, argv, 2, 5));
    const int count = int(bench::argument(argc, argv, 3, 256));
    const int repeats = int(bench::argument(argc, argv, 4, 5));
    const Grid g = make_grid(k, m, count);
    const nlohmann::json shape = {{"k", k}, {"m", m}, {"budgets", count}, {"repeats", repeats}};

    std::vector<BudgetGridPoint> cpu_points, cuda_points;
    const double cpu_seconds = time_grid(cpu_backend(), g, repeats, cpu_points);
    nlohmann::json cpu_extra = shape;
    cpu_extra["threads"] = omp_get_max_threads();
    bench::emit("budget_grid", "cpu_seconds", cpu_seconds, "s", cpu_extra);

    std::unique_ptr<Backend> cuda;
    try {
        cuda = make_backend("cuda");
    } catch (const ConfigError& error) {
        std::fprintf(stderr, "bench_budget_grid: no cuda timing: %s\n", error.what());
        return 0;
    }
    const double cuda_seconds = time_grid(*cuda, g, repeats, cuda_points);
    double lambda_difference = 0.0, bound_difference = 0.0;
    for (int b = 0; b < count; ++b) {
        lambda_difference =
            std::max(lambda_difference, std::fabs(cuda_points[b].lambda - cpu_points[b].lambda));
        bound_difference =
            std::max(bound_difference, std::fabs(cuda_points[b].bound - cpu_points[b].bound));
    }
    nlohmann::json cuda_extra = shape;
    cuda_extra["speedup_over_cpu"] = cpu_seconds / cuda_seconds;
    cuda_extra["largest_lambda_difference"] = lambda_difference;
    cuda_extra["largest_bound_difference"] = bound_difference;
    bench::emit("budget_grid", "cuda_seconds", cuda_seconds, "s", cuda_extra);
    return 0;
}
