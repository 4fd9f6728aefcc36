// Budget lookup on the policy's grid (lower point, or the LP optimum in between), the user-id
// hash of the split cluster, and the encoder + student path of the server.
#include "core/policy_serving.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/distillation.h"
#include "core/errors.h"
#include "core/reference_policies.h"

namespace ca {

int arm_for_user(const ServedAllocation& allocation, int cluster, int64_t user_id) {
    const std::optional<SplitCluster>& cut = allocation.split;
    if (cut && cluster == cut->cluster)
        return hash_unit(uint64_t(user_id), kSplitHashSeed) < cut->fraction ? cut->arm_high
                                                                            : cut->arm_low;
    return allocation.arms[cluster];
}

ServedAllocation served_from(const ClusterAllocation& allocation, bool lp_split) {
    if (!lp_split) return {allocation.arms, std::nullopt};
    return {allocation.lp_arms, allocation.split};
}

bool budget_mode_from_name(const std::string& name, BudgetMode* mode) {
    if (name == "lower")
        *mode = BudgetMode::kLower;
    else if (name == "interpolate")
        *mode = BudgetMode::kInterpolate;
    else
        return false;
    return true;
}

void expected_outcome(const ServingPolicy& policy, const ServedAllocation& allocation, double* cost,
                      double* value) {
    const int m = policy.m();
    double total = policy.total_population();
    *cost = *value = 0.0;
    if (total <= 0) return;
    for (int c = 0; c < policy.k; ++c) {
        double share = policy.population[c] / total;
        auto add_arm = [&](int arm, double weight) {
            *cost += share * weight * policy.cost[size_t(c) * m + arm];
            *value += share * weight * policy.value[size_t(c) * m + arm];
        };
        const std::optional<SplitCluster>& cut = allocation.split;
        if (cut && cut->cluster == c) {
            add_arm(cut->arm_low, 1.0 - cut->fraction);
            add_arm(cut->arm_high, cut->fraction);
        } else {
            add_arm(allocation.arms[c], 1.0);
        }
    }
}

namespace {

ServedAllocation deployed_at(const ServingPolicy& policy, size_t level) {
    const PolicyBudget& entry = policy.budgets[level];
    if (policy.deploy == "lp_split") return {entry.lp_arms, entry.split};
    return {entry.arms, std::nullopt};
}

// The arm with the lowest expected cost per capita over the population (lowest index on ties).
ServedAllocation cheapest_arm_for_everyone(const ServingPolicy& policy, int* arm) {
    const int m = policy.m();
    std::vector<double> spend(m, 0.0);
    for (int c = 0; c < policy.k; ++c)
        for (int j = 0; j < m; ++j)
            spend[j] += policy.population[c] * policy.cost[size_t(c) * m + j];
    *arm = int(std::min_element(spend.begin(), spend.end()) - spend.begin());
    return {std::vector<int>(policy.k, *arm), std::nullopt};
}

// The LP optimum at an absolute budget over the policy's estimates: its one split cluster is
// what lets the expected spend meet a budget between grid points.
ServedAllocation lp_at(const ServingPolicy& policy, double budget) {
    ClusterTable table = ClusterTable::zeros(policy.k, policy.m());
    table.population = policy.population;
    table.value = policy.value;
    table.cost = policy.cost;
    MckpInstance instance = make_mckp_instance(table);
    LpSolution lp = solve_mckp_lp(instance, budget);
    if (!lp.feasible) return {instance.cheapest, std::nullopt};
    return {lp.arms, lp.split};
}

std::string grid_text(double value) {
    std::ostringstream out;
    out.precision(6);
    out << value;
    return out.str();
}

}  // namespace

BudgetLookup lookup_budget(const ServingPolicy& policy, double budget_per_capita, BudgetMode mode) {
    if (!std::isfinite(budget_per_capita) || budget_per_capita < 0)
        CA_THROW(InputError, "budget must be a finite number >= 0 (expected cost per user), got "
                                 << budget_per_capita);
    CA_ASSERT(!policy.budgets.empty());
    const double lowest = policy.budgets.front().budget_per_capita;
    const double highest = policy.budgets.back().budget_per_capita;
    // A budget printed with fewer digits than stored still reaches its grid level.
    const double tolerance = 1e-9 * std::max(highest, 1e-300);
    BudgetLookup lookup;
    double served_budget = budget_per_capita;

    if (budget_per_capita < lowest - tolerance) {
        int arm = 0;
        lookup.allocation = cheapest_arm_for_everyone(policy, &arm);
        lookup.position = GridPosition::kBelowGrid;
        lookup.warning = "budget " + grid_text(budget_per_capita) +
                         " per capita is below the policy's lowest grid budget " +
                         grid_text(lowest) + "; everyone gets the cheapest arm \"" +
                         policy.arm_names[arm] + "\"";
    } else {
        if (budget_per_capita > highest + tolerance) {
            lookup.position = GridPosition::kAboveGrid;
            lookup.warning = "budget " + grid_text(budget_per_capita) +
                             " per capita is above the policy's highest grid budget " +
                             grid_text(highest) + "; serving the top grid point";
            served_budget = highest;
        }
        if (mode == BudgetMode::kLower || lookup.position == GridPosition::kAboveGrid) {
            size_t level = 0;
            while (level + 1 < policy.budgets.size() &&
                   policy.budgets[level + 1].budget_per_capita <= served_budget + tolerance)
                ++level;
            lookup.level = int(level);
        }
        if (mode == BudgetMode::kLower)
            lookup.allocation = deployed_at(policy, size_t(lookup.level));
        else
            lookup.allocation = lp_at(policy, served_budget * policy.total_population());
    }
    expected_outcome(policy, lookup.allocation, &lookup.expected_cost, &lookup.expected_value);
    return lookup;
}

namespace {
FeatureEncoder imputing_encoder(const FeatureEncoder& fitted) {
    nlohmann::json settings = fitted.to_json();
    settings["missing"] = "impute_mean";
    return FeatureEncoder::from_json(settings);
}
}  // namespace

PolicyServer::PolicyServer(ServingPolicy policy)
    : policy_(std::move(policy)), encoder_(imputing_encoder(policy_.encoder)) {}

void PolicyServer::encode_row(const std::vector<std::string>& raw, float* out) const {
    encoder_.encode_row(raw, out);
}

void PolicyServer::predict_clusters(const float* x, int64_t n, Backend& backend,
                                    int32_t* clusters) {
    const Mlp& student = policy_.student;
    const int64_t block = MlpLayout::kInferenceBlockRows;
    logits_.resize(size_t(std::min(n, block)) * policy_.k);
    for (int64_t start = 0; start < n; start += block) {
        const int64_t rows = std::min(block, n - start);
        student.infer(x + start * student.input_width(), rows, backend, logits_.data());
        argmax_rows(logits_.data(), rows, policy_.k, clusters + start);
    }
}

}  // namespace ca
