// Serving a policy: raw row -> encoded features -> student -> cluster -> allocation at today's
// budget -> treatment. Budgets given to serving are per capita (expected cost per served user,
// in the cost units of the training data), because a served file can hold any number of users.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/cluster_solver.h"
#include "core/feature_encoder.h"
#include "core/mckp_lp.h"
#include "core/policy_file.h"
#include "kernels/backend.h"

namespace ca {

/// Salt of the user-id hash that divides a split cluster between its two arms; HRC's lp_split
/// deployment uses the same value, so served and evaluated splits put the same users high.
constexpr uint64_t kSplitHashSeed = 0x5EED5A17ull;

// Which arms the users of each cluster get at one budget.
struct ServedAllocation {
    std::vector<int> arms;              ///< K arms (the split cluster's users default to arm_low)
    std::optional<SplitCluster> split;  ///< its users with hash < fraction get arm_high
};

/// arms[cluster], or for the split cluster arm_high when hash_unit(user_id) < fraction.
int arm_for_user(const ServedAllocation& allocation, int cluster, int64_t user_id);

/// What HRC deploys for a solved budget: the integer arms, or (lp_split) the LP's arms and
/// split cluster.
ServedAllocation served_from(const ClusterAllocation& allocation, bool lp_split);

enum class BudgetMode {
    kLower,       ///< the nearest grid point at or below the budget, as deployed there
    kInterpolate  ///< the LP optimum at the budget itself: one cluster split by user-id hash
};
/// "lower" or "interpolate"; false for anything else.
bool budget_mode_from_name(const std::string& name, BudgetMode* mode);

// Where a requested budget fell relative to the policy's grid.
enum class GridPosition { kInside, kBelowGrid, kAboveGrid };

struct BudgetLookup {
    ServedAllocation allocation;
    GridPosition position = GridPosition::kInside;
    int level = -1;  ///< grid level served (lower mode, or clamped to the top); -1 otherwise
    /// Expected cost and value per capita under the policy's population and estimates.
    double expected_cost = 0.0;
    double expected_value = 0.0;
    /// Non-empty when the budget was outside the grid: what was served instead, and why.
    std::string warning;
};

/// The allocation for a per-capita budget. Within the grid: "lower" serves the grid point at
/// or below it (within a relative 1e-9, so a printed grid budget hits its level); "interpolate"
/// serves the LP optimum at budget x sum_k n_k, whose split cluster makes the expected spend
/// equal the budget (or less, where spending more would lose value). Below the lowest grid
/// point everyone gets the cheapest arm (lowest expected cost per capita); above the highest,
/// the top grid point is served; both with a warning. InputError for a negative or non-finite
/// budget.
BudgetLookup lookup_budget(const ServingPolicy& policy, double budget_per_capita, BudgetMode mode);

/// Expected cost and value per capita of an allocation under the population's cluster shares.
void expected_outcome(const ServingPolicy& policy, const ServedAllocation& allocation, double* cost,
                      double* value);

// The student and encoder of one policy, ready to serve rows. Not thread-safe (one scratch).
class PolicyServer {
  public:
    explicit PolicyServer(ServingPolicy policy);

    const ServingPolicy& policy() const { return policy_; }
    /// Encoded width D.
    int width() const { return encoder_.width(); }
    /// Encodes one raw row (strings in policy().input_columns() order) as training did, except
    /// that missing cells always take the training mean (0 after standardisation) and unknown
    /// or missing categories the all-zero one-hot row (ordinal: below every known level).
    /// Throws InputError naming the column for unparsable numbers or non-0/1 binary values.
    void encode_row(const std::vector<std::string>& raw, float* out) const;
    /// Clusters of n encoded rows (n x D), by blocks of the student's inference size.
    void predict_clusters(const float* x, int64_t n, Backend& backend, int32_t* clusters);

  private:
    ServingPolicy policy_;
    FeatureEncoder encoder_;  ///< the policy's encoder, imputing missing cells
    std::vector<float> logits_;
};

}  // namespace ca
