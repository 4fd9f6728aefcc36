// Cluster solver driver: checks, the LP, the greedy fix-up, the exact search when the gap is
// open, and the parallel sweep over a budget grid.
#include "core/cluster_solver.h"

#include <cmath>
#include <exception>
#include <limits>
#include <sstream>

#include "core/errors.h"
#include "core/exact_mckp.h"
#include "core/log.h"

namespace ca {

ClusterSolverParams ClusterSolverParams::from_config(const ConfigNode& node) {
    node.allow_only({"node_limit", "budgets"});
    ClusterSolverParams params;
    params.node_limit =
        node.integer_in("node_limit", long(params.node_limit), 1, std::numeric_limits<long>::max());
    params.budgets = BudgetGridParams::from_config(node.child("budgets"));
    return params;
}

nlohmann::json ClusterSolverParams::to_json() const {
    return {{"node_limit", node_limit}, {"budgets", budgets.to_json()}};
}

namespace {

void check_size(size_t actual, size_t expected, const char* what) {
    if (actual != expected)
        CA_THROW(InputError, "cluster table: " << what << " has " << actual << " entries, expected "
                                               << expected);
}

void check_table(const ClusterTable& table) {
    if (table.k < 1 || table.m < 1)
        CA_THROW(InputError, "cluster table: need K >= 1 and M >= 1, got K = "
                                 << table.k << ", M = " << table.m);
    size_t cells = size_t(table.k) * size_t(table.m);
    check_size(table.population.size(), size_t(table.k), "population");
    check_size(table.value.size(), cells, "value");
    check_size(table.cost.size(), cells, "cost");
    for (int c = 0; c < table.k; ++c) {
        double size = table.population[size_t(c)];
        if (!std::isfinite(size) || size < 0.0)
            CA_THROW(InputError, "cluster table: population of cluster "
                                     << c << " is " << size << "; expected a count >= 0");
        for (int j = 0; j < table.m; ++j) {
            double value = table.value[table.index(c, j)];
            double cost = table.cost[table.index(c, j)];
            if (!std::isfinite(value) || !std::isfinite(cost))
                CA_THROW(InputError, "cluster table: cluster " << c << " arm " << j << " has value "
                                                               << value << " and cost " << cost
                                                               << "; both must be finite");
            if (cost < 0.0)
                CA_THROW(InputError, "cluster table: cluster " << c << " arm " << j << " has cost "
                                                               << cost << "; costs must be >= 0");
        }
    }
}

void check_budget(double budget) {
    if (!std::isfinite(budget) || budget < 0.0)
        CA_THROW(InputError, "budget must be >= 0, got " << budget);
}

ClusterAllocation infeasible_allocation(const MckpInstance& instance, const LpSolution& lp,
                                        double budget) {
    ClusterAllocation allocation;
    allocation.budget = budget;
    allocation.arms = lp.arms;
    allocation.lp_arms = lp.arms;
    allocation.value = lp.value;
    allocation.cost = lp.cost;
    allocation.lp_bound = lp.value;
    // Above twice the steepest slope every cluster stays on its cheapest arm.
    allocation.lambda = instance.segments.empty() ? 0.0 : 2.0 * instance.segments.front().slope;
    allocation.exact = false;
    allocation.feasible = false;
    std::ostringstream message;
    message << "cluster solver: budget " << budget << " is below the cheapest policy's cost "
            << lp.cost << "; reporting that policy, which overspends";
    log_warning(message.str());
    return allocation;
}

ClusterAllocation solve_instance(const MckpInstance& instance, double budget,
                                 const ClusterSolverParams& params) {
    LpSolution lp = solve_mckp_lp(instance, budget);
    if (!lp.feasible) return infeasible_allocation(instance, lp, budget);

    ClusterAllocation allocation;
    allocation.budget = budget;
    allocation.lambda = lp.lambda;
    allocation.lp_bound = lp.bound;
    allocation.lp_arms = lp.arms;
    allocation.split = lp.split;
    allocation.arms = fill_leftover_budget(instance, lp.arms, budget);
    allocation.value = policy_profit(instance, allocation.arms);
    allocation.exact = allocation.lp_bound - allocation.value <= instance.profit_tolerance();

    if (!allocation.exact) {
        ExactMckpResult exact =
            solve_mckp_exact(instance, budget, allocation.arms, params.node_limit);
        if (exact.value > allocation.value) {
            allocation.arms = exact.arms;
            allocation.value = exact.value;
        }
        allocation.exact = exact.proven;
        allocation.nodes = exact.nodes;
    }
    allocation.cost = policy_weight(instance, allocation.arms);
    allocation.duality_gap = std::max(0.0, allocation.lp_bound - allocation.value);
    if (allocation.duality_gap <= instance.profit_tolerance()) allocation.duality_gap = 0.0;

    std::ostringstream line;
    line << "cluster solver: B " << budget << ", value " << allocation.value << ", cost "
         << allocation.cost << ", lambda " << allocation.lambda << ", gap "
         << allocation.duality_gap << ", " << allocation.nodes << " nodes";
    log_debug(line.str());
    return allocation;
}

}  // namespace

ClusterAllocation solve_cluster_allocation(const ClusterTable& table, double budget,
                                           const ClusterSolverParams& params) {
    check_budget(budget);
    check_table(table);
    return solve_instance(make_mckp_instance(table), budget, params);
}

std::vector<ClusterAllocation> solve_budget_grid(const ClusterTable& table,
                                                 const std::vector<double>& budgets,
                                                 const ClusterSolverParams& params) {
    for (double budget : budgets) check_budget(budget);
    check_table(table);
    double start = wall_seconds();
    MckpInstance instance = make_mckp_instance(table);
    std::vector<ClusterAllocation> allocations(budgets.size());
    std::exception_ptr failure;
#pragma omp parallel for schedule(dynamic)
    for (int64_t i = 0; i < int64_t(budgets.size()); ++i) {
        try {
            allocations[size_t(i)] = solve_instance(instance, budgets[size_t(i)], params);
        } catch (...) {
#pragma omp critical(ca_budget_grid_failure)
            if (!failure) failure = std::current_exception();
        }
    }
    if (failure) std::rethrow_exception(failure);

    int unproven = 0, infeasible = 0;
    double largest_gap = 0.0;
    for (const ClusterAllocation& allocation : allocations) {
        infeasible += !allocation.feasible;
        unproven += allocation.feasible && !allocation.exact;
        largest_gap = std::max(largest_gap, allocation.duality_gap);
    }
    std::ostringstream summary;
    summary << "cluster solver: " << budgets.size() << " budgets, K=" << table.k
            << ", M=" << table.m << ", largest duality gap " << largest_gap << ", " << unproven
            << " not proven optimal, " << infeasible << " below the cheapest policy, "
            << wall_seconds() - start << " s";
    log_info(summary.str());
    return allocations;
}

}  // namespace ca
