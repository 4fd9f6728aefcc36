// The budgeted allocation over clusters: one arm per cluster, maximising sum n_k R_kj subject
// to sum n_k C_kj <= B. The LP over the hull segments gives lambda, the bound and the split;
// the rounded LP plus a greedy fix-up gives the allocation, and the branch and bound proves or
// improves it whenever the duality gap is not zero.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "core/budget_grid.h"
#include "core/cluster_estimates.h"
#include "core/config.h"
#include "core/mckp_lp.h"

namespace ca {

struct ClusterSolverParams {
    /// Branch-and-bound nodes per budget before the search stops unproven (with a warning).
    int64_t node_limit = 200000;
    /// The budget grid of solve_budget_grid's callers.
    BudgetGridParams budgets;

    /// Reads the "solver" object: node_limit and budgets (see BudgetGridParams).
    static ClusterSolverParams from_config(const ConfigNode& node);
    nlohmann::json to_json() const;
};

struct ClusterAllocation {
    /// B, the budget solved for.
    double budget = 0.0;
    /// K arms of the integer allocation.
    std::vector<int> arms;
    /// sum n_k R_kj and sum n_k C_kj of `arms`.
    double value = 0.0;
    double cost = 0.0;
    /// Dual multiplier of the budget (value per unit of cost at the margin); 0 when the
    /// budget does not bind. Always finite.
    double lambda = 0.0;
    /// LP optimum, an upper bound on every allocation within B.
    double lp_bound = 0.0;
    /// lp_bound - value, >= 0.
    double duality_gap = 0.0;
    /// K arms of the LP optimum's integral part (the split cluster on its arm_low); with the
    /// split deployed (by hashing user ids) this spends exactly B.
    std::vector<int> lp_arms;
    /// The one cluster the LP optimum divides between two arms, if any.
    std::optional<SplitCluster> split;
    /// True when `arms` is proven optimal (zero gap, or the branch and bound finished); false
    /// for an infeasible budget.
    bool exact = false;
    /// False when B is below the cheapest policy's cost; `arms` is then that policy.
    bool feasible = true;
    /// Branch-and-bound nodes visited (0 when the gap was zero).
    int64_t nodes = 0;
};

/// Solves one budget. Throws InputError for B < 0 or not finite ("budget must be >= 0, got
/// -1"), and for a table with negative or non-finite costs, values or populations.
ClusterAllocation solve_cluster_allocation(const ClusterTable& table, double budget,
                                           const ClusterSolverParams& params = {});

/// Solves every budget (OpenMP-parallel over budgets); every budget is checked first.
std::vector<ClusterAllocation> solve_budget_grid(const ClusterTable& table,
                                                 const std::vector<double>& budgets,
                                                 const ClusterSolverParams& params = {});

}  // namespace ca
