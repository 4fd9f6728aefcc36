// The multiple-choice knapsack over clusters (pick one arm per cluster, maximise profit under a
// budget) and its LP relaxation. The LP is solved exactly by the greedy over the upper convex
// hull segments of every cluster (Sinha & Zoltners 1979): the dual lambda is the slope of the
// segment the budget runs out on, which is what a dual bisection converges to, found without a
// tolerance. The integer fix-up and the branch and bound (core/exact_mckp) build on this.
#pragma once

#include <optional>
#include <vector>

#include "core/cluster_estimates.h"

namespace ca {

// One step along a cluster's upper hull: moving the cluster from arm_low to arm_high buys
// profit_step for weight_step (both > 0); slope = profit_step / weight_step.
struct HullSegment {
    int cluster = 0;
    int arm_low = 0;
    int arm_high = 0;
    double weight_step = 0.0;
    double profit_step = 0.0;
    double slope = 0.0;
};

// The LP optimum puts at most one cluster on two arms: `fraction` of its users on arm_high,
// the rest on arm_low, so that the LP spends exactly the budget.
struct SplitCluster {
    int cluster = 0;
    int arm_low = 0;
    int arm_high = 0;
    double fraction = 0.0;
};

struct MckpInstance {
    int k = 0;  ///< K clusters
    int m = 0;  ///< M arms
    /// K x M weights n_k C_kj and profits n_k R_kj.
    std::vector<double> weight;
    std::vector<double> profit;
    /// K x M per-capita costs C_kj: they break ties between arms of equal weight and profit
    /// (clusters of population 0).
    std::vector<double> tie_cost;
    /// K: the arm each cluster starts from (least weight, then most profit, then cheapest
    /// per capita, then lowest index).
    std::vector<int> cheapest;
    /// K lists of the arms no other arm dominates (no more weight and at least the profit),
    /// by increasing weight; an optimum never needs any other arm.
    std::vector<std::vector<int>> frontier;
    /// Clusters with two or more frontier arms, the only ones a search can move.
    std::vector<int> open_clusters;
    /// Hull segments of all clusters, by decreasing slope (ties keep cluster order).
    std::vector<HullSegment> segments;
    /// Sum over clusters of the largest weight and of the largest |profit|; tolerances scale
    /// with them.
    double weight_scale = 0.0;
    double profit_scale = 0.0;

    double weight_at(int cluster, int arm) const { return weight[size_t(cluster) * m + arm]; }
    double profit_at(int cluster, int arm) const { return profit[size_t(cluster) * m + arm]; }
    /// Spend within this much of the budget counts as on budget (rounding of the sums).
    double budget_tolerance() const;
    /// Profit differences below this are ties.
    double profit_tolerance() const;
};

struct LpSolution {
    /// False when even the cheapest arms of the free clusters exceed the budget.
    bool feasible = false;
    /// K arms of the integral part; the split cluster sits on its arm_low.
    std::vector<int> arms;
    /// Profit and weight of `arms`.
    double value = 0.0;
    double cost = 0.0;
    /// LP optimum: value plus the split's share of its profit step.
    double bound = 0.0;
    /// Dual multiplier: the split segment's slope; inside the optimal interval when the budget
    /// ends exactly between segments; 0 when the budget does not bind.
    double lambda = 0.0;
    std::optional<SplitCluster> split;
};

/// The instance of a table: weights and profits scaled by the cluster populations. The table
/// must have been checked (finite, costs and populations >= 0).
MckpInstance make_mckp_instance(const ClusterTable& table);

/// The same instance with only the allowed arms (K x M flags, each cluster keeping at
/// least one): frontiers, cheapest arms and hull segments are rebuilt over them.
MckpInstance restrict_arms(const MckpInstance& instance, const std::vector<char>& allowed);

/// The LP relaxation. fixed is empty, or K entries where >= 0 pins that cluster's arm (the
/// branch and bound's nodes) and -1 leaves it free.
LpSolution solve_mckp_lp(const MckpInstance& instance, double budget,
                         const std::vector<int>& fixed = {});

/// Integer fix-up: spends what `arms` leave of the budget by repeatedly taking the single arm
/// change (of a free cluster) with the largest profit gain that still fits.
std::vector<int> fill_leftover_budget(const MckpInstance& instance, std::vector<int> arms,
                                      double budget, const std::vector<int>& fixed = {});

double policy_profit(const MckpInstance& instance, const std::vector<int>& arms);
double policy_weight(const MckpInstance& instance, const std::vector<int>& arms);

}  // namespace ca
