// The CPU backend's Lagrangian budget-grid pass against a hand-solved table, the exact hull LP
// of core/mckp_lp, and brute force over every allocation of tiny tables (the LP bound as the
// minimum of the Lagrangian dual over its breakpoints, the best integer value by enumeration).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/cluster_estimates.h"
#include "core/errors.h"
#include "core/mckp_lp.h"
#include "kernels/backend.h"
#include "kernels/budget_grid_tables.h"

namespace ca {
namespace {

using testing::policy_cost;
using testing::random_table;
using testing::scale_of;
using testing::Table;

std::vector<BudgetGridPoint> run_grid(const Table& t, const std::vector<double>& budgets) {
    return testing::run_grid(cpu_backend(), t, budgets);
}

// sum_k n_k max_j (v - lambda c) + lambda B, written out independently of the backend.
double dual_at(const Table& t, double lambda, double budget) {
    double total = lambda * budget;
    for (int c = 0; c < t.k; ++c) {
        double best = -std::numeric_limits<double>::infinity();
        for (int j = 0; j < t.m; ++j)
            best = std::max(best, t.value[c * t.m + j] - lambda * t.cost[c * t.m + j]);
        total += t.population[c] * best;
    }
    return total;
}

// The LP optimum: the dual is convex and piecewise linear in lambda >= 0, so its minimum sits
// at 0 or at a breakpoint, where two arms of one cluster score the same.
double brute_lp_bound(const Table& t, double budget) {
    double best = dual_at(t, 0.0, budget);
    for (int c = 0; c < t.k; ++c)
        for (int i = 0; i < t.m; ++i)
            for (int j = 0; j < t.m; ++j) {
                const double dc = t.cost[c * t.m + j] - t.cost[c * t.m + i];
                if (!(dc > 0.0)) continue;
                const double slope = (t.value[c * t.m + j] - t.value[c * t.m + i]) / dc;
                if (slope > 0.0) best = std::min(best, dual_at(t, slope, budget));
            }
    return best;
}

// Best total value over all M^K allocations that spend at most budget (+ slack); -inf if none.
double brute_best_integer(const Table& t, double budget, double slack) {
    double best = -std::numeric_limits<double>::infinity();
    std::vector<int> arms(t.k, 0);
    while (true) {
        double value = 0.0, cost = 0.0;
        for (int c = 0; c < t.k; ++c) {
            value += t.population[c] * t.value[c * t.m + arms[c]];
            cost += t.population[c] * t.cost[c * t.m + arms[c]];
        }
        if (cost <= budget + slack) best = std::max(best, value);
        int c = 0;
        while (c < t.k && ++arms[c] == t.m) arms[c++] = 0;
        if (c == t.k) return best;
    }
}

// Budgets at and around the interesting points: 0, the cheapest and costliest policies, and
// the ends of random allocations (where the LP often ends between two segments).
std::vector<double> probe_budgets(std::mt19937_64& engine, const Table& t) {
    const double low = policy_cost(t, false), high = policy_cost(t, true);
    std::vector<double> budgets = {0.0, 0.5 * low, low, 0.5 * (low + high), high, 2.0 * high + 1.0};
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    for (int i = 0; i < 6; ++i) budgets.push_back(low + (high - low) * uniform(engine));
    for (int i = 0; i < 4; ++i) {
        double spend = 0.0;
        for (int c = 0; c < t.k; ++c) spend += t.population[c] * t.cost[c * t.m + engine() % t.m];
        budgets.push_back(spend);
    }
    return budgets;
}

TEST(BudgetGridCpu, HandSolvedTwoClusters) {
    // Cluster 0 (1 user): arm 1 buys 10 for 5, slope 2. Cluster 1 (2 users): arm 1 buys 3 per
    // user for 1 per user, weight 2, slope 3. B = 4 takes cluster 1 and 2/5 of cluster 0:
    // bound 6 + 4 = 10 at lambda 2; just above 2 cluster 0 stays on arm 0 (value 6, cost 2).
    const Table t{2, 2, {0, 10, 0, 3}, {0, 5, 0, 1}, {1, 2}};
    const std::vector<BudgetGridPoint> p = run_grid(t, {4.0, 100.0, 1.5, 0.0});
    EXPECT_NEAR(p[0].lambda, 2.0, 1e-12);
    EXPECT_NEAR(p[0].bound, 10.0, 1e-9);
    EXPECT_DOUBLE_EQ(p[0].value, 6.0);
    EXPECT_DOUBLE_EQ(p[0].cost, 2.0);
    EXPECT_TRUE(p[0].feasible);
    // Above the costliest policy (cost 7) the budget does not bind.
    EXPECT_EQ(p[1].lambda, 0.0);
    EXPECT_DOUBLE_EQ(p[1].bound, 16.0);
    EXPECT_DOUBLE_EQ(p[1].value, 16.0);
    EXPECT_DOUBLE_EQ(p[1].cost, 7.0);
    // B = 1.5 splits cluster 1 (3/4 of its weight 2): bound 4.5 at lambda 3.
    EXPECT_NEAR(p[2].lambda, 3.0, 1e-12);
    EXPECT_NEAR(p[2].bound, 4.5, 1e-9);
    EXPECT_DOUBLE_EQ(p[2].value, 0.0);
    EXPECT_DOUBLE_EQ(p[2].cost, 0.0);
    // B = 0 is exactly the cheapest policy's cost: feasible, bound 0, lambda at the top slope.
    EXPECT_TRUE(p[3].feasible);
    EXPECT_NEAR(p[3].lambda, 3.0, 1e-12);
    EXPECT_NEAR(p[3].bound, 0.0, 1e-9);
}

TEST(BudgetGridCpu, BelowTheCheapestPolicyIsInfeasible) {
    // One user whose cheapest arm costs 1 (value 1); arm 1 buys 2 more for 1 more: slope 2.
    const Table t{1, 2, {1, 3}, {1, 2}, {1}};
    const std::vector<BudgetGridPoint> p = run_grid(t, {0.5, 1.0, 1.25});
    EXPECT_FALSE(p[0].feasible);
    EXPECT_DOUBLE_EQ(p[0].lambda, 4.0);  // twice the steepest slope, as the cluster solver
    EXPECT_DOUBLE_EQ(p[0].value, 1.0);
    EXPECT_DOUBLE_EQ(p[0].cost, 1.0);
    EXPECT_DOUBLE_EQ(p[0].bound, 1.0);
    EXPECT_TRUE(p[1].feasible);
    EXPECT_NEAR(p[1].bound, 1.0, 1e-12);
    EXPECT_NEAR(p[2].bound, 1.5, 1e-12);  // a quarter of the step of 2
    EXPECT_NEAR(p[2].lambda, 2.0, 1e-12);
}

TEST(BudgetGridCpu, OneArmNeverBinds) {
    const Table t{3, 1, {2, -1, 4}, {1, 2, 3}, {1, 2, 3}};  // cost 1 + 4 + 9 = 14
    const std::vector<BudgetGridPoint> p = run_grid(t, {13.0, 14.0, 20.0});
    EXPECT_FALSE(p[0].feasible);
    EXPECT_EQ(p[0].lambda, 0.0);
    for (int b = 1; b < 3; ++b) {
        EXPECT_TRUE(p[b].feasible);
        EXPECT_EQ(p[b].lambda, 0.0);
        EXPECT_DOUBLE_EQ(p[b].value, 2.0 - 2.0 + 12.0);
        EXPECT_DOUBLE_EQ(p[b].cost, 14.0);
    }
}

TEST(BudgetGridCpu, MatchesTheExactHullLp) {
    std::mt19937_64 engine(20240611);
    for (int trial = 0; trial < 60; ++trial) {
        const Table t =
            random_table(engine, 1 + int(engine() % 7), 1 + int(engine() % 5), trial % 2 == 0);
        ClusterTable table = ClusterTable::zeros(t.k, t.m);
        table.value = t.value;
        table.cost = t.cost;
        table.population = t.population;
        const MckpInstance instance = make_mckp_instance(table);
        const std::vector<double> budgets = probe_budgets(engine, t);
        const std::vector<BudgetGridPoint> p = run_grid(t, budgets);
        const double tolerance = 1e-9 * scale_of(t);
        for (size_t b = 0; b < budgets.size(); ++b) {
            SCOPED_TRACE("trial " + std::to_string(trial) + ", budget " +
                         std::to_string(budgets[b]));
            const LpSolution lp = solve_mckp_lp(instance, budgets[b]);
            ASSERT_EQ(p[b].feasible, lp.feasible);
            if (!lp.feasible) {
                EXPECT_NEAR(p[b].cost, lp.cost, tolerance);
                EXPECT_NEAR(p[b].value, lp.value, tolerance);
                continue;
            }
            EXPECT_NEAR(p[b].bound, lp.bound, tolerance);
            // lambda minimises the dual, as the LP's own multiplier does.
            EXPECT_NEAR(dual_at(t, p[b].lambda, budgets[b]), dual_at(t, lp.lambda, budgets[b]),
                        tolerance);
            if (lp.split) EXPECT_NEAR(p[b].lambda, lp.lambda, 1e-9 * std::max(1.0, lp.lambda));
            EXPECT_LE(p[b].cost, budgets[b] + tolerance);
            EXPECT_LE(p[b].value, p[b].bound + tolerance);
        }
    }
}

TEST(BudgetGridCpu, BoundsEveryAllocationByBruteForce) {
    std::mt19937_64 engine(77);
    for (int trial = 0; trial < 80; ++trial) {
        const Table t =
            random_table(engine, 1 + int(engine() % 4), 1 + int(engine() % 3), trial % 3 != 0);
        const std::vector<double> budgets = probe_budgets(engine, t);
        const std::vector<BudgetGridPoint> p = run_grid(t, budgets);
        const double tolerance = 1e-9 * scale_of(t);
        for (size_t b = 0; b < budgets.size(); ++b) {
            SCOPED_TRACE("trial " + std::to_string(trial) + ", budget " +
                         std::to_string(budgets[b]));
            const double best = brute_best_integer(t, budgets[b], 1e-12 * scale_of(t));
            ASSERT_EQ(p[b].feasible, best > -std::numeric_limits<double>::infinity());
            if (!p[b].feasible) continue;
            EXPECT_NEAR(p[b].bound, brute_lp_bound(t, budgets[b]), tolerance);
            EXPECT_GE(p[b].bound, best - tolerance);
            // The choices at lambda are one of the allocations, so never above the best.
            EXPECT_LE(p[b].value, best + tolerance);
        }
    }
}

TEST(BudgetGridCpu, LambdaFallsAndTheBoundRisesWithTheBudget) {
    std::mt19937_64 engine(5);
    for (int trial = 0; trial < 20; ++trial) {
        const Table t =
            random_table(engine, 5 + int(engine() % 40), 2 + int(engine() % 4), trial % 2 == 0);
        const double high = 1.2 * policy_cost(t, true);
        std::vector<double> budgets(101);
        for (int b = 0; b <= 100; ++b) budgets[b] = high * b / 100.0;
        const std::vector<BudgetGridPoint> p = run_grid(t, budgets);
        for (int b = 1; b <= 100; ++b) {
            SCOPED_TRACE("trial " + std::to_string(trial) + ", budget " + std::to_string(b));
            if (!p[b - 1].feasible) continue;
            EXPECT_LE(p[b].lambda, p[b - 1].lambda);
            EXPECT_GE(p[b].bound, p[b - 1].bound - 1e-12 * scale_of(t));
        }
        EXPECT_EQ(p[100].lambda, 0.0);
    }
}

TEST(BudgetGridCpu, EmptyClustersChangeNothing) {
    std::mt19937_64 engine(11);
    Table t = random_table(engine, 6, 3, false);
    for (double& n : t.population) n = std::max(n, 1.0);
    const std::vector<double> budgets = probe_budgets(engine, t);
    Table padded = t;
    padded.k += 1;
    padded.population.push_back(0.0);
    for (double v : {50.0, 100.0, -3.0}) padded.value.push_back(v);
    for (double c : {0.0, 1e-3, 9.0}) padded.cost.push_back(c);
    const std::vector<BudgetGridPoint> a = run_grid(t, budgets), b = run_grid(padded, budgets);
    for (size_t i = 0; i < budgets.size(); ++i) {
        EXPECT_EQ(a[i].lambda, b[i].lambda) << i;
        EXPECT_EQ(a[i].bound, b[i].bound) << i;
        EXPECT_EQ(a[i].value, b[i].value) << i;
        EXPECT_EQ(a[i].cost, b[i].cost) << i;
        EXPECT_EQ(a[i].feasible, b[i].feasible) << i;
    }
}

void expect_input_error(const Table& t, const std::vector<double>& budgets,
                        const std::string& expected) {
    try {
        run_grid(t, budgets);
        ADD_FAILURE() << "no InputError; expected one containing: " << expected;
    } catch (const InputError& error) {
        EXPECT_NE(std::string(error.what()).find(expected), std::string::npos) << error.what();
    }
}

TEST(BudgetGridCpu, BadInputNamesTheEntry) {
    const Table good{2, 2, {0, 1, 0, 2}, {0, 1, 0, 1}, {1, 1}};
    Table t = good;
    t.cost[3] = -1.0;
    expect_input_error(t, {1.0}, "cluster 1 arm 1 has cost -1; expected finite and >= 0");
    t = good;
    t.value[2] = std::nan("");
    expect_input_error(t, {1.0}, "cluster 1 arm 0 has value nan");
    t = good;
    t.population[0] = -2.0;
    expect_input_error(t, {1.0}, "population of cluster 0 is -2");
    expect_input_error(good, {1.0, -0.5}, "budget 1 is -0.5; expected finite and >= 0");
    t = good;
    t.m = 0;
    expect_input_error(t, {1.0}, "need K >= 1 and M >= 1, got K = 2, M = 0");
}

}  // namespace
}  // namespace ca
