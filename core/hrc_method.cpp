// HRC fit (representation -> k-means -> estimates) and allocation over the prepared rows.
#include "core/hrc_method.h"

#include <algorithm>

#include "core/errors.h"
#include "core/log.h"
#include "core/multitask_network.h"
#include "core/policy_serving.h"
#include "core/reference_policies.h"

namespace ca {

namespace {

std::vector<float> hidden_of(const MultiTaskNetwork& network, const Dataset& rows,
                             Backend& backend) {
    std::vector<float> z(size_t(rows.n) * network.hidden_width());
    network.hidden(rows.x.data(), rows.n, backend, z.data());
    return z;
}
}  // namespace

HrcParams HrcParams::from_config(const ConfigNode& root) {
    HrcParams params;
    params.kmeans = KMeansParams::from_config(root.child("kmeans"));
    params.estimates = EstimateParams::from_config(root.child("estimates"));
    params.solver = ClusterSolverParams::from_config(root.child("solver"));
    ConfigNode hrc = root.child("hrc");
    hrc.allow_only({"deploy"});
    params.deploy = hrc.choice("deploy", params.deploy, {"integer", "lp_split"});
    return params;
}

nlohmann::json HrcParams::to_json() const {
    return {{"kmeans", kmeans.to_json()},
            {"estimates", estimates.to_json()},
            {"solver", solver.to_json()},
            {"hrc", {{"deploy", deploy}}}};
}

void HrcMethod::fit(MethodContext& context) {
    network_ = &context.shared_network();
    std::vector<float> z = hidden_of(*network_, context.train, context.backend);

    KMeansParams kmeans = params_.kmeans;
    kmeans.seed = params_.kmeans.seed + context.seed;
    clustering_ = kmeans_fit(z.data(), context.train.n, network_->hidden_width(), kmeans,
                             context.backend, *context.communicator);

    // Estimates come from the RCT training rows; prepare() swaps in the population to allocate.
    std::vector<double> train_population(clustering_.k_effective, 0.0);
    for (int32_t label : clustering_.labels) train_population[label] += 1.0;
    table_ = estimate_clusters(context.train, clustering_.labels.data(), clustering_.k_effective,
                               train_population, params_.estimates, *context.communicator);
}

void HrcMethod::prepare(const Dataset& rows, Backend& backend) {
    CA_ASSERT_MSG(network_ != nullptr, "prepare() before fit()");
    std::vector<float> z = hidden_of(*network_, rows, backend);
    labels_ = kmeans_assign(z.data(), rows.n, network_->hidden_width(),
                            clustering_.centroids.data(), clustering_.k_effective, backend);
    std::fill(table_.population.begin(), table_.population.end(), 0.0);
    for (int32_t label : labels_) table_.population[label] += 1.0;
    user_ids_ = rows.user_id;
    if (user_ids_.empty()) {
        user_ids_.resize(rows.n);
        for (int64_t i = 0; i < rows.n; ++i) user_ids_[i] = i;
    }
    max_cost_ = costliest_policy_cost(table_);
}

KnobRange HrcMethod::knob_range() const {
    return {0.0, max_cost_, KnobDirection::kCostIncreases};
}

ClusterAllocation HrcMethod::allocate(double budget) const {
    return solve_cluster_allocation(table_, std::max(budget, 0.0), params_.solver);
}

void HrcMethod::choose(double knob, std::vector<int32_t>& choice) const {
    // The same lookup serving uses, so an offline evaluation and `assign` agree user by user.
    ServedAllocation served = served_from(allocate(knob), params_.deploy == "lp_split");
    choice.resize(labels_.size());
    for (size_t i = 0; i < labels_.size(); ++i)
        choice[i] = arm_for_user(served, labels_[i], user_ids_[i]);
}

std::vector<double> HrcMethod::treatment_scores() const {
    if (table_.m != 2) return {};
    // Every user of a cluster shares its estimated return on cost: ties are whole clusters.
    std::vector<double> cluster_score(table_.k);
    for (int k = 0; k < table_.k; ++k) {
        double extra_value = table_.value[table_.index(k, 1)] - table_.value[table_.index(k, 0)];
        double extra_cost = table_.cost[table_.index(k, 1)] - table_.cost[table_.index(k, 0)];
        cluster_score[k] = extra_cost > 1e-12 ? extra_value / extra_cost : extra_value * 1e12;
    }
    std::vector<double> scores(labels_.size());
    for (size_t i = 0; i < labels_.size(); ++i) scores[i] = cluster_score[labels_[i]];
    return scores;
}

nlohmann::json HrcMethod::diagnostics() const {
    int64_t filled = 0, thin = 0;
    for (int k = 0; k < table_.k; ++k) {
        for (int j = 0; j < table_.m; ++j) {
            filled += table_.filled[table_.index(k, j)] ? 1 : 0;
            thin += table_.count[table_.index(k, j)] < kThinCellRows ? 1 : 0;
        }
    }
    BudgetGrid grid = make_budget_grid(params_.solver.budgets, table_);
    std::vector<ClusterAllocation> solved = solve_budget_grid(table_, grid.budgets, params_.solver);
    nlohmann::json gaps = nlohmann::json::array();
    for (const auto& allocation : solved) {
        gaps.push_back({{"budget", allocation.budget},
                        {"value", allocation.value},
                        {"lp_bound", allocation.lp_bound},
                        {"duality_gap", allocation.duality_gap},
                        {"lambda", allocation.lambda},
                        {"exact", allocation.exact}});
    }
    return {{"k_requested", params_.kmeans.k},
            {"k_effective", clustering_.k_effective},
            {"kmeans_iterations", clustering_.iterations},
            {"kmeans_inertia", clustering_.inertia},
            {"kmeans_reseeded", clustering_.reseeded},
            {"cells_filled_from_arm_mean", filled},
            {"cells_under_" + std::to_string(kThinCellRows) + "_rows", thin},
            {"budget_grid", gaps}};
}

}  // namespace ca
