// Individual dual solver against brute force over all choices on tiny instances, its budget
// ends, the serving path and bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "core/errors.h"
#include "core/individual_solver.h"
#include "kernels/backend.h"

namespace ca {
namespace {

struct Matrices {
    int64_t n = 0;
    int m = 0;
    std::vector<float> value, cost;
};

// Values and costs on a coarse grid (ties happen); arm 0 is free when free_control is set.
Matrices random_matrices(int64_t n, int m, bool free_control, std::mt19937_64& rng) {
    Matrices data{n, m, {}, {}};
    for (int64_t i = 0; i < n; ++i) {
        for (int j = 0; j < m; ++j) {
            data.value.push_back(float(rng() % 17) / 8.0f);
            data.cost.push_back(j == 0 && free_control ? 0.0f : float(rng() % 9) / 4.0f);
        }
    }
    return data;
}

struct Totals {
    double value = 0.0, cost = 0.0;
};

Totals totals_of(const Matrices& data, const std::vector<int32_t>& choices) {
    Totals totals;
    for (int64_t i = 0; i < data.n; ++i) {
        totals.value += data.value[size_t(i * data.m + choices[size_t(i)])];
        totals.cost += data.cost[size_t(i * data.m + choices[size_t(i)])];
    }
    return totals;
}

// Visits all M^N choice vectors.
template <typename Visit>
void for_each_choice(const Matrices& data, Visit visit) {
    std::vector<int32_t> choices(size_t(data.n), 0);
    while (true) {
        visit(choices);
        size_t digit = 0;
        while (digit < choices.size() && ++choices[digit] == data.m) choices[digit++] = 0;
        if (digit == choices.size()) break;
    }
}

double best_value_within(const Matrices& data, double budget) {
    double best = -std::numeric_limits<double>::infinity();
    for_each_choice(data, [&](const std::vector<int32_t>& choices) {
        Totals totals = totals_of(data, choices);
        if (totals.cost <= budget + 1e-9) best = std::max(best, totals.value);
    });
    return best;
}

double best_lagrangian(const Matrices& data, float lambda) {
    double best = -std::numeric_limits<double>::infinity();
    for_each_choice(data, [&](const std::vector<int32_t>& choices) {
        double total = 0.0;
        for (int64_t i = 0; i < data.n; ++i) {
            size_t at = size_t(i * data.m + choices[size_t(i)]);
            total += double(data.value[at] - lambda * data.cost[at]);
        }
        best = std::max(best, total);
    });
    return best;
}

double max_cost(const Matrices& data) {
    double total = 0.0;
    for (int64_t i = 0; i < data.n; ++i) {
        float highest = 0.0f;
        for (int j = 0; j < data.m; ++j)
            highest = std::max(highest, data.cost[size_t(i * data.m + j)]);
        total += highest;
    }
    return total;
}

TEST(IndividualSolverBruteForce, LagrangianOptimalAndWithinBudget) {
    std::mt19937_64 rng(31);
    for (int instance = 0; instance < 100; ++instance) {
        int64_t n = 1 + int64_t(rng() % 5);
        int m = 1 + int(rng() % 3);
        Matrices data = random_matrices(n, m, rng() % 4 != 0, rng);
        double top = max_cost(data);
        for (double budget : {0.0, 0.3 * top, 0.6 * top, top, top + 1.0}) {
            SCOPED_TRACE("instance " + std::to_string(instance) + " budget " +
                         std::to_string(budget));
            IndividualAllocation result =
                solve_individual(data.value.data(), data.cost.data(), n, m, budget, cpu_backend());
            ASSERT_EQ(result.choices.size(), size_t(n));
            Totals totals = totals_of(data, result.choices);
            EXPECT_NEAR(result.value, totals.value, 1e-6);
            EXPECT_NEAR(result.cost, totals.cost, 1e-6);
            double feasible_best = best_value_within(data, budget);
            if (!std::isfinite(feasible_best)) {
                EXPECT_FALSE(result.feasible);
                continue;
            }
            ASSERT_TRUE(result.feasible);
            EXPECT_LE(result.cost, budget + 1e-9);
            EXPECT_LE(result.value, feasible_best + 1e-6);
            // The choices maximise the Lagrangian at the reported lambda (as the backend
            // evaluates it, in float) ...
            float lambda = float(result.lambda);
            EXPECT_NEAR(result.value - double(lambda) * result.cost, best_lagrangian(data, lambda),
                        1e-4);
            // ... so they are optimal for the budget they spend (Everett 1963).
            EXPECT_NEAR(result.value, best_value_within(data, result.cost), 1e-6);
        }
    }
}

TEST(IndividualSolverEnds, BudgetAboveMaxCostAndZeroBudget) {
    std::mt19937_64 rng(8);
    Matrices data = random_matrices(50, 4, true, rng);
    IndividualAllocation all = solve_individual(data.value.data(), data.cost.data(), data.n, data.m,
                                                max_cost(data), cpu_backend());
    EXPECT_EQ(all.lambda, 0.0);
    for (int64_t i = 0; i < data.n; ++i) {
        float chosen = data.value[size_t(i * data.m + all.choices[size_t(i)])];
        for (int j = 0; j < data.m; ++j) EXPECT_GE(chosen, data.value[size_t(i * data.m + j)]);
    }

    IndividualAllocation none =
        solve_individual(data.value.data(), data.cost.data(), data.n, data.m, 0.0, cpu_backend());
    EXPECT_TRUE(none.feasible);
    EXPECT_EQ(none.cost, 0.0);
    EXPECT_TRUE(std::isfinite(none.lambda));
    for (int64_t i = 0; i < data.n; ++i)
        EXPECT_EQ(data.cost[size_t(i * data.m + none.choices[size_t(i)])], 0.0f);
}

TEST(IndividualSolverEnds, NoFreeArmMakesZeroBudgetInfeasible) {
    Matrices data{2, 2, {1.0f, 2.0f, 1.0f, 3.0f}, {0.5f, 1.0f, 0.25f, 2.0f}};
    IndividualAllocation result =
        solve_individual(data.value.data(), data.cost.data(), 2, 2, 0.0, cpu_backend());
    EXPECT_FALSE(result.feasible);
    EXPECT_EQ(result.choices, std::vector<int32_t>({0, 0}));
    EXPECT_DOUBLE_EQ(result.cost, 0.75);
}

TEST(IndividualSolverTolerance, SpendsCloseToTheBudgetOnManyUsers) {
    std::mt19937_64 rng(12);
    Matrices data{20000, 5, {}, {}};
    for (int64_t i = 0; i < data.n; ++i) {
        for (int j = 0; j < data.m; ++j) {
            data.value.push_back(float(j) * float(rng() % 100000) / 1e5f);
            data.cost.push_back(float(j) * (0.5f + float(rng() % 100000) / 1e5f));
        }
    }
    double budget = 0.3 * max_cost(data);
    IndividualAllocation result = solve_individual(data.value.data(), data.cost.data(), data.n,
                                                   data.m, budget, cpu_backend());
    EXPECT_TRUE(result.converged);
    EXPECT_LE(result.cost, budget);
    // Each user moves the spend by at most ~6, a tiny share of the budget.
    EXPECT_GE(result.cost, budget * (1.0 - 1e-3));
    EXPECT_LE(result.passes, IndividualSolverParams{}.max_passes + 1);
}

TEST(IndividualSolverServing, ChoicesAtAFixedLambda) {
    std::mt19937_64 rng(3);
    Matrices data = random_matrices(200, 4, true, rng);
    for (double lambda : {0.0, 0.5, 1.25, 100.0}) {
        IndividualAllocation result = allocate_at_lambda(data.value.data(), data.cost.data(),
                                                         data.n, data.m, lambda, cpu_backend());
        for (int64_t i = 0; i < data.n; ++i) {
            int best = 0;
            for (int j = 1; j < data.m; ++j) {
                size_t at = size_t(i * data.m + j), at_best = size_t(i * data.m + best);
                if (data.value[at] - float(lambda) * data.cost[at] >
                    data.value[at_best] - float(lambda) * data.cost[at_best])
                    best = j;
            }
            EXPECT_EQ(result.choices[size_t(i)], best) << "user " << i << " lambda " << lambda;
        }
    }
}

TEST(IndividualSolverBadInput, NegativeBudgetOrCost) {
    Matrices data{1, 2, {1.0f, 2.0f}, {0.0f, 1.0f}};
    try {
        solve_individual(data.value.data(), data.cost.data(), 1, 2, -1.0, cpu_backend());
        FAIL() << "negative budget accepted";
    } catch (const InputError& error) {
        EXPECT_NE(std::string(error.what()).find("budget must be >= 0, got -1"), std::string::npos);
    }
    data.cost[1] = -1.0f;
    try {
        solve_individual(data.value.data(), data.cost.data(), 1, 2, 1.0, cpu_backend());
        FAIL() << "negative cost accepted";
    } catch (const InputError& error) {
        EXPECT_NE(std::string(error.what()).find("user 0 (0-based), arm 1"), std::string::npos)
            << error.what();
    }
    EXPECT_THROW(allocate_at_lambda(data.value.data(), data.cost.data(), 1, 2, -0.5, cpu_backend()),
                 InputError);
}

}  // namespace
}  // namespace ca
