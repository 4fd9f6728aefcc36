// The device budget-grid pass against the CPU reference and the exact hull LP on random tables
// (ties, empty clusters, budgets below the cheapest and above the costliest policy). Both
// backends score arms with the same fused multiply-add, so they bisect along the same lambdas;
// only the order of the sums differs. Stated tolerance: lambda within 1e-9 relative, value,
// cost and bound within 1e-9 of the table's scale (sum of n_k (|value| + cost)).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/cluster_estimates.h"
#include "core/errors.h"
#include "core/mckp_lp.h"
#include "kernels/backend.h"
#include "kernels/budget_grid_tables.h"
#include "kernels/cuda/cuda_backend.cuh"

namespace ca {
namespace {

using testing::policy_cost;
using testing::random_table;
using testing::run_grid;
using testing::scale_of;
using testing::Table;

// 0, below and at the cheapest policy, spread up to and past the costliest one.
std::vector<double> grid_budgets(const Table& t, int count) {
    const double low = policy_cost(t, false), high = policy_cost(t, true);
    std::vector<double> budgets = {0.0, 0.5 * low, low, high, 1.5 * high + 1.0};
    for (int b = 0; int(budgets.size()) < count; ++b)
        budgets.push_back(low + (high - low) * (b + 0.37) / (count - 5));
    return budgets;
}

class BudgetGridGpuTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device: " << cuda_device_status();
        cuda_ = make_cuda_backend();
    }
    Backend& cuda() { return *cuda_; }

  private:
    std::unique_ptr<Backend> cuda_;
};

void expect_parity(const Table& t, const std::vector<double>& budgets,
                   const std::vector<BudgetGridPoint>& gpu,
                   const std::vector<BudgetGridPoint>& cpu) {
    const double tolerance = 1e-9 * scale_of(t);
    for (size_t b = 0; b < budgets.size(); ++b) {
        SCOPED_TRACE("K " + std::to_string(t.k) + ", M " + std::to_string(t.m) + ", budget " +
                     std::to_string(budgets[b]));
        ASSERT_EQ(gpu[b].feasible, cpu[b].feasible);
        EXPECT_NEAR(gpu[b].lambda, cpu[b].lambda, 1e-9 * std::max(1.0, cpu[b].lambda));
        EXPECT_NEAR(gpu[b].bound, cpu[b].bound, tolerance);
        EXPECT_NEAR(gpu[b].value, cpu[b].value, tolerance);
        EXPECT_NEAR(gpu[b].cost, cpu[b].cost, tolerance);
    }
}

TEST_F(BudgetGridGpuTest, MatchesCpuOnRandomTables) {
    const int shapes[][2] = {{1, 1}, {1, 3}, {3, 2}, {255, 5}, {256, 4}, {257, 5}, {1000, 9}};
    uint64_t seed = 1;
    for (const auto& shape : shapes) {
        for (bool integers : {false, true}) {
            const Table t = random_table(seed++, shape[0], shape[1], integers);
            const std::vector<double> budgets = grid_budgets(t, 40);
            expect_parity(t, budgets, run_grid(cuda(), t, budgets),
                          run_grid(cpu_backend(), t, budgets));
        }
    }
}

TEST_F(BudgetGridGpuTest, MatchesCpuAtTheBenchmarkShape) {
    const Table t = random_table(99, 4096, 5, false);
    const std::vector<double> budgets = grid_budgets(t, 256);
    expect_parity(t, budgets, run_grid(cuda(), t, budgets), run_grid(cpu_backend(), t, budgets));
}

TEST_F(BudgetGridGpuTest, BoundIsTheExactLpOptimum) {
    for (uint64_t seed = 40; seed < 46; ++seed) {
        const Table t = random_table(seed, 300, 4, seed % 2 == 0);
        ClusterTable table = ClusterTable::zeros(t.k, t.m);
        table.value = t.value;
        table.cost = t.cost;
        table.population = t.population;
        const MckpInstance instance = make_mckp_instance(table);
        const std::vector<double> budgets = grid_budgets(t, 30);
        const std::vector<BudgetGridPoint> gpu = run_grid(cuda(), t, budgets);
        const double tolerance = 1e-9 * scale_of(t);
        for (size_t b = 0; b < budgets.size(); ++b) {
            SCOPED_TRACE("seed " + std::to_string(seed) + ", budget " + std::to_string(b));
            const LpSolution lp = solve_mckp_lp(instance, budgets[b]);
            ASSERT_EQ(gpu[b].feasible, lp.feasible);
            if (!lp.feasible) continue;
            EXPECT_NEAR(gpu[b].bound, lp.bound, tolerance);
            if (lp.split) EXPECT_NEAR(gpu[b].lambda, lp.lambda, 1e-9 * std::max(1.0, lp.lambda));
            EXPECT_LE(gpu[b].cost, budgets[b] + tolerance);
        }
    }
}

TEST_F(BudgetGridGpuTest, LambdaFallsWithTheBudget) {
    const Table t = random_table(7, 500, 5, true);
    std::vector<double> budgets(200);
    const double high = 1.1 * policy_cost(t, true);
    for (int b = 0; b < 200; ++b) budgets[b] = high * b / 199.0;
    const std::vector<BudgetGridPoint> gpu = run_grid(cuda(), t, budgets);
    for (int b = 1; b < 200; ++b)
        if (gpu[b - 1].feasible) EXPECT_LE(gpu[b].lambda, gpu[b - 1].lambda) << b;
    EXPECT_EQ(gpu.back().lambda, 0.0);
}

TEST_F(BudgetGridGpuTest, BadInputIsTheCpuError) {
    Table t = random_table(3, 4, 2, true);
    t.cost[5] = -1.0;
    const std::vector<double> budgets = {1.0};
    std::string cpu_message, gpu_message;
    try {
        run_grid(cpu_backend(), t, budgets);
    } catch (const InputError& error) {
        cpu_message = error.what();
    }
    try {
        run_grid(cuda(), t, budgets);
    } catch (const InputError& error) {
        gpu_message = error.what();
    }
    EXPECT_NE(cpu_message.find("cluster 2 arm 1 has cost -1"), std::string::npos) << cpu_message;
    EXPECT_EQ(gpu_message, cpu_message);
}

TEST_F(BudgetGridGpuTest, NoBudgetsIsANoOp) {
    const Table t = random_table(3, 4, 2, true);
    EXPECT_NO_THROW(cuda().budget_grid(t.value.data(), t.cost.data(), t.population.data(), t.k, t.m,
                                       nullptr, 0, BudgetGridSearch{}, nullptr));
}

}  // namespace
}  // namespace ca
