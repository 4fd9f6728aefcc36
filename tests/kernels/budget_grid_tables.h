// Random cluster tables and the budget-grid pass over them, shared by the CPU tests and the GPU
// parity tests so that both draw the same kinds of tables (ties, empty clusters).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/backend.h"

namespace ca::testing {

struct Table {
    int k = 0;
    int m = 0;
    std::vector<double> value, cost, population;  ///< K x M, K x M, K
};

// About one cluster in seven empty; integer-valued tables make ties between arms and between
// slopes common.
inline Table random_table(std::mt19937_64& engine, int k, int m, bool integers) {
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    Table t{k, m, std::vector<double>(size_t(k) * m), std::vector<double>(size_t(k) * m),
            std::vector<double>(size_t(k))};
    for (int c = 0; c < k; ++c) {
        t.population[c] = uniform(engine) < 0.15 ? 0.0 : std::floor(1.0 + 20.0 * uniform(engine));
        for (int j = 0; j < m; ++j) {
            const double v = 10.0 * uniform(engine) - 2.0, w = 5.0 * uniform(engine);
            t.value[size_t(c) * m + j] = integers ? std::round(v) : v;
            t.cost[size_t(c) * m + j] = integers ? std::round(w) : w;
        }
    }
    return t;
}

inline Table random_table(uint64_t seed, int k, int m, bool integers) {
    std::mt19937_64 engine(seed);
    return random_table(engine, k, m, integers);
}

// Spend of giving every cluster its cheapest (or costliest) arm.
inline double policy_cost(const Table& t, bool costliest) {
    double total = 0.0;
    for (int c = 0; c < t.k; ++c) {
        const auto first = t.cost.begin() + size_t(c) * t.m, last = first + t.m;
        total += t.population[c] *
                 (costliest ? *std::max_element(first, last) : *std::min_element(first, last));
    }
    return total;
}

// 1 + sum_k n_k sum_j (|value| + cost): the size the tolerances are stated against.
inline double scale_of(const Table& t) {
    double scale = 1.0;
    for (size_t i = 0; i < t.value.size(); ++i)
        scale += t.population[i / size_t(t.m)] * (std::fabs(t.value[i]) + t.cost[i]);
    return scale;
}

inline std::vector<BudgetGridPoint> run_grid(Backend& backend, const Table& t,
                                             const std::vector<double>& budgets) {
    std::vector<BudgetGridPoint> out(budgets.size());
    backend.budget_grid(t.value.data(), t.cost.data(), t.population.data(), t.k, t.m,
                        budgets.data(), int(budgets.size()), BudgetGridSearch{}, out.data());
    return out;
}

}  // namespace ca::testing
