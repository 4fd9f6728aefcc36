// Exact multiple-choice knapsack over clusters by depth-first branch and bound: the LP
// relaxation bounds every node, the cluster the LP splits is branched on, and the rounded LP
// plus the greedy fix-up gives incumbents. Exact for real-valued costs (no cost grid).
#pragma once

#include <cstdint>
#include <vector>

#include "core/mckp_lp.h"

namespace ca {

struct ExactMckpResult {
    /// K arms of the best policy found.
    std::vector<int> arms;
    double value = 0.0;
    double cost = 0.0;
    /// True when the search finished, so `arms` is optimal (to the profit tolerance).
    bool proven = false;
    /// Nodes visited.
    int64_t nodes = 0;
};

/// Maximises profit under the budget. incumbent (K arms within the budget, or empty) seeds the
/// search. After node_limit nodes the search stops with a warning and proven = false.
ExactMckpResult solve_mckp_exact(const MckpInstance& instance, double budget,
                                 const std::vector<int>& incumbent, int64_t node_limit);

}  // namespace ca
