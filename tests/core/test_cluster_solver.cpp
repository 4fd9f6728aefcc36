// Cluster solver against exhaustive enumeration, the LP bound checked through the Lagrangian
// dual, the BC-14 budget ends, the exact branch and bound, and the budget grid.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/budget_grid.h"
#include "core/cluster_solver.h"
#include "core/csv_reader.h"
#include "core/errors.h"
#include "core/exact_mckp.h"

namespace ca {
namespace {

std::string test_data(const std::string& name) {
    const char* folder = std::getenv("CA_TEST_DATA");
    return std::string(folder ? folder : "tests/data") + "/" + name;
}

// BC-14 layout: cluster, n, treatment, value, cost; K = 3, M = 3.
ClusterTable read_bc14() {
    ClusterTable table = ClusterTable::zeros(3, 3);
    read_csv_file(test_data("BC-14.csv"), [&](const CsvRecord& record) {
        if (record.line == 1) return true;
        auto number = [&](int j) { return std::stod(std::string(record.fields[size_t(j)])); };
        int cluster = int(number(0)), arm = int(number(2));
        table.population[size_t(cluster)] = number(1);
        table.value[table.index(cluster, arm)] = number(3);
        table.cost[table.index(cluster, arm)] = number(4);
        return true;
    });
    return table;
}

struct Enumerated {
    double value = -std::numeric_limits<double>::infinity();
    double cheapest_cost = std::numeric_limits<double>::infinity();
};

// Best sum n_k R_kj over all M^K assignments with cost within the budget.
Enumerated enumerate_all(const ClusterTable& table, double budget) {
    Enumerated best;
    std::vector<int> arms(size_t(table.k), 0);
    while (true) {
        double value = 0.0, cost = 0.0;
        for (int c = 0; c < table.k; ++c) {
            value += table.population[size_t(c)] * table.value[table.index(c, arms[size_t(c)])];
            cost += table.population[size_t(c)] * table.cost[table.index(c, arms[size_t(c)])];
        }
        best.cheapest_cost = std::min(best.cheapest_cost, cost);
        if (cost <= budget * (1.0 + 1e-12) + 1e-12) best.value = std::max(best.value, value);
        size_t digit = 0;
        while (digit < arms.size() && ++arms[digit] == table.m) arms[digit++] = 0;
        if (digit == arms.size()) break;
    }
    return best;
}

// Lagrangian dual: sum_k max_j n_k (R_kj - lambda C_kj) + lambda B, an upper bound on the LP
// for every lambda >= 0 and equal to it at the optimal lambda.
double lagrangian_bound(const ClusterTable& table, double lambda, double budget) {
    double total = lambda * budget;
    for (int c = 0; c < table.k; ++c) {
        double best = -std::numeric_limits<double>::infinity();
        for (int j = 0; j < table.m; ++j) {
            double n = table.population[size_t(c)];
            best = std::max(best, n * (table.value[table.index(c, j)] -
                                       lambda * table.cost[table.index(c, j)]));
        }
        total += best;
    }
    return total;
}

double policy_cost(const ClusterTable& table, const std::vector<int>& arms) {
    double total = 0.0;
    for (int c = 0; c < table.k; ++c)
        total += table.population[size_t(c)] * table.cost[table.index(c, arms[size_t(c)])];
    return total;
}

double policy_value(const ClusterTable& table, const std::vector<int>& arms) {
    double total = 0.0;
    for (int c = 0; c < table.k; ++c)
        total += table.population[size_t(c)] * table.value[table.index(c, arms[size_t(c)])];
    return total;
}

// Random small tables. Coarse values on a grid make ties common; some populations are 0, and
// arm 0 costs nothing in most (not all) tables.
ClusterTable random_table(std::mt19937_64& rng) {
    int k = 1 + int(rng() % 6), m = 1 + int(rng() % 4);
    bool coarse = rng() % 2 == 0;
    bool free_control = rng() % 4 != 0;
    ClusterTable table = ClusterTable::zeros(k, m);
    auto draw = [&](int levels) {
        return coarse ? double(rng() % 5) / 4.0 : double(rng() % levels) / double(levels);
    };
    for (int c = 0; c < k; ++c) {
        table.population[size_t(c)] = rng() % 7 == 0 ? 0.0 : double(1 + rng() % 100);
        for (int j = 0; j < m; ++j) {
            table.value[table.index(c, j)] = draw(100000) - (rng() % 5 == 0 ? 0.3 : 0.0);
            table.cost[table.index(c, j)] = (j == 0 && free_control) ? 0.0 : draw(100000);
        }
    }
    return table;
}

void check_against_enumeration(const ClusterTable& table, double budget, const std::string& what) {
    SCOPED_TRACE(what + " budget " + std::to_string(budget));
    Enumerated best = enumerate_all(table, budget);
    ClusterAllocation allocation = solve_cluster_allocation(table, budget);
    double scale = 1.0 + std::abs(best.value);
    if (best.cheapest_cost > budget * (1.0 + 1e-12) + 1e-12) {
        EXPECT_FALSE(allocation.feasible);
        EXPECT_NEAR(allocation.cost, best.cheapest_cost, 1e-9 * (1.0 + best.cheapest_cost));
        return;
    }
    ASSERT_TRUE(allocation.feasible);
    EXPECT_TRUE(allocation.exact);
    EXPECT_NEAR(allocation.value, best.value, 1e-9 * scale);
    EXPECT_NEAR(allocation.value, policy_value(table, allocation.arms), 1e-9 * scale);
    EXPECT_NEAR(allocation.cost, policy_cost(table, allocation.arms), 1e-9 * (1.0 + budget));
    EXPECT_LE(allocation.cost, budget * (1.0 + 1e-12) + 1e-12);

    // The LP bound is at least the integer optimum, and the gap is what is left between them.
    EXPECT_GE(allocation.lp_bound, best.value - 1e-9 * scale);
    EXPECT_GE(allocation.duality_gap, 0.0);
    EXPECT_NEAR(allocation.duality_gap, allocation.lp_bound - allocation.value, 1e-9 * scale);

    // The LP solution (integral part plus split) spends at most B, exactly B when it splits,
    // and is worth lp_bound: primal feasibility.
    double lp_cost = policy_cost(table, allocation.lp_arms);
    double lp_value = policy_value(table, allocation.lp_arms);
    if (allocation.split) {
        const SplitCluster& split = *allocation.split;
        double n = table.population[size_t(split.cluster)];
        EXPECT_EQ(allocation.lp_arms[size_t(split.cluster)], split.arm_low);
        EXPECT_GT(split.fraction, 0.0);
        EXPECT_LT(split.fraction, 1.0);
        lp_cost += split.fraction * n *
                   (table.cost[table.index(split.cluster, split.arm_high)] -
                    table.cost[table.index(split.cluster, split.arm_low)]);
        lp_value += split.fraction * n *
                    (table.value[table.index(split.cluster, split.arm_high)] -
                     table.value[table.index(split.cluster, split.arm_low)]);
        EXPECT_NEAR(lp_cost, budget, 1e-9 * (1.0 + budget));
    }
    EXPECT_LE(lp_cost, budget * (1.0 + 1e-12) + 1e-12);
    EXPECT_NEAR(lp_value, allocation.lp_bound, 1e-9 * scale);
    // ... and the Lagrangian at the reported lambda matches it: dual feasibility, so the
    // bound is the LP optimum. No other lambda gives a lower dual bound.
    ASSERT_TRUE(std::isfinite(allocation.lambda));
    EXPECT_GE(allocation.lambda, 0.0);
    EXPECT_NEAR(lagrangian_bound(table, allocation.lambda, budget), allocation.lp_bound,
                1e-9 * scale);
    for (double other : {0.0, 0.5 * allocation.lambda, 2.0 * allocation.lambda + 0.1, 7.0})
        EXPECT_GE(lagrangian_bound(table, other, budget), allocation.lp_bound - 1e-9 * scale);
}

TEST(ClusterSolverEnumeration, RandomSmallTables) {
    std::mt19937_64 rng(2024);
    for (int instance = 0; instance < 300; ++instance) {
        ClusterTable table = random_table(rng);
        double top = costliest_policy_cost(table);
        std::vector<double> budgets = {0.0, top, 2.0 * top + 1.0};
        for (int b = 0; b < 5; ++b) budgets.push_back(top * double(rng() % 1000) / 1000.0);
        for (double budget : budgets)
            check_against_enumeration(table, budget, "instance " + std::to_string(instance));
    }
}

TEST(ClusterSolverEnumeration, ExactSearchAloneMatches) {
    std::mt19937_64 rng(77);
    for (int instance = 0; instance < 200; ++instance) {
        ClusterTable table = random_table(rng);
        double budget = costliest_policy_cost(table) * double(rng() % 1000) / 1000.0;
        Enumerated best = enumerate_all(table, budget);
        if (!std::isfinite(best.value)) continue;  // infeasible budget
        ExactMckpResult exact = solve_mckp_exact(make_mckp_instance(table), budget, {}, 1000000);
        ASSERT_TRUE(exact.proven);
        EXPECT_NEAR(exact.value, best.value, 1e-9 * (1.0 + std::abs(best.value)))
            << "instance " << instance;
        EXPECT_LE(exact.cost, budget * (1.0 + 1e-12) + 1e-12);
    }
}

TEST(ClusterSolverBC14, EveryBudgetOfTheCase) {
    ClusterTable table = read_bc14();
    struct Expected {
        double budget;
        std::vector<int> arms;
        double value, cost;
    };
    const std::vector<Expected> cases = {
        {0.0, {0, 0, 0}, 30.0, 0.0},     {25.0, {0, 1, 0}, 35.0, 25.0},
        {100.0, {1, 2, 0}, 40.5, 100.0}, {250.0, {0, 2, 2}, 65.5, 250.0},
        {350.0, {2, 2, 2}, 73.5, 350.0}, {1e9, {2, 2, 2}, 73.5, 350.0}};
    for (const Expected& expected : cases) {
        SCOPED_TRACE("budget " + std::to_string(expected.budget));
        ClusterAllocation allocation = solve_cluster_allocation(table, expected.budget);
        EXPECT_EQ(allocation.arms, expected.arms);
        EXPECT_NEAR(allocation.value, expected.value, 1e-9);
        EXPECT_NEAR(allocation.cost, expected.cost, 1e-9);
        EXPECT_TRUE(allocation.exact);
        EXPECT_TRUE(std::isfinite(allocation.lambda));
    }

    // B = 0: lambda finite and above the largest incremental ratio 0.10 / 0.5 = 0.2.
    ClusterAllocation nothing = solve_cluster_allocation(table, 0.0);
    EXPECT_GT(nothing.lambda, 0.2);
    EXPECT_EQ(nothing.duality_gap, 0.0);
    // B at or above the maximum cost: lambda 0, gap 0, no search needed.
    for (double budget : {350.0, 1e9}) {
        ClusterAllocation all = solve_cluster_allocation(table, budget);
        EXPECT_EQ(all.lambda, 0.0);
        EXPECT_EQ(all.duality_gap, 0.0);
        EXPECT_EQ(all.nodes, 0);
        EXPECT_FALSE(all.split.has_value());
    }
    EXPECT_DOUBLE_EQ(costliest_policy_cost(table), 350.0);

    try {
        solve_cluster_allocation(table, -1.0);
        FAIL() << "negative budget accepted";
    } catch (const InputError& error) {
        EXPECT_NE(std::string(error.what()).find("budget must be >= 0, got -1"), std::string::npos)
            << error.what();
    }
    EXPECT_THROW(solve_budget_grid(table, {10.0, -1.0}), InputError);
}

TEST(ClusterSolverBC14, EveryRowAgreesWithEnumeration) {
    ClusterTable table = read_bc14();
    for (double budget : {0.0, 25.0, 100.0, 250.0, 350.0, 1e9})
        check_against_enumeration(table, budget, "BC-14");
}

TEST(ClusterSolverBadInput, NegativeAndNonFiniteEntries) {
    ClusterTable table = read_bc14();
    table.cost[table.index(2, 1)] = -0.5;
    try {
        solve_cluster_allocation(table, 10.0);
        FAIL() << "negative cost accepted";
    } catch (const InputError& error) {
        std::string message = error.what();
        EXPECT_NE(message.find("cluster 2 arm 1"), std::string::npos) << message;
        EXPECT_NE(message.find("-0.5"), std::string::npos) << message;
    }
    table = read_bc14();
    table.value[table.index(0, 2)] = std::numeric_limits<double>::quiet_NaN();
    EXPECT_THROW(solve_cluster_allocation(table, 10.0), InputError);
    table = read_bc14();
    table.population[1] = -1.0;
    EXPECT_THROW(solve_cluster_allocation(table, 10.0), InputError);
    EXPECT_THROW(solve_cluster_allocation(read_bc14(), std::nan("")), InputError);
}

TEST(ClusterSolverGrid, MatchesOneBudgetAtATime) {
    std::mt19937_64 rng(5);
    ClusterTable table = ClusterTable::zeros(40, 5);
    for (int c = 0; c < table.k; ++c) {
        table.population[size_t(c)] = double(10 + rng() % 1000);
        for (int j = 0; j < table.m; ++j) {
            table.value[table.index(c, j)] = double(rng() % 1000) / 1000.0;
            table.cost[table.index(c, j)] = j == 0 ? 0.0 : double(rng() % 1000) / 1000.0;
        }
    }
    BudgetGrid grid = make_budget_grid(BudgetGridParams{}, table);
    std::vector<ClusterAllocation> allocations = solve_budget_grid(table, grid.budgets);
    ASSERT_EQ(allocations.size(), grid.budgets.size());
    double previous_value = -std::numeric_limits<double>::infinity();
    for (size_t i = 0; i < allocations.size(); ++i) {
        ClusterAllocation single = solve_cluster_allocation(table, grid.budgets[i]);
        EXPECT_EQ(allocations[i].arms, single.arms);
        EXPECT_EQ(allocations[i].value, single.value);
        EXPECT_TRUE(allocations[i].exact);
        // More budget never buys less.
        EXPECT_GE(allocations[i].value, previous_value);
        previous_value = allocations[i].value;
    }
    // Lambda falls as the budget grows and is 0 at the top.
    for (size_t i = 1; i < allocations.size(); ++i)
        EXPECT_LE(allocations[i].lambda, allocations[i - 1].lambda);
    EXPECT_EQ(allocations.back().lambda, 0.0);
    EXPECT_EQ(allocations.back().duality_gap, 0.0);
    EXPECT_EQ(allocations.front().duality_gap, 0.0);
}

TEST(BudgetGrid, DefaultLevelsFromZeroToTheCostliestPolicy) {
    ClusterTable table = read_bc14();
    BudgetGrid grid = make_budget_grid(BudgetGridParams{}, table);
    ASSERT_EQ(grid.budgets.size(), 20u);
    EXPECT_DOUBLE_EQ(grid.max_cost, 350.0);
    EXPECT_EQ(grid.budgets.front(), 0.0);
    EXPECT_EQ(grid.budgets.back(), 350.0);
    for (size_t i = 0; i < grid.budgets.size(); ++i) {
        EXPECT_NEAR(grid.fractions[i], double(i) / 19.0, 1e-15);
        EXPECT_NEAR(grid.budgets[i], 350.0 * double(i) / 19.0, 1e-9);
    }
    EXPECT_EQ(cheapest_policy_cost(table), 0.0);
}

TEST(BudgetGrid, ConfigForms) {
    auto levels =
        ConfigNode::from_json(nlohmann::json::parse(R"({"budgets": {"levels": 5}})"), "run.json");
    BudgetGrid five = make_budget_grid(BudgetGridParams::from_config(levels.child("budgets")), 8.0);
    EXPECT_EQ(five.budgets, std::vector<double>({0.0, 2.0, 4.0, 6.0, 8.0}));

    auto listed = ConfigNode::from_json(
        nlohmann::json::parse(R"({"budgets": {"fractions": [0.5, 0.25, 1]}})"), "run.json");
    BudgetGrid three =
        make_budget_grid(BudgetGridParams::from_config(listed.child("budgets")), 8.0);
    EXPECT_EQ(three.budgets, std::vector<double>({4.0, 2.0, 8.0}));

    auto bare =
        ConfigNode::from_json(nlohmann::json::parse(R"({"budgets": [0, 0.75]})"), "run.json");
    BudgetGrid two = make_budget_grid(BudgetGridParams::from_config(bare.child("budgets")), 8.0);
    EXPECT_EQ(two.budgets, std::vector<double>({0.0, 6.0}));
}

void expect_config_error(const std::string& text, const std::string& key,
                         const std::string& detail) {
    auto root = ConfigNode::from_json(nlohmann::json::parse(text), "run.json");
    try {
        BudgetGridParams::from_config(root.child("budgets"));
        FAIL() << "accepted " << text;
    } catch (const ConfigError& error) {
        std::string message = error.what();
        EXPECT_NE(message.find("run.json: " + key), std::string::npos) << message;
        EXPECT_NE(message.find(detail), std::string::npos) << message;
    }
}

TEST(BudgetGrid, BadConfigNamesTheKey) {
    expect_config_error(R"({"budgets": {"fractions": [0.5, -0.1]}})", "budgets.fractions[1]",
                        "-0.1 is negative");
    expect_config_error(R"({"budgets": {"fractions": [1.5]}})", "budgets.fractions[0]",
                        "1.5 is above 1");
    expect_config_error(R"({"budgets": [0.2, 0.4, 2]})", "budgets[2]", "2 is above 1");
    expect_config_error(R"({"budgets": [0.2, "half"]})", "budgets[1]", "expected a number");
    expect_config_error(R"({"budgets": {"levels": 5, "fractions": [0.5]}})", "budgets.fractions",
                        "not both");
    expect_config_error(R"({"budgets": {"levels": 1}})", "budgets.levels", "outside [2,");
    expect_config_error(R"({"budgets": {"level": 5}})", "budgets.level", "unknown key");
    expect_config_error(R"({"budgets": []})", "budgets", "empty");
}

TEST(ClusterSolverConfig, NodeLimitAndBudgets) {
    auto root = ConfigNode::from_json(
        nlohmann::json::parse(R"({"solver": {"node_limit": 50, "budgets": {"levels": 3}}})"),
        "run.json");
    ClusterSolverParams params = ClusterSolverParams::from_config(root.child("solver"));
    EXPECT_EQ(params.node_limit, 50);
    EXPECT_EQ(params.budgets.levels, 3);
    EXPECT_EQ(params.to_json()["budgets"]["levels"], 3);
}

}  // namespace
}  // namespace ca
