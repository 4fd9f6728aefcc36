// The budget grid a cluster allocation is solved for: levels evenly spaced between 0 and the
// cost of the costliest policy (every cluster on its most expensive arm), or explicit
// fractions of that cost. Budgets are absolute, in the units of sum n_k C_kj.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "core/cluster_estimates.h"
#include "core/config.h"

namespace ca {

struct BudgetGridParams {
    /// L: budgets at fractions 0, 1/(L-1), ..., 1 of the costliest policy's cost.
    int levels = 20;
    /// Explicit fractions of the costliest policy's cost, each in [0, 1], in the order given;
    /// when non-empty they replace `levels`.
    std::vector<double> fractions;

    /// Reads the "budgets" value: an object {"levels": L} or {"fractions": [...]}, or a bare
    /// array of fractions. Negative fractions, fractions above 1, both keys at once and
    /// unknown keys are ConfigErrors naming the key.
    static BudgetGridParams from_config(const ConfigNode& node);
    nlohmann::json to_json() const;
};

struct BudgetGrid {
    /// Cost of the costliest policy, the budget at fraction 1.
    double max_cost = 0.0;
    /// Fractions of max_cost and the absolute budgets, level by level.
    std::vector<double> fractions;
    std::vector<double> budgets;
};

/// sum_k n_k max_j C_kj: spending more than this buys nothing.
double costliest_policy_cost(const ClusterTable& table);
/// sum_k n_k min_j C_kj: budgets below it are infeasible (0 when arm 0 costs nothing).
double cheapest_policy_cost(const ClusterTable& table);

BudgetGrid make_budget_grid(const BudgetGridParams& params, double max_cost);
BudgetGrid make_budget_grid(const BudgetGridParams& params, const ClusterTable& table);

}  // namespace ca
